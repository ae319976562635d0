"""The project's configuration file: YAML sections validated with pydantic.

A config file is a mapping of sections; each section belongs to one layer::

    scenario:   model.md §7 (dyncontract.model.scenario.ScenarioConfig)
    env:        the learning environment (dyncontract.env.distribution.EnvConfig)
    framework:  the agent-construction simulator (dyncontract.framework.config.FrameworkConfig)
    rl:         (E)DMSAC and its trainer (dyncontract.rl.config.RLConfig)

Later layers add their sections here. Unknown sections and keys are errors. ``--set
section.key=value`` overrides are applied before validation (values are parsed as YAML, so
``--set scenario.theta=[1,2,3]`` works). Every problem is reported as :class:`ConfigError`
with a one-line message that names the field.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from dyncontract.env.distribution import EnvConfig
from dyncontract.framework.config import FrameworkConfig
from dyncontract.model.scenario import Scenario, ScenarioConfig
from dyncontract.rl.config import RLConfig


class ConfigError(ValueError):
    """Invalid configuration input; ``str(err)`` is one line naming the field."""


class DyncontractConfig(BaseModel):
    """Root of a config file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scenario: ScenarioConfig = ScenarioConfig()
    env: EnvConfig = EnvConfig()
    framework: FrameworkConfig = FrameworkConfig()
    rl: RLConfig = RLConfig()

    def scenario_obj(self) -> Scenario:
        return self.scenario.to_scenario()


#: Keys that exclude each other inside a section: setting one by --set drops the other.
_EXCLUSIVE = {("scenario", "persistence"): "transition", ("scenario", "transition"): "persistence"}


def format_validation_error(err: ValidationError, prefix: str = "") -> str:
    """The first error of a pydantic ValidationError as ``field.path: message``."""
    e = err.errors()[0]
    loc = ".".join(str(x) for x in e["loc"] if not str(x).startswith("function-"))
    msg = e["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if e["type"] == "extra_forbidden":
        msg = "unknown key (not allowed here)"
    elif e["type"] in ("finite_number",):
        msg = "must be a finite number (NaN and inf are not allowed)"
    # model-level validators report "field: message"; prepend the section's path
    head, _, rest = msg.partition(": ")
    if e["type"] == "value_error" and rest and " " not in head:
        loc, msg = (f"{loc}.{head}" if loc else head), rest
    if prefix:
        loc = f"{prefix}{loc}"
    if e["type"] != "extra_forbidden" and "input" in e and e["type"].endswith("_type"):
        msg = f"{msg} (got {e['input']!r})"
    return f"{loc}: {msg}" if loc else msg


def parse_overrides(overrides: list[str] | None) -> list[tuple[list[str], Any]]:
    out = []
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"--set: expected section.key=value, got {item!r}")
        key, raw = item.split("=", 1)
        path = [p for p in key.strip().split(".") if p]
        if len(path) < 2:
            raise ConfigError(f"--set: key must be section.key, got {key!r}")
        try:
            val = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            raise ConfigError(f"{key}: cannot parse value {raw!r}") from None
        out.append((path, val))
    return out


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"config: no such file: {p}")
    if p.is_dir():
        raise ConfigError(f"config: {p} is a directory, not a YAML file")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config: {p} is not valid YAML{where}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config: cannot read {p} ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config: {p} must be a mapping of sections (scenario: ...)")
    return data


def build_config(data: dict[str, Any], overrides: list[str] | None = None) -> DyncontractConfig:
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    for path, val in parse_overrides(overrides):
        node = data
        for part in path[:-1]:
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            if not isinstance(nxt, dict):
                raise ConfigError(f"{'.'.join(path)}: {part} is not a section")
            node = nxt
        node[path[-1]] = val
        other = _EXCLUSIVE.get(tuple(path))  # type: ignore[arg-type]
        if other is not None:
            node.pop(other, None)
    for section, body in data.items():
        if body is not None and not isinstance(body, dict):
            raise ConfigError(f"{section}: must be a mapping of keys, got {type(body).__name__}")
    try:
        return DyncontractConfig(**{k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None
    except TypeError as exc:  # e.g. a non-string key
        raise ConfigError(f"config: {exc}") from None


def load_config(
    path: str | os.PathLike | None, overrides: list[str] | None = None
) -> DyncontractConfig:
    """Read, override and validate a config (``path=None``: the built-in defaults)."""
    data = read_yaml(path) if path is not None else {}
    return build_config(data, overrides)


def dump_config(cfg: DyncontractConfig) -> str:
    """The resolved config as YAML (what a run actually used)."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)

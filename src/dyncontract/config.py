"""The project's configuration file: YAML sections validated with pydantic.

A config file is a mapping of sections; each section belongs to one layer::

    scenario:   model.md §7 (dyncontract.model.scenario.ScenarioConfig)
    env:        the learning environment (dyncontract.env.distribution.EnvConfig)
    framework:  the agent-construction simulator (dyncontract.framework.config.FrameworkConfig)
    construction: real federated construction on Flower
                (dyncontract.framework.construction.config.ConstructionConfig)
    rl:         (E)DMSAC and its trainer (dyncontract.rl.config.RLConfig)
    logging:    optional outputs (LoggingConfig: TensorBoard folder of `train`)

Unknown sections and keys are errors. Overrides travel as nested dicts, deep-merged into the
file's sections before validation; the CLI turns ``--set section.key=value`` strings into
such a dict once, at its edge (:func:`parse_set`; values are parsed as YAML, so
``--set scenario.theta=[1,2,3]`` works). Every problem is reported as :class:`ConfigError`
with a one-line message that names the field.

This module sits above the layers whose sections it assembles (model, env, framework, rl);
nothing below it imports it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dyncontract.env.distribution import EnvConfig
from dyncontract.framework.config import FrameworkConfig
from dyncontract.framework.construction.config import ConstructionConfig
from dyncontract.model.scenario import Scenario, ScenarioConfig
from dyncontract.rl.config import RLConfig


class ConfigError(ValueError):
    """Invalid configuration input; ``str(err)`` is one line naming the field."""


class LoggingConfig(BaseModel):
    """The ``logging:`` section: optional outputs besides metrics.csv."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: folder for TensorBoard event files of `train` (null: none); ``--tensorboard`` sets it
    tensorboard: Annotated[str, Field(min_length=1)] | None = None


class DyncontractConfig(BaseModel):
    """Root of a config file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scenario: ScenarioConfig = ScenarioConfig()
    env: EnvConfig = EnvConfig()
    framework: FrameworkConfig = FrameworkConfig()
    construction: ConstructionConfig = ConstructionConfig()
    rl: RLConfig = RLConfig()
    logging: LoggingConfig = LoggingConfig()

    def scenario_obj(self) -> Scenario:
        return self.scenario.to_scenario()


#: Keys that exclude each other inside a section: setting one drops the other.
_EXCLUSIVE = {"persistence": "transition", "transition": "persistence"}


#: pydantic's bound errors, in the project's words ("must be > 0, got -1")
_BOUND_ERRORS = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", ">="),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "<="),
}


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
    if e["type"] in _BOUND_ERRORS:
        key, op = _BOUND_ERRORS[e["type"]]
        msg = f"must be {op} {e.get('ctx', {}).get(key)}, got {e.get('input')!r}"
    elif e["type"] != "extra_forbidden" and "input" in e and e["type"].endswith("_type"):
        msg = f"{msg} (got {e['input']!r})"
    return f"{loc}: {msg}" if loc else msg


def parse_set(items: list[str] | None) -> dict[str, Any]:
    """``--set section.key=value`` strings -> a nested dict (values parsed as YAML).

    This is the only place where settings exist as text: the CLI calls it once, at its edge;
    everything below passes nested dicts and typed config objects.
    """
    out: dict[str, Any] = {}
    for item in items or []:
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
        node = out
        for part in path[:-1]:
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"{key}: {part} is set to a value, not a section")
            node = nxt
        node[path[-1]] = val
    return out


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"rl.algo": "dmsac", "env": {...}}`` -> nested dicts (dotted keys split)."""
    out: dict[str, Any] = {}
    for key, val in flat.items():
        *head, last = str(key).split(".")
        node = out
        for part in head:
            node = node.setdefault(part, {})
        node[last] = merge(node[last], val) if isinstance(node.get(last), dict) else val
    return out


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge: mappings merge key by key, anything else in ``override`` replaces.

    Keys that exclude each other (``scenario.persistence`` / ``scenario.transition``): setting
    one drops the other from ``base``.
    """
    out = dict(base)
    for key, val in override.items():
        if isinstance(val, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], val)
        else:
            out[key] = dict(val) if isinstance(val, Mapping) else val
        other = _EXCLUSIVE.get(key)
        if other is not None and other not in override:
            out.pop(other, None)
    return out


def build_config(
    data: Mapping[str, Any] | None = None, overrides: Mapping[str, Any] | None = None
) -> DyncontractConfig:
    """Validate a config: ``data`` (a file's sections) deep-merged with nested ``overrides``."""
    merged = merge(data or {}, overrides or {})
    for section, body in merged.items():
        if body is not None and not isinstance(body, dict):
            raise ConfigError(f"{section}: must be a mapping of keys, got {type(body).__name__}")
    try:
        return DyncontractConfig(**{k: v for k, v in merged.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None
    except TypeError as exc:  # e.g. a non-string key
        raise ConfigError(f"config: {exc}") from None


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


def load_config(
    path: str | os.PathLike | None, overrides: Mapping[str, Any] | None = None
) -> DyncontractConfig:
    """Read a config file (``None``: the built-in defaults), merge ``overrides``, validate."""
    data = read_yaml(path) if path is not None else {}
    return build_config(data, overrides)


def dump_config(cfg: DyncontractConfig) -> str:
    """The resolved config as YAML (what a run actually used)."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)

"""Experiment specifications (YAML under ``configs/experiments/``) and their task lists.

A spec names the methods, seeds and budgets of one experiment, plus the scenario grids of
figure F3 and the ablations of figure F4. It expands into independent :class:`Task` s, each
writing ``OUT/<experiment>/<group>/<seed>/`` (group = the method name for the main
comparison, ``ablation-<param>-<value>`` or ``f3-<param>-<value>`` otherwise).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, field_validator

from dyncontract.config import (
    ConfigError,
    DyncontractConfig,
    build_config,
    format_validation_error,
    merge,
    nest,
)
from dyncontract.experiments.construction import ConstructExperiment
from dyncontract.experiments.methods import METHODS
from dyncontract.rl.budget import Budget


def _known_method(name: str) -> str:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r} (have {', '.join(METHODS)})")
    return name


#: Method names, exactly as they appear in summaries (the registry's order).
ALL_METHODS = tuple(METHODS)
Method = Annotated[str, AfterValidator(_known_method)]

PRESETS_DIR = Path(__file__).resolve().parents[3] / "configs" / "experiments"


class F3Grid(BaseModel):
    """Figure F3: CS profit vs a scenario parameter (exact dynamic, EDMSAC, static, first best).

    ``K`` / ``discount`` change what the policy was trained on, so EDMSAC points there need a
    training run per value (``train_per_value``); ``persistence`` / ``energy_price`` lie in
    the training distribution and are evaluated with the main EDMSAC policy.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    K: list[int] = [2, 3, 4, 5, 6, 8]
    persistence: list[float] = [0.3, 0.5, 0.7, 0.9]
    energy_price: list[float] = [0.03, 0.05, 0.065, 0.08]
    discount: list[float] = [0.0, 0.3, 0.6, 0.9, 1.0]
    train_per_value: bool = False
    budget: Budget | None = None  # for the per-value runs (default: the main learner budget)

    @field_validator("K")
    @classmethod
    def _k(cls, v: list[int]) -> list[int]:
        if any(k < 2 for k in v):
            raise ValueError("every K must be >= 2")
        return v


class Ablations(BaseModel):
    """Figure F4: final optimality of EDMSAC vs pruning target and vs denoising steps."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    prune_target: list[float] = [0.0, 0.3, 0.5, 0.7, 0.9]
    diffusion_steps: list[int] = [1, 2, 5, 10]
    seeds: list[int] = [0]
    budget: Budget | None = None  # default: the main learner budget


class ExperimentSpec(BaseModel):
    """One experiment: methods x seeds on the default scenario distribution, + F3, F4."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    name: str
    description: str = ""
    methods: list[Method] = list(ALL_METHODS)
    seeds: list[int] = [0, 1, 2]
    budget: Budget = Budget(steps=200_000, max_minutes=3.0)
    #: overrides of the project config for every run: nested sections, or "section.key" keys
    config: dict[str, Any] = {}
    #: options per method (SB3: constructor arguments), e.g. ``sb3: {ppo: {n_steps: 1024}}``
    sb3: dict[str, dict[str, Any]] = {}
    held_out_states: int = 256
    f3: F3Grid = F3Grid()
    ablations: Ablations = Ablations()
    #: states used to time denoising (figure F5)
    latency_states: int = 1024
    #: real federated construction: quality vs workload and contracts judged by the agents
    #: they buy (:mod:`dyncontract.experiments.construction`); null = none
    construction: ConstructExperiment | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v or not all(ch.isalnum() or ch in "-_" for ch in v):
            raise ValueError(f"must be letters, digits, '-' or '_', got {v!r}")
        return v

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int]) -> list[int]:
        if not v:
            raise ValueError("give at least one seed")
        if len(set(v)) != len(v):
            raise ValueError("seeds must be distinct")
        return v

    def options(self, method: str) -> dict[str, Any]:
        """The method's own options (``sb3:`` section of the spec)."""
        return dict(self.sb3.get(method, {}))

    def base_overrides(self) -> dict[str, Any]:
        """The nested config overrides every run of this experiment starts from."""
        return merge(nest(self.config), {"env": {"held_out_states": self.held_out_states}})

    def base_config(self) -> DyncontractConfig:
        """The project config of the main comparison (scenario, env, rl sections)."""
        return build_config({}, self.base_overrides())


def load_spec(path_or_preset: str | os.PathLike) -> ExperimentSpec:
    """A spec from a YAML path, or a preset name (smoke, quick, paper)."""
    p = Path(path_or_preset)
    if not p.suffix and not p.exists():
        p = PRESETS_DIR / f"{path_or_preset}.yaml"
        if not p.exists():
            names = sorted(x.stem for x in PRESETS_DIR.glob("*.yaml"))
            raise ConfigError(f"--preset: unknown preset {str(path_or_preset)!r} (have {names})")
    if not p.exists():
        raise ConfigError(f"--spec: no such file: {p}")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError:
        raise ConfigError(f"--spec: {p} is not valid YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--spec: {p} must be a mapping")
    try:
        return ExperimentSpec(**data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, prefix="experiment.")) from None


@dataclass(frozen=True)
class Task:
    """One independent run: a method, a seed, nested config overrides and a budget."""

    experiment: str
    group: str  # directory name under the experiment: method or ablation/f3 label
    method: str
    seed: int
    config: dict[str, Any] = field(default_factory=dict)
    budget: Budget = Budget(steps=1)
    kind: Literal["main", "ablation", "f3"] = "main"
    meta: tuple[tuple[str, Any], ...] = ()

    def run_dir(self, out: str | os.PathLike) -> Path:
        return Path(out) / self.experiment / self.group / str(self.seed)

    @property
    def label(self) -> str:
        return f"{self.group}/{self.seed}"


def expand(spec: ExperimentSpec) -> list[Task]:
    """All tasks of a spec, cheapest first within each kind (so partial results come early)."""
    base = spec.base_overrides()
    tasks: list[Task] = []
    cheap_first = sorted(
        spec.methods, key=lambda m: (not METHODS[m].seedless, -ALL_METHODS.index(m))
    )
    for m in cheap_first:
        seeds = [spec.seeds[0]] if METHODS[m].seedless else spec.seeds
        tasks += [Task(spec.name, m, m, s, base, spec.budget) for s in seeds]
    if "edmsac" not in spec.methods:
        return tasks
    ab = spec.ablations
    for param, values in (
        ("prune_target", ab.prune_target),
        ("diffusion_steps", ab.diffusion_steps),
    ):
        for v in values:
            tasks += [
                Task(
                    spec.name,
                    f"ablation-{param}-{v:g}",
                    "edmsac",
                    s,
                    merge(base, {"rl": {param: v}}),
                    ab.budget or spec.budget,
                    "ablation",
                    (("param", param), ("value", v)),
                )
                for s in ab.seeds
            ]
    f3 = spec.f3
    if f3.train_per_value:
        points: list[tuple[str, float, dict[str, Any]]] = [
            ("K", K, {"theta": [round(1.0 + 2.0 * j / (K - 1), 6) for j in range(K)]}) for K in f3.K
        ]
        points += [("discount", d, {"discount": d}) for d in f3.discount]
        for param, v, scenario in points:
            tasks.append(
                Task(
                    spec.name,
                    f"f3-{param}-{v:g}",
                    "edmsac",
                    spec.seeds[0],
                    merge(base, {"scenario": scenario}),
                    f3.budget or spec.budget,
                    "f3",
                    (("param", param), ("value", v)),
                )
            )
    return tasks

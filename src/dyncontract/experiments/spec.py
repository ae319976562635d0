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
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from dyncontract.config import (
    ConfigError,
    DyncontractConfig,
    build_config,
    format_validation_error,
)

#: Method names, exactly as they appear in summaries.
LEARNERS = ("edmsac", "dmsac")
SB3_ALGOS = ("sac", "td3", "ppo")
BASELINES = ("random", "greedy")
EXACT = ("static", "complete_info", "exact_dynamic")
ALL_METHODS = LEARNERS + SB3_ALGOS + BASELINES + EXACT
#: methods whose result does not depend on the seed (run once, as seed 0)
SEEDLESS = ("greedy",) + EXACT

Method = Literal[
    "edmsac",
    "dmsac",
    "sac",
    "td3",
    "ppo",
    "random",
    "greedy",
    "static",
    "complete_info",
    "exact_dynamic",
]

PRESETS_DIR = Path(__file__).resolve().parents[3] / "configs" / "experiments"


class Budget(BaseModel):
    """Per-run budget: environment samples and/or wall minutes (whichever ends first)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    steps: int | None = None
    max_minutes: float | None = None
    eval_every_steps: int = 10_000

    @model_validator(mode="after")
    def _some(self) -> Budget:
        if self.steps is None and self.max_minutes is None:
            raise ValueError("steps: give steps, max_minutes or both")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps: must be >= 1, got {self.steps}")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ValueError(f"max_minutes: must be > 0, got {self.max_minutes}")
        if self.eval_every_steps < 1:
            raise ValueError(f"eval_every_steps: must be >= 1, got {self.eval_every_steps}")
        return self


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
    #: overrides of the project config for every run ("section.key": value)
    config: dict[str, Any] = {}
    #: SB3 hyper-parameters per algorithm (passed to the constructor)
    sb3: dict[str, dict[str, Any]] = {}
    held_out_states: int = 256
    f3: F3Grid = F3Grid()
    ablations: Ablations = Ablations()
    #: states used to time denoising (figure F5)
    latency_states: int = 1024

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

    def base_overrides(self) -> tuple[str, ...]:
        """The overrides every run of this experiment starts from."""
        return tuple(self.overrides()) + (f"env.held_out_states={self.held_out_states}",)

    def base_config(self) -> DyncontractConfig:
        """The project config of the main comparison (scenario, env, rl sections)."""
        return build_config({}, list(self.base_overrides()))

    def overrides(self) -> list[str]:
        """``config`` as ``--set`` strings."""
        return [
            f"{k}={yaml.safe_dump(v, default_flow_style=True).strip()}"
            for k, v in self.config.items()
        ]


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
    """One independent run. ``params`` holds extra config overrides (ablations, F3)."""

    experiment: str
    group: str  # directory name under the experiment: method or ablation/f3 label
    method: str
    seed: int
    overrides: tuple[str, ...] = ()
    budget: dict[str, Any] = field(default_factory=dict)
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
    budget = spec.budget.model_dump()
    tasks: list[Task] = []
    order = {m: i for i, m in enumerate(EXACT + BASELINES + SB3_ALGOS + LEARNERS)}
    for m in sorted(spec.methods, key=lambda m: order[m]):
        seeds = [spec.seeds[0]] if m in SEEDLESS else spec.seeds
        tasks += [Task(spec.name, m, m, s, base, budget) for s in seeds]
    ab = spec.ablations
    ab_budget = (ab.budget or spec.budget).model_dump()
    if "edmsac" in spec.methods:
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
                        base + (f"rl.{param}={v}",),
                        ab_budget,
                        "ablation",
                        (("param", param), ("value", v)),
                    )
                    for s in ab.seeds
                ]
    f3 = spec.f3
    if f3.train_per_value and "edmsac" in spec.methods:
        f3_budget = (f3.budget or spec.budget).model_dump()
        for K in f3.K:
            theta = [round(1.0 + 2.0 * j / (K - 1), 6) for j in range(K)]
            tasks.append(
                Task(
                    spec.name,
                    f"f3-K-{K}",
                    "edmsac",
                    spec.seeds[0],
                    base + (f"scenario.theta={theta}",),
                    f3_budget,
                    "f3",
                    (("param", "K"), ("value", K)),
                )
            )
        for d in f3.discount:
            tasks.append(
                Task(
                    spec.name,
                    f"f3-discount-{d:g}",
                    "edmsac",
                    spec.seeds[0],
                    base + (f"scenario.discount={d}",),
                    f3_budget,
                    "f3",
                    (("param", "discount"), ("value", d)),
                )
            )
    return tasks

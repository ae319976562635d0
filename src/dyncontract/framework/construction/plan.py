"""What the CS runs on Flower: every ES's training steps, round by round (a ``Job``).

The market (types, picks, payments) is decided before Flower starts
(:mod:`dyncontract.framework.construction.construct`); the job only carries the work: for each
period, each ES's contracted steps spread evenly over the period's rounds (the first rounds
take the remainder), which modules it trains, and any injected faults. A job is plain JSON,
so the same ServerApp can read it from a file on Flower's deployment runtime.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from dyncontract.framework.construction.config import ConstructionConfig, FaultSpec

_FROZEN = ConfigDict(extra="forbid", frozen=True)


class Job(BaseModel):
    """The federated construction the CS runs (see the module docstring)."""

    model_config = _FROZEN

    config: ConstructionConfig
    n_es: Annotated[int, Field(ge=1)]
    #: steps[p][r][e]: training steps of ES e in round r + 1 of period p + 1
    steps: list[list[list[int]]]
    #: modules[e]: the modules ES e trains
    modules: list[list[str]]
    #: seconds to wait for all ESs to connect, and for one round's replies
    connect_timeout_s: float = 300.0
    round_timeout_s: float = 3600.0

    def fault(self, es: int, period: int, round_: int) -> str:
        for f in self.config.faults:
            if f.es == es and f.period == period and f.round == round_:
                return f.mode
        return "none"


def spread(total: int, rounds: int) -> list[int]:
    """``total`` steps over ``rounds`` rounds as evenly as possible (earlier rounds first)."""
    base, extra = divmod(int(total), int(rounds))
    return [base + (1 if r < extra else 0) for r in range(int(rounds))]


def make_job(
    cfg: ConstructionConfig, steps_by_period: list[list[int]], modules: list[list[str]]
) -> Job:
    """A job from each period's per-ES contracted steps (``steps_by_period[p][e]``)."""
    n = len(modules)
    rounds = cfg.rounds_per_period
    steps = []
    for per_es in steps_by_period:
        if len(per_es) != n:
            raise ValueError(f"steps: {len(per_es)} ESs, modules: {n}")
        by_es = [spread(s, rounds) for s in per_es]
        steps.append([[by_es[e][r] for e in range(n)] for r in range(rounds)])
    for f in cfg.faults:
        if f.es >= n:
            raise ValueError(f"faults: ES {f.es} does not exist (n_es = {n})")
        if f.round > rounds:
            raise ValueError(f"faults: round {f.round} > rounds_per_period = {rounds}")
    return Job(config=cfg, n_es=n, steps=steps, modules=modules)


__all__ = ["FaultSpec", "Job", "make_job", "spread"]

"""What every method of an experiment is: a name, a ``run(ctx, seed, budget) -> rows``
function and a few flags. Rows are metrics rows (``step``, ``wall_s``, ``samples``,
``updates`` and the evaluator's metrics on the **validation** states: learning curves); a
method ends by scoring its final policy on the **test** states with ``ctx.finish`` — those
are the numbers of the final tables."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from dyncontract.config import DyncontractConfig
from dyncontract.experiments.composition import ContractSetting, contract_setting
from dyncontract.rl.budget import Budget


@dataclass
class MethodContext:
    """Everything a method run gets: the resolved config, its run directory, the experiment's
    cache of held-out optima, the method's own options (e.g. SB3 constructor arguments) and a
    place for extra final results (``extras``, merged into eval.json)."""

    cfg: DyncontractConfig
    run_dir: Path
    cache_dir: Path | None = None
    options: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    #: the final scores on the test states (set by :meth:`finish`)
    final: dict[str, Any] = field(default_factory=dict)
    #: every metrics row also scores the test states (``test_<metric>`` columns: the
    #: sample-efficiency curves of the model-free benchmark; nothing selects on them)
    test_curve: bool = False

    @cached_property
    def setting(self) -> ContractSetting:
        """The contract env, validation states and evaluator: learning curves, selection."""
        return contract_setting(self.cfg, "cpu", self.cache_dir)

    @cached_property
    def test(self) -> ContractSetting:
        """The same env on the test states: the final tables only."""
        return contract_setting(self.cfg, "cpu", self.cache_dir, split="test")

    def curve_metrics(self, policy: Any) -> dict[str, Any]:
        """A metrics row's scores: the validation evaluator's, plus ``test_<metric>`` of the
        single action on the test states when :attr:`test_curve` is on."""
        out = dict(self.setting.evaluator(policy))
        if self.test_curve:
            ev = self.test.evaluator
            out.update({f"test_{k}": v for k, v in ev.score_actions(policy(ev.obs)).items()})
        return out

    def finish(self, policy: Any) -> dict[str, Any]:
        """Score the method's final policy (a ScoredPolicy or policy) on the test states."""
        self.final = self.test.evaluator(policy)
        return self.final


RunFn = Callable[[MethodContext, int, Budget], list[dict[str, Any]]]


@dataclass(frozen=True)
class Method:
    """A registry entry.

    Attributes:
        name: as it appears in summaries.
        run: ``run(ctx, seed, budget) -> rows``.
        seedless: the result does not depend on the seed (run once, as the first seed).
        resumable: a killed run continues from its run directory (else it restarts).
        config: nested config overrides every run of the method gets.
        test_curve: its metrics rows also score the test states (``MethodContext.test_curve``).
    """

    name: str
    run: RunFn
    seedless: bool = False
    resumable: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    test_curve: bool = False


def one_row(ctx: MethodContext, t0: float, ev: dict[str, float], **extra: Any) -> list[dict]:
    """The single metrics row of a method that does not learn (step 0), scored on the test
    states (``ev``), which are also its final result."""
    ctx.final = dict(ev)
    wall = time.perf_counter() - t0
    return [{"step": 0, "wall_s": wall, "samples": 0, "updates": 0, **extra, **ev}]

"""Exact references, solved per test state (cvxpy + CLARABEL, see docs/solvers.md):

* ``static_myopic``: the menu optimal for the prior alone, offered in both periods;
* ``static_best``: the best single menu offered in both periods (weights p + delta pQ) — the
  fair static contract to beat (``beats_static_best`` compares with it);
* ``static_redesign``: a static menu per period, the period-2 one redesigned for pQ;
* ``exact_dynamic``: the optimal dynamic contract (ratio 1 by definition);
* ``complete_info``: the first best under complete information — an upper bound, not
  incentive compatible (its feasibility is reported as n/a).

These are computed, not learned: one exact solve per state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from dyncontract.env.scoring import score_profits
from dyncontract.experiments.methods.base import MethodContext, one_row
from dyncontract.model.scenario import Scenario
from dyncontract.rl.budget import Budget
from dyncontract.solvers.exact import OPTIMAL, SolveResult
from dyncontract.solvers.reference import complete_info, static_redesign


def _scored(ctx: MethodContext, t0: float, profit: np.ndarray, feasible: bool) -> list[dict]:
    """Exact contracts are one per state: single = best_of_n. ``feasible`` False for the
    complete-information bound (not incentive compatible), whose profit is still reported."""
    held = ctx.test.held
    ok = np.ones(len(profit), dtype=bool)
    ev = score_profits(profit, ok, held, "single")
    ev.update(score_profits(profit, ok, held, "best_of_n"))
    if not feasible:
        ev["feasible_single"] = ev["feasible_best_of_n"] = float("nan")
    ev["eval_reward"] = float(np.mean(profit) / ctx.cfg.env.reward_scale)
    return one_row(ctx, t0, ev)


def _solved(ctx: MethodContext, solve: Callable[[Scenario], SolveResult]) -> np.ndarray:
    """Profit of ``solve`` on every test state (an error when a solve is not optimal)."""
    setting = ctx.test
    out = []
    for sc in setting.env.dist.scenarios(setting.held.obs):
        r = solve(sc)
        if r.status != OPTIMAL:
            raise RuntimeError(f"{r.program}: solver status {r.status!r} on a test state")
        out.append(r.profit)
    return np.array(out)


def _from_held(attr: str):
    """A method whose per-state profits the held-out set already holds (exact solves)."""

    def run(ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
        t0 = time.perf_counter()
        return _scored(ctx, t0, np.asarray(getattr(ctx.test.held, attr), float), True)

    return run


def _solved_per_state(solve: Callable[[Scenario], SolveResult], feasible: bool):
    """A method solved here, state by state (``feasible`` False: an upper bound)."""

    def run(ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
        t0 = time.perf_counter()
        return _scored(ctx, t0, _solved(ctx, solve), feasible)

    return run


run_static_myopic = _from_held("static_profit")
run_static_best = _from_held("static_best_profit")
run_exact_dynamic = _from_held("optimal_profit")
run_static_redesign = _solved_per_state(static_redesign, True)
run_complete_info = _solved_per_state(complete_info, False)

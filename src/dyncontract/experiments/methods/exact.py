"""Exact references, solved per held-out state (cvxpy + CLARABEL, see docs/solvers.md):

* ``static``: the optimal static contract (one menu for the prior, offered in both periods);
* ``exact_dynamic``: the optimal dynamic contract (ratio 1 by definition);
* ``complete_info``: the first best under complete information — an upper bound, not
  incentive compatible (its feasibility is reported as n/a).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from dyncontract.env.scoring import score_profits
from dyncontract.experiments.methods.base import MethodContext, one_row
from dyncontract.rl.budget import Budget
from dyncontract.solvers.reference import complete_info


def _scored(ctx: MethodContext, t0: float, profit: np.ndarray, feasible: bool) -> list[dict]:
    """Exact contracts are one per state: single = best_of_n. ``feasible`` False for the
    complete-information bound (not incentive compatible), whose profit is still reported."""
    held = ctx.setting.held
    ok = np.ones(len(profit), dtype=bool)
    ev = score_profits(profit, ok, held, "single")
    ev.update(score_profits(profit, ok, held, "best_of_n"))
    if not feasible:
        ev["feasible_single"] = ev["feasible_best_of_n"] = float("nan")
    ev["eval_reward"] = float(np.mean(profit) / ctx.cfg.env.reward_scale)
    return one_row(ctx, t0, ev)


def run_static(ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    t0 = time.perf_counter()
    return _scored(ctx, t0, np.asarray(ctx.setting.held.static_profit, float), True)


def run_exact_dynamic(ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    t0 = time.perf_counter()
    return _scored(ctx, t0, np.asarray(ctx.setting.held.optimal_profit, float), True)


def run_complete_info(ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    t0 = time.perf_counter()
    setting = ctx.setting
    scen = setting.env.dist.scenarios(setting.held.obs)
    profit = np.array([complete_info(sc).profit for sc in scen])
    return _scored(ctx, t0, profit, False)

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

from dyncontract.experiments.methods.base import MethodContext, one_row
from dyncontract.rl.budget import Budget
from dyncontract.solvers.reference import complete_info


def _scored(ctx: MethodContext, t0: float, profit: np.ndarray, feasible: float) -> list[dict]:
    held = ctx.setting.held
    ratio = profit / np.asarray(held.optimal_profit)
    ev = {
        "optimality_ratio": float(ratio.mean()),
        "optimality_ratio_p05": float(np.quantile(ratio, 0.05)),
        "feasible_rate": feasible,
        "profit_mean": float(profit.mean()),
        "beats_static_rate": float((profit > np.asarray(held.static_profit) + 1e-9).mean()),
        "eval_reward": float(profit.mean() / ctx.cfg.env.reward_scale),
    }
    return one_row(ctx, t0, ev)


def run_static(ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    t0 = time.perf_counter()
    return _scored(ctx, t0, np.asarray(ctx.setting.held.static_profit, float), 1.0)


def run_exact_dynamic(ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    t0 = time.perf_counter()
    return _scored(ctx, t0, np.asarray(ctx.setting.held.optimal_profit, float), 1.0)


def run_complete_info(ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    t0 = time.perf_counter()
    setting = ctx.setting
    scen = setting.env.dist.scenarios(setting.held.obs)
    profit = np.array([complete_info(sc).profit for sc in scen])
    return _scored(ctx, t0, profit, float("nan"))

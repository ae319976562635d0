"""Non-RL baselines that use the known, differentiable structured-mode profit
(:mod:`dyncontract.experiments.amortised`), scored by the same protocol:

* ``direct``: an MLP policy trained by gradient ascent on the expected profit (no critic);
* ``supervised``: the same MLP regressed on exact optima of sampled states (the label
  solves count in its wall clock and samples);
* ``per_state``: gradient ascent on each test state's own action — no amortisation, the
  reference for how good and how fast a per-state optimiser is (its curve is on the test
  states it optimises; it learns nothing that transfers).

Single action = the MLP's output (per_state: its action); best_of_n samples = that action
plus Gaussian noise.
"""

from __future__ import annotations

from typing import Any

import torch

from dyncontract.env import ScoredPolicy, noisy_sampler
from dyncontract.experiments import amortised as A
from dyncontract.experiments.methods.base import MethodContext
from dyncontract.rl.budget import Budget


def validation_curve(ctx: MethodContext, seed: int, rows: list[dict[str, Any]], setting=None):
    """An ``on_eval`` callback appending a metrics row scored on validation states."""
    setting = setting or ctx.setting

    def on_eval(samples: int, updates: int, wall_s: float, policy) -> None:
        ev = setting.evaluator(ScoredPolicy(policy, noisy_sampler(policy, seed=seed)))
        rows.append(
            {"step": samples, "wall_s": wall_s, "samples": samples, "updates": updates, **ev}
        )

    return on_eval


def _steps(budget: Budget) -> int:
    return budget.steps if budget.steps is not None else 10**12


def run_direct(ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    policy = A.train_direct(
        ctx.setting.env, seed, _steps(budget), budget.max_minutes,
        eval_every=budget.eval_every_steps, on_eval=validation_curve(ctx, seed, rows),
        **ctx.options,
    )  # fmt: skip
    ctx.finish(ScoredPolicy(policy, noisy_sampler(policy, seed=seed)))
    return rows


def run_supervised(ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    policy = A.train_supervised(
        ctx.setting.env, seed, _steps(budget), budget.max_minutes,
        eval_every=max(1, budget.eval_every_steps // 100),
        on_eval=validation_curve(ctx, seed, rows), **ctx.options,
    )  # fmt: skip
    ctx.finish(ScoredPolicy(policy, noisy_sampler(policy, seed=seed)))
    return rows


def run_per_state(ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    """Optimises each test state's action; ``options.steps_per_state`` (default 300)."""
    rows: list[dict[str, Any]] = []
    test = ctx.test
    opts = dict(ctx.options)
    steps = int(opts.pop("steps_per_state", 300))
    usage = A.Usage()
    actions = A.per_state(
        test.env, test.evaluator.obs, steps, eval_every=test.held.n * max(1, steps // 10),
        on_eval=validation_curve(ctx, seed, rows, test), budget=usage, **opts,
    )  # fmt: skip

    def single(obs: torch.Tensor) -> torch.Tensor:
        assert obs.shape[0] == actions.shape[0], "per_state: scored on the states it optimised"
        return actions

    ctx.finish(ScoredPolicy(single, noisy_sampler(single, seed=seed)))
    return rows

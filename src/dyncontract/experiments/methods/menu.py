"""Menu-mode baselines (:mod:`dyncontract.env.menu_smooth`), scored like every
method: the hard choice rule on the test states, single action primary.

* ``direct_smooth``: an MLP (state -> menu) trained by gradient ascent on the expected
  profit under a *softened* choice (softmax over items, temperature annealed towards the
  hard rule); iterates are scored with the hard rule on 256 states of its own and the best is
  kept (those evaluations count as its samples). It knows the model: the profit and the
  choice rules, differentiable. Options: :func:`~dyncontract.env.menu_smooth.direct_smooth`'s
  keyword arguments (``batch``, ``lr``, ``hidden``, ...).
* ``cma``: CMA-ES on each test state's own menu, the hard-choice profit as a black box: the
  reference for what a non-amortised search reaches and how fast. Nothing transfers to new
  states. Options: ``evals_per_state`` (default 2 000, capped by the budget's samples /
  states), ``sigma0``.

Both run in menu mode whatever the experiment's ``env.action_mode`` (the registry sets it).
Best of N: the single action plus Gaussian noise (``noisy_sampler``), as for ``direct``.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch

from dyncontract.env import ScoredPolicy, noisy_sampler
from dyncontract.env.menu_smooth import cma_search, direct_smooth
from dyncontract.experiments.methods.amortised import validation_curve
from dyncontract.experiments.methods.base import MethodContext
from dyncontract.rl.budget import Budget

#: states of its own on which direct_smooth scores its iterates (direct_smooth's default)
SELECTION_STATES = 256


def _max_updates(steps: int, batch: int, every: int) -> int:
    """The most updates whose samples fit in ``steps``: ``batch`` per update plus
    SELECTION_STATES per selection (at update 0, every ``every`` updates, and at the end)."""

    def samples(u: int) -> int:
        return u * batch + SELECTION_STATES * (-(-u // every) + 1)

    u = max(1, steps // batch)
    while u > 1 and samples(u) > steps:
        u -= 1
    return u


def run_direct_smooth(ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    opts = dict(ctx.options)
    batch = int(opts.pop("batch", 256))
    every = int(opts.pop("eval_every", max(1, budget.eval_every_steps // batch)))
    max_updates = None if budget.steps is None else _max_updates(budget.steps, batch, every)
    seconds = math.inf if budget.max_minutes is None else 60.0 * budget.max_minutes
    res = direct_smooth(
        ctx.setting.env, seconds=seconds, batch=batch, max_updates=max_updates, seed=seed,
        eval_every=every, on_eval=validation_curve(ctx, seed, rows), **opts,
    )  # fmt: skip

    ctx.finish(ScoredPolicy(res.act, noisy_sampler(res.act, seed=seed)))
    if rows:  # the final row carries the run's own totals
        rows[-1].update(samples=res.samples, updates=res.updates, wall_s=res.seconds)
    return rows


def run_cma(ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    test = ctx.test
    obs = test.evaluator.obs
    opts = dict(ctx.options)
    evals = int(opts.pop("evals_per_state", 2000))
    if budget.steps is not None:
        evals = max(1, min(evals, budget.steps // obs.shape[0]))
    t0 = time.perf_counter()
    res = cma_search(test.env, obs, evals=evals, seed=seed, **opts)
    actions = res["actions"]

    def single(o: torch.Tensor) -> torch.Tensor:
        assert o.shape[0] == actions.shape[0], "cma: scored on the states it searched"
        return actions

    ev = ctx.finish(ScoredPolicy(single, noisy_sampler(single, seed=seed)))
    wall = time.perf_counter() - t0
    n = evals * obs.shape[0]
    return [{"step": n, "wall_s": wall, "samples": n, "updates": 0, **ev}]

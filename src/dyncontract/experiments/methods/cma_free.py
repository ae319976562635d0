"""``cma_free``: CMA-ES on each test state's own menu, from sampled rewards only.

The model-free twin of ``cma`` (methods/menu.py): one CMA-ES per test state (the ``cma``
package, bounds [-1, 1], the searches' common start menu, ``sigma0``), every candidate menu
posted once to a sampled population (``env.menu_reward: sampled``: its realised average
profit is the only feedback), all states advancing one generation at a time. A state's
answer is its search's current mean (not its best sampled candidate: with noisy rewards the
best draw is mostly luck). Nothing transfers to other states. Samples = candidate menus
posted, over all states; a curve point (test states) at the first generation past each of
:data:`~dyncontract.experiments.methods.model_free.CURVE_BUDGETS`, the last at the budget.

Options: ``sigma0`` (0.3), ``popsize`` (CMA-ES's default, 4 + 3 ln d = 16 for K = 5).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from dyncontract.experiments.methods.base import MethodContext
from dyncontract.experiments.methods.model_free import (
    curve_budgets,
    finish_per_state,
    start_action,
    test_row,
)
from dyncontract.rl.budget import Budget


def run(ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    import cma  # optional dependency (pip install cma)

    opts = dict(ctx.options)
    sigma0 = float(opts.pop("sigma0", 0.3))
    popsize = opts.pop("popsize", None)
    if opts:
        raise ValueError(f"cma_free: unknown options {sorted(opts)}")
    env = ctx.test.env
    obs = ctx.test.evaluator.obs
    n, d = obs.shape[0], env.act_dim
    x0 = start_action(d, env.K)
    es_opts: dict[str, Any] = {"bounds": [-1.0, 1.0], "verbose": -9}
    if popsize:
        es_opts["popsize"] = int(popsize)
    searches = [
        cma.CMAEvolutionStrategy(x0, sigma0, {**es_opts, "seed": 1000 * seed + j + 1})
        for j in range(n)
    ]
    lam = searches[0].popsize
    total = budget.steps if budget.steps is not None else n * lam * 100
    marks = curve_budgets(total)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    start = env.samples

    def means() -> torch.Tensor:
        return torch.as_tensor(
            np.clip(np.stack([es.result.xfavorite for es in searches]), -1.0, 1.0)
        )

    generations = 0
    while env.samples - start + n * lam <= total:
        active = [j for j, es in enumerate(searches) if not es.stop()]
        if not active:
            break
        cands = [searches[j].ask() for j in active]
        A = torch.as_tensor(np.concatenate([np.asarray(c) for c in cands]))
        o = obs[active].repeat_interleave(lam, dim=0)
        reward = env.step(o, A, generator=gen)["sampled_profit"].numpy().reshape(-1, lam)
        for j, c, f in zip(active, cands, reward, strict=True):
            searches[j].tell(c, (-f).tolist())
        generations += 1
        used = env.samples - start
        if marks and used >= marks[0]:
            rows.append(test_row(ctx, used, t0, means(), generations=generations))
            while marks and used >= marks[0]:
                marks.pop(0)
    used = env.samples - start
    if not rows or rows[-1]["samples"] != used:
        rows.append(test_row(ctx, used, t0, means(), generations=generations))
    finish_per_state(ctx, means())
    rows[-1]["wall_s"] = time.perf_counter() - t0
    return rows

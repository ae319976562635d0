"""``static_free``: one menu for every market state (affine in the state's energy price),
tuned by CMA-ES on sampled rewards over training states.

The model-free counterpart of ``static_best``: no type is known, so the menu is found by
posting it. The policy is ``a(obs) = clip(a_0 + a_xi * x_xi, -1, 1)`` with ``x_xi`` the
observation's energy-price coordinate in [-1, 1] (``features``: the observation columns
used, default the energy price alone; ``[]`` gives one state-independent menu): costs scale
with the price, so a menu that cannot follow it pays for the dearest state everywhere. CMA-ES
(the ``cma`` package, bounds [-1, 1] on every parameter) starts at the searches' common
start menu with zero slopes; each generation draws ``states_per_eval`` fresh training states
and posts every candidate's menu in each of them to a sampled population, with the same
sampled ESs for every candidate of the generation (common random numbers: the ranking
compares menus, not draws). A candidate's fitness is its mean realised profit. The answer is
the search's mean. Samples = menus posted (candidates x states). Curve points on the
validation and test states at the first generation past each curve budget.

Options: ``features`` (observation column names: ``p1`` … ``pK``, ``rho``, ``xi``),
``states_per_eval`` (32), ``sigma0`` (0.3), ``popsize`` (CMA-ES's default).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from dyncontract.env import BatchedContractEnv, ScoredPolicy
from dyncontract.experiments.methods.base import MethodContext
from dyncontract.experiments.methods.model_free import curve_budgets, start_action
from dyncontract.rl.budget import Budget


def feature_columns(env: BatchedContractEnv, names: list[str]) -> list[int]:
    """Observation columns of the named state features (``p1`` … ``pK``, ``rho``, ``xi``)."""
    dist, cols, j = env.dist, {}, 0
    if dist.vary_prior:
        cols.update({f"p{k + 1}": k for k in range(env.K)})
        j = env.K
    if dist.vary_rho:
        cols["rho"] = j
        j += 1
    if dist.vary_xi:
        cols["xi"] = j
    bad = [f for f in names if f not in cols]
    if bad:
        raise ValueError(f"static_free: unknown or fixed state features {bad} (have {list(cols)})")
    return [cols[f] for f in names]


class AffineMenu:
    """obs -> clip(a_0 + sum_f a_f obs[:, f], -1, 1), parameters flat (d (1 + F),)."""

    def __init__(self, params: np.ndarray, columns: list[int], act_dim: int) -> None:
        self.W = torch.as_tensor(np.asarray(params, float).reshape(1 + len(columns), act_dim))
        self.columns = columns

    def __call__(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.to(torch.float64)[:, self.columns]
        return (self.W[0] + x @ self.W[1:]).clamp(-1.0, 1.0)


def run(ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    import cma  # optional dependency (pip install cma)

    opts = dict(ctx.options)
    features = list(opts.pop("features", ["xi"]))
    m = int(opts.pop("states_per_eval", 32))
    sigma0 = float(opts.pop("sigma0", 0.3))
    popsize = opts.pop("popsize", None)
    if opts:
        raise ValueError(f"static_free: unknown options {sorted(opts)}")
    env = ctx.setting.env
    d = env.act_dim
    cols = feature_columns(env, features)
    x0 = np.concatenate([start_action(d, env.K), np.zeros(d * len(cols))])
    es_opts: dict[str, Any] = {"bounds": [-1.0, 1.0], "verbose": -9, "seed": seed + 1}
    if popsize:
        es_opts["popsize"] = int(popsize)
    es = cma.CMAEvolutionStrategy(x0, sigma0, es_opts)
    lam = es.popsize
    total = budget.steps if budget.steps is not None else lam * m * 1000
    marks = curve_budgets(total)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    start = env.samples
    rows: list[dict[str, Any]] = []
    generations = 0

    def row(used: int) -> dict[str, Any]:
        policy = AffineMenu(np.clip(es.result.xfavorite, -1.0, 1.0), cols, d)
        return {
            "step": used,
            "wall_s": time.perf_counter() - t0,
            "samples": used,
            "updates": 0,
            "generations": generations,
            **ctx.curve_metrics(ScoredPolicy(policy)),
        }

    while env.samples - start + lam * m <= total and not es.stop():
        obs = env.sample_states(m, rng)
        draw_seed = int(rng.integers(2**62))
        cands = es.ask()
        fitness = []
        for x in cands:
            act = AffineMenu(np.asarray(x), cols, d)(obs)
            gen = torch.Generator().manual_seed(draw_seed)  # the same ESs for every candidate
            fitness.append(float(env.step(obs, act, generator=gen)["sampled_profit"].mean()))
        es.tell(cands, [-f for f in fitness])
        generations += 1
        used = env.samples - start
        if marks and used >= marks[0]:
            rows.append(row(used))
            while marks and used >= marks[0]:
                marks.pop(0)
    used = env.samples - start
    if not rows or rows[-1]["samples"] != used:
        rows.append(row(used))
    ctx.finish(ScoredPolicy(AffineMenu(np.clip(es.result.xfavorite, -1.0, 1.0), cols, d)))
    ctx.extras.update(features=features, states_per_eval=m, popsize=lam)
    return rows

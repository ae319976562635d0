"""Simple contract heuristics, scored like every method:

* ``random``: a uniformly random action (contract) per state (best_of_n: the best of 16);
* ``greedy``: first-best workloads per type (T*(theta_k) in period 1, T*(theta_i) in period
  2, recomputed for each state's energy price) priced by the least-payment map — what a CS
  that ignores the information rents would ask.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from dyncontract.env import ScoredPolicy, noisy_sampler
from dyncontract.experiments.methods.base import MethodContext, one_row
from dyncontract.rl.budget import Budget
from dyncontract.solvers.reference import first_best_workload


def run_random(ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    setting = ctx.test
    g = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    dim = setting.env.act_dim

    def sample(obs: torch.Tensor, n: int) -> torch.Tensor:
        return torch.rand(n, obs.shape[0], dim, generator=g, dtype=torch.float64) * 2 - 1

    policy = ScoredPolicy(lambda obs: sample(obs, 1)[0], sample)
    return one_row(ctx, t0, setting.evaluator(policy))


def run_greedy(ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    setting = ctx.test
    if setting.env.mode != "structured":
        raise ValueError("greedy: needs env.action_mode=structured (least payments)")
    t0 = time.perf_counter()
    acts = []
    for sc in setting.env.dist.scenarios(setting.held.obs):
        T = first_best_workload(sc.theta, sc)
        acts.append(np.concatenate([T, np.tile(T, (sc.K, 1)).ravel()]) / sc.t_max * 2.0 - 1.0)
    table = torch.as_tensor(np.array(acts), dtype=torch.float64)

    def single(obs: torch.Tensor) -> torch.Tensor:
        assert obs.shape[0] == table.shape[0], "greedy: scored on its own held-out states"
        return table

    return one_row(
        ctx, t0, setting.evaluator(ScoredPolicy(single, noisy_sampler(single, seed=seed)))
    )

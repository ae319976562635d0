"""Deployment policy "best_feasible": the selection equals an explicit per-state search."""

from __future__ import annotations

import numpy as np
import torch

from dyncontract.env import BatchedContractEnv, EnvConfig, best_feasible, contract_eval_policy
from dyncontract.model import Contract, Scenario, check_feasibility, expected_profit


def test_best_feasible_matches_explicit_search() -> None:
    env = BatchedContractEnv(Scenario.default(), EnvConfig())
    g = torch.Generator().manual_seed(3)
    obs = env.sample_states(40, g)
    cands = torch.rand(6, 40, env.act_dim, generator=g, dtype=torch.float64) * 2 - 1
    chosen = best_feasible(env, obs, cands)
    scen = env.dist.scenarios(obs.numpy())
    for b in range(40):
        best, best_profit, least_v, least = None, -np.inf, np.inf, None
        for c in range(6):  # score every candidate with the numpy model code
            ct = env.contracts(obs[b : b + 1], cands[c, b : b + 1])
            con = Contract(*(ct[k][0].numpy() for k in ("T1", "R1", "T2", "R2")))
            rep = check_feasibility(con, scen[b])
            ok = bool(ct["ok"][0]) and rep.feasible
            prof = expected_profit(con, scen[b])
            if ok and prof > best_profit:
                best, best_profit = c, prof
            if rep.max_violation < least_v:
                least_v, least = rep.max_violation, c
        expect = best if best is not None else least
        assert torch.equal(chosen[b], cands[expect, b]), b


def test_best_feasible_policy_never_worse_than_its_mean_candidate() -> None:
    env = BatchedContractEnv(Scenario.default(), EnvConfig())
    obs = env.sample_states(64, torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)

    def act(o: torch.Tensor, mode: str, n: int) -> torch.Tensor:  # a noisy stand-in actor
        base = torch.zeros(o.shape[0], env.act_dim, dtype=torch.float64)
        if mode == "sample":
            return (base + 0.3 * torch.randn(base.shape, generator=g, dtype=torch.float64)).clamp(
                -1, 1
            )
        return base

    pol = contract_eval_policy(act, "best_feasible", 4, env)
    mean_out = env.step(obs, act(obs, "mean", 4))
    best_out = env.step(obs, pol(obs))
    gain = torch.where(mean_out["feasible"], best_out["profit"] - mean_out["profit"], 0.0)
    assert bool((best_out["feasible"] | ~mean_out["feasible"]).all())
    assert float(gain.min()) >= -1e-9

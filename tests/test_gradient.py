"""Differentiable structured-mode profit (env/gradient.py)."""

from __future__ import annotations

import pytest
import torch

from dyncontract.env import BatchedContractEnv, EnvConfig
from dyncontract.env.gradient import (
    differentiable_contracts,
    differentiable_profit,
    implementability_gap,
    surrogate_objective,
)
from dyncontract.model import Scenario

torch.set_num_threads(1)


def _env(monotone: str = "both") -> BatchedContractEnv:
    return BatchedContractEnv(Scenario.default(), EnvConfig(monotone=monotone))


def _batch(env: BatchedContractEnv, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    obs = env.sample_states(n, g)
    a = torch.rand(n, env.act_dim, generator=g, dtype=torch.float64) * 1.8 - 0.9
    return obs, a


def test_profit_equals_env_step() -> None:
    env = _env()
    obs, a = _batch(env, 500, 0)
    profit, ok = differentiable_profit(env, obs, a.requires_grad_())
    assert profit.requires_grad
    out = env.step(obs, a.detach())
    torch.testing.assert_close(profit.detach(), out["profit"], rtol=0, atol=0)
    assert torch.equal(ok, out["feasible"])  # structured: ok <=> feasible
    assert 0.2 < ok.float().mean() < 0.8  # both kinds present


@pytest.mark.parametrize("monotone", ["both", "period2", "none"])
def test_gap_sign_is_the_maps_verdict(monotone: str) -> None:
    env = _env(monotone)
    obs, a = _batch(env, 1000, 1)
    if monotone == "none":  # sort half of the actions so that some are implementable
        K, n = env.K, a.shape[0] // 2
        a[:n, :K] = a[:n, :K].sort(dim=1).values
        a[:n, K:] = a[:n, K:].reshape(n, K, K).sort(dim=2).values.reshape(n, K * K)
    ct = differentiable_contracts(env, obs, a)
    gap = implementability_gap(env, ct)
    ok = ct["ok"]
    assert ok.any() and (~ok).any()
    # away from the map's tolerance the sign decides
    clear = gap.abs() > 1e-6
    assert torch.equal((gap[clear] <= 0), ok[clear])
    assert clear.float().mean() > 0.99


def test_gradient_matches_finite_differences_away_from_boundary() -> None:
    env = _env()
    obs, a = _batch(env, 400, 2)
    ct = differentiable_contracts(env, obs, a)
    keep = implementability_gap(env, ct).detach() < -1e-2  # well inside the feasible set
    obs, a = obs[keep][:40], a[keep][:40].clone()
    assert obs.shape[0] == 40
    a.requires_grad_()
    profit, ok = differentiable_profit(env, obs, a)
    assert ok.all()
    (grad,) = torch.autograd.grad(profit.sum(), a)
    g = torch.Generator().manual_seed(3)
    h = 1e-6
    for _ in range(3):
        v = torch.randn(a.shape, generator=g, dtype=torch.float64)
        # profit_i depends on a_i only: one batched central difference gives every row's
        fp, _ = differentiable_profit(env, obs, a.detach() + h * v)
        fm, _ = differentiable_profit(env, obs, a.detach() - h * v)
        fd = (fp - fm).detach() / (2 * h)
        ad = (grad * v).sum(dim=1)
        torch.testing.assert_close(ad, fd, rtol=1e-5, atol=1e-6)
    assert grad.abs().sum() > 0


def test_surrogate_penalises_only_near_or_beyond_the_boundary() -> None:
    env = _env()
    obs, a = _batch(env, 800, 4)
    margin = 1e-2
    obj, profit, ok = surrogate_objective(env, obs, a, penalty=10.0, margin=margin)
    gap = implementability_gap(env, differentiable_contracts(env, obs, a))
    inside = gap < -margin
    torch.testing.assert_close(obj[inside], profit[inside])
    torch.testing.assert_close(obj[~inside], profit[~inside] - 10.0 * (gap[~inside] + margin))
    assert (obj[~ok] < profit[~ok]).all()


def test_gradient_ascent_on_surrogate_restores_implementability() -> None:
    """A few plain gradient steps on the surrogate from infeasible actions reach ok states."""
    env = _env()
    obs, a = _batch(env, 300, 5)
    _, _, ok0 = surrogate_objective(env, obs, a)
    obs, z = obs[~ok0][:50], torch.atanh(a[~ok0][:50]).clone().requires_grad_()
    opt = torch.optim.Adam([z], lr=0.05)
    for _ in range(150):
        obj, _, _ = surrogate_objective(env, obs, torch.tanh(z), penalty=10.0, margin=1e-2)
        opt.zero_grad()
        (-obj.sum()).backward()
        opt.step()
    _, _, ok = surrogate_objective(env, obs, torch.tanh(z).detach())
    assert ok.float().mean() > 0.9

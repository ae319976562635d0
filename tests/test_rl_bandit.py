"""EDMSAC learns a toy continuous contextual bandit with a known optimum; temperature adapts.

The toy problems live in ``helpers.py`` (:class:`ToyBandit`, reward -||a - a*(s)||^2 with
a*(s) = 0.6 tanh(W s), optimum reward 0 at a*(s)).
"""

from __future__ import annotations

import torch
from helpers import ToyBandit, optimum, tiny_config, tiny_rl_config, toy_trainer

from dyncontract.rl.buffer import Batch
from dyncontract.rl.config import RLConfig
from dyncontract.rl.edmsac import EDMSAC


def test_tiny_training_improves_on_toy_bandit(tmp_path):
    torch.manual_seed(0)
    cfg = tiny_config(updates_per_iter=4)
    env = ToyBandit()
    tr = toy_trainer(cfg.rl, tmp_path / "run", steps=10_000, env=env)
    rows = tr.train()
    first, last = rows[0]["eval_reward"], rows[-1]["eval_reward"]
    # a uniformly random action scores about -1.3; the optimum scores 0
    assert last > first + 0.2, (first, last)
    assert last > -0.05, last
    # the deterministic policy is close to the known optimum on fresh states
    obs = env.sample_states(512, torch.Generator().manual_seed(99))
    act = tr.agent.act(obs, None, mode="deterministic")
    err = (act - optimum(obs)).abs()
    assert float(err.mean()) < 0.1, float(err.mean())
    # EDMSAC by default: the schedule reached its target pruning ratio
    assert abs(rows[-1]["prune_ratio"] - cfg.rl.prune_target) < 0.02


def _fixed_batch(n: int = 64) -> Batch:
    g = torch.Generator().manual_seed(0)
    obs = torch.rand(n, 2, generator=g) * 2 - 1
    act = torch.rand(n, 3, generator=g) * 2 - 1
    return Batch(obs, act, torch.zeros(n), obs, torch.ones(n))


def _run_updates(target_per_dim: float, n: int = 60) -> tuple[float, float, float, float]:
    torch.manual_seed(0)
    cfg = tiny_rl_config(
        init_alpha=0.1,
        alpha_lr=0.05,
        target_entropy_per_dim=target_per_dim,
        target_entropy_final_per_dim=None,
        prune_target=0.0,
    )
    ag = EDMSAC(cfg, 2, 3)
    b = _fixed_batch()
    g = torch.Generator().manual_seed(1)
    h0 = float(ag.actor.entropy_estimate(b.obs).mean())
    a0 = ag.alpha
    for _ in range(n):
        ag.update(b, g, progress=0.0)
    return a0, ag.alpha, h0, float(ag.actor.entropy_estimate(b.obs).mean())


def test_temperature_rises_when_entropy_below_target():
    # initial entropy is about -2.1 per dimension; the target +0.5 per dimension is above it
    a0, a1, h0, h1 = _run_updates(+0.5)
    assert a1 > 2 * a0, (a0, a1)
    assert h1 > h0  # the larger temperature pushes the policy's entropy up


def test_temperature_falls_when_entropy_above_target():
    a0, a1, h0, h1 = _run_updates(-5.0)
    assert a1 < 0.5 * a0, (a0, a1)


def test_entropy_estimate_is_gaussian_last_step():
    """log pi of the last step is the exact Gaussian log-density of the sampled action."""
    torch.manual_seed(0)
    ag = EDMSAC(RLConfig(actor_hidden=32, actor_layers=1, prune_target=0.0), 2, 3)
    obs = torch.zeros(4, 2)
    out = ag.actor(obs, torch.Generator().manual_seed(0), mode="sample")
    dist = torch.distributions.Normal(out.mean, out.log_std.exp())
    inside = (out.action.abs() < 1).all(-1)  # clipping is ignored by the estimate
    lp = dist.log_prob(out.action).sum(-1)
    assert torch.allclose(lp[inside], out.log_prob[inside], atol=1e-4)

"""EDMSAC learns a toy continuous contextual bandit with a known optimum; temperature adapts.

The toy problems (also imported by the other rl tests):

* :class:`ToyBandit` — batched one-step env: state s ~ U[-1, 1]^2, action a in [-1, 1]^3,
  reward -||a - a*(s)||^2 with a*(s) = 0.6 tanh(W s). Optimum: reward 0 at a*(s).
* :class:`ToyBanditGym` — the same as a gymnasium env (one-step episodes), registered as
  ``dyncontract-test/ToyBandit-v0`` for the generic ``--env`` path.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from conftest import tiny_rl_config

from dyncontract.config import load_config
from dyncontract.rl.config import RLConfig
from dyncontract.rl.edmsac import EDMSAC, Batch
from dyncontract.rl.trainer import RunSpec, Trainer

W = torch.tensor([[1.0, -0.5], [0.3, 0.8], [-0.7, -0.2]])


def optimum(obs: torch.Tensor) -> torch.Tensor:
    """a*(s) = 0.6 tanh(W s), shape (n, 3)."""
    return 0.6 * torch.tanh(obs @ W.T)


class ToyBandit:
    obs_dim = 2
    act_dim = 3

    def sample_states(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        return torch.rand(n, 2, generator=generator) * 2 - 1

    def step(self, obs: torch.Tensor, action: torch.Tensor) -> dict[str, torch.Tensor]:
        a = action.clamp(-1, 1)
        return {"reward": -((a - optimum(obs)) ** 2).sum(-1)}


class ToyBanditGym(gym.Env):
    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
        self._obs = np.zeros(2, np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._obs = self.np_random.uniform(-1, 1, 2).astype(np.float32)
        return self._obs.copy(), {}

    def step(self, action):
        a = torch.as_tensor(np.asarray(action, np.float32))[None]
        r = float(ToyBandit().step(torch.as_tensor(self._obs)[None], a)["reward"][0])
        return self._obs.copy(), r, True, False, {}


TOY_GYM_ID = "dyncontract-test/ToyBandit-v0"
if TOY_GYM_ID not in gym.registry:
    gym.register(id=TOY_GYM_ID, entry_point=ToyBanditGym)

#: Small, fast settings for the toy problems.
TINY = [
    "rl.actor_hidden=64",
    "rl.actor_layers=2",
    "rl.critic_hidden=64",
    "rl.critic_layers=2",
    "rl.state_embed_dim=16",
    "rl.batch_size=128",
    "rl.num_envs=64",
    "rl.updates_per_iter=1",
    "rl.learning_starts=256",
    "rl.buffer_size=20000",
    "rl.eval_every_steps=1024",
    "rl.checkpoint_every_steps=2048",
    "rl.prune_interval=20",
    "rl.actor_lr=0.003",
    "rl.critic_lr=0.003",
]


def tiny_config(*extra: str):
    return load_config(None, [*TINY, *extra])


def test_tiny_training_improves_on_toy_bandit(tmp_path):
    torch.manual_seed(0)
    cfg = tiny_config("rl.updates_per_iter=4")
    env = ToyBandit()
    tr = Trainer(cfg, tmp_path / "run", RunSpec(seed=0, steps=10_000), quiet=True, batched_env=env)
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

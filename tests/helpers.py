"""Shared test helpers (imported as ``from helpers import ...``): random scenarios, the toy
bandit problems with a known optimum, and tiny RL configs / trainers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from hypothesis import strategies as st

from dyncontract.config import DyncontractConfig, build_config
from dyncontract.model.scenario import Scenario
from dyncontract.rl.budget import Budget
from dyncontract.rl.collectors import BatchedBanditCollector
from dyncontract.rl.config import RLConfig
from dyncontract.rl.evaluators import BatchedEvaluator
from dyncontract.rl.rundir import RunDir
from dyncontract.rl.trainer import Trainer


# --- scenarios ---------------------------------------------------------------------------------
def random_scenario(rng: np.random.Generator, K: int | None = None, **kw: object) -> Scenario:
    """A random but well-conditioned scenario (random types, prior, transition, prices)."""
    K = K or int(rng.integers(2, 5))
    theta = np.cumsum(rng.uniform(0.2, 1.0, K)) + rng.uniform(0.5, 1.0)
    prior = rng.dirichlet(np.ones(K)) * 0.9 + 0.1 / K
    Q = rng.dirichlet(np.ones(K), size=K) * 0.5 + 0.5 * np.eye(K) * rng.uniform(0, 1)
    Q = Q / Q.sum(axis=1, keepdims=True)
    args = dict(
        theta=theta.tolist(),
        prior=(prior / prior.sum()).tolist(),
        transition=Q.tolist(),
        discount=float(rng.uniform(0.3, 1.0)),
        alpha=float(rng.uniform(5, 15)),
        beta=float(rng.uniform(0.2, 1.0)),
        energy_price=float(rng.uniform(0.03, 0.1)),
    )
    args.update(kw)
    return Scenario.default(**args)


@st.composite
def scenarios(draw: st.DrawFn, K: int | None = None, **kw: object) -> Scenario:
    seed = draw(st.integers(0, 2**31 - 1))
    return random_scenario(np.random.default_rng(seed), K=K, **kw)


# --- tiny RL settings ----------------------------------------------------------------------------
#: The small network sizes the rl unit tests share (fast on 2 cores).
TINY_RL = dict(
    actor_hidden=32, actor_layers=2, critic_hidden=32, critic_layers=1, state_embed_dim=8
)


def tiny_rl_config(**overrides: object) -> RLConfig:
    """An RLConfig with tiny networks; ``overrides`` replace any field."""
    return RLConfig(**{**TINY_RL, **overrides})


#: Small, fast settings for the toy problems (the ``rl`` section).
TINY: dict[str, Any] = {
    "actor_hidden": 64,
    "actor_layers": 2,
    "critic_hidden": 64,
    "critic_layers": 2,
    "state_embed_dim": 16,
    "batch_size": 128,
    "num_envs": 64,
    "updates_per_iter": 1,
    "learning_starts": 256,
    "buffer_size": 20000,
    "eval_every_steps": 1024,
    "checkpoint_every_steps": 2048,
    "prune_interval": 20,
    "actor_lr": 0.003,
    "critic_lr": 0.003,
}


def tiny_config(**rl: Any) -> DyncontractConfig:
    """The root config with the TINY rl settings (``rl`` entries replace them)."""
    return build_config({}, {"rl": {**TINY, **rl}})


# --- the toy bandit ------------------------------------------------------------------------------
W = torch.tensor([[1.0, -0.5], [0.3, 0.8], [-0.7, -0.2]])


def optimum(obs: torch.Tensor) -> torch.Tensor:
    """a*(s) = 0.6 tanh(W s), shape (n, 3)."""
    return 0.6 * torch.tanh(obs @ W.T)


class ToyBandit:
    """Batched one-step env: s ~ U[-1, 1]^2, a in [-1, 1]^3, reward -||a - a*(s)||^2."""

    obs_dim = 2
    act_dim = 3

    def sample_states(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        return torch.rand(n, 2, generator=generator) * 2 - 1

    def step(self, obs: torch.Tensor, action: torch.Tensor) -> dict[str, torch.Tensor]:
        a = action.clamp(-1, 1)
        return {"reward": -((a - optimum(obs)) ** 2).sum(-1)}


class ToyBanditGym(gym.Env):
    """The toy bandit as a gymnasium env (one-step episodes)."""

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


def toy_trainer(
    cfg: RLConfig, run_dir: str | Path, steps: int, seed: int = 0, env: Any = None
) -> Trainer:
    """A trainer on the toy bandit (or ``env``): batched collector, 256 held-out states."""
    env = env or ToyBandit()
    dev = torch.device("cpu")
    return Trainer(
        cfg,
        BatchedBanditCollector(env, cfg.num_envs, dev, cfg.actions_per_state),
        BatchedEvaluator(env, 256, 12345, dev),
        RunDir(run_dir),
        Budget(steps=steps, eval_every_steps=cfg.eval_every_steps),
        seed=seed,
        quiet=True,
    )

"""Where transitions come from: the :class:`Collector` protocol and two implementations.

* :class:`BatchedBanditCollector` — one-step (contextual bandit) environments with a batched
  torch interface (:class:`BatchedEnv`): every call draws fresh states and scores all actions
  in one call; each state is acted on ``actions_per_state`` times (adjacent rows, ``group``).
* :class:`GymCollector` — any gymnasium env with a bounded Box action space, stepped one env
  at a time (``n`` copies). Actions in [-1, 1] are mapped linearly to [low, high]
  (:func:`to_box`).

Policies see and return float32 tensors: obs (n, obs_dim) -> actions (n, act_dim) in [-1, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch

from dyncontract.rl.buffer import Batch
from dyncontract.rl.rundir import RunError

Policy = Callable[[torch.Tensor], torch.Tensor]  # obs (n, obs_dim) -> action (n, act_dim)


class Collector(Protocol):
    """What the trainer needs from a source of transitions."""

    obs_dim: int
    act_dim: int
    #: rows per state in a collected batch (M actions of one state are adjacent; > 1 only for
    #: one-step envs, where every row is terminal)
    group: int

    def collect(self, policy: Policy, generator: torch.Generator) -> tuple[Batch, dict[str, float]]:
        """Transitions and stats: ``n`` (rows), ``reward`` (sum), optional ``feasible`` (sum)."""
        ...

    def reset(self, seed: int) -> None:
        """Re-seed (called at the start and at every checkpoint, so resumed runs match)."""
        ...

    def close(self) -> None: ...


class BatchedEnv(Protocol):
    """A one-step environment over batches (what :class:`BatchedBanditCollector` needs)."""

    obs_dim: int
    act_dim: int

    def sample_states(self, n: int, generator: torch.Generator | None) -> torch.Tensor: ...

    def step(self, obs: torch.Tensor, action: torch.Tensor) -> dict[str, torch.Tensor]: ...


class BatchedBanditCollector:
    """Fresh states each call (``num_envs / actions_per_state`` of them, each acted on
    ``actions_per_state`` times); every transition is terminal (no bootstrap)."""

    def __init__(
        self, env: BatchedEnv, num_envs: int, device: torch.device, actions_per_state: int = 1
    ) -> None:
        self.env = env
        self.num_envs = num_envs
        self.group = actions_per_state
        self.device = device
        self.obs_dim, self.act_dim = env.obs_dim, env.act_dim

    def collect(self, policy: Policy, generator: torch.Generator) -> tuple[Batch, dict[str, float]]:
        obs = self.env.sample_states(self.num_envs // self.group, generator)
        obs = obs.to(self.device, torch.float32).repeat_interleave(self.group, dim=0)
        act = policy(obs)
        out = self.env.step(obs, act)
        rew = out["reward"].to(self.device, torch.float32)
        stats: dict[str, float] = {"reward": rew.sum().item(), "n": self.num_envs}
        if "feasible" in out:
            stats["feasible"] = out["feasible"].float().sum().item()
        done = torch.ones(self.num_envs, device=self.device)
        return Batch(obs, act, rew, obs, done), stats

    def reset(self, seed: int) -> None:
        """Nothing to reset: every episode is one step."""

    def close(self) -> None:
        pass


def check_box(space: gym.Space, what: str) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of a 1-D Box space; the action box must be bounded."""
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise RunError(f"env: {what} space must be a 1-D Box, got {space}")
    low, high = np.asarray(space.low, float), np.asarray(space.high, float)
    if what == "action" and not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        raise RunError("env: action space must be bounded (finite low and high)")
    return low, high


def to_box(a: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Map actions in [-1, 1] (clipped) linearly to [low, high]."""
    return low + (np.clip(a, -1.0, 1.0) + 1.0) * 0.5 * (high - low)


def gym_maker(env_id: str) -> Callable[[], gym.Env]:
    """A factory of ``env_id`` (a registered gymnasium id), or :class:`RunError`."""
    try:
        spec = gym.spec(env_id)
    except Exception as exc:  # gymnasium raises several error types for unknown ids
        raise RunError(f"--env: unknown gymnasium environment {env_id!r} ({exc})") from None

    def make() -> gym.Env:
        return gym.make(spec)

    return make


class GymCollector:
    """Steps ``n`` gymnasium envs one transition each per :meth:`collect` call."""

    group = 1

    def __init__(self, make_env: Callable[[], gym.Env], n: int, seed: int, device: torch.device):
        self.envs = [make_env() for _ in range(n)]
        self.device = device
        env = self.envs[0]
        check_box(env.observation_space, "observation")
        self.low, self.high = check_box(env.action_space, "action")
        self.obs_dim = int(env.observation_space.shape[0])
        self.act_dim = int(env.action_space.shape[0])
        self.ep_return = np.zeros(n)
        self.finished: list[float] = []
        self.reset(seed)

    def reset(self, seed: int) -> None:
        """Reset every env with seeds derived from ``seed``."""
        self.obs = np.stack(
            [env.reset(seed=seed * 1009 + i)[0] for i, env in enumerate(self.envs)]
        ).astype(np.float32)
        self.ep_return[:] = 0.0

    def collect(self, policy: Policy, generator: torch.Generator) -> tuple[Batch, dict[str, Any]]:
        # a copy: ``self.obs`` is overwritten below with the next observations, and an
        # aliasing tensor would store s' as s in the replay buffer (it once did: DMSAC then
        # did not learn Pendulum)
        obs_t = torch.tensor(self.obs, device=self.device)
        act_t = policy(obs_t)
        act = act_t.detach().cpu().numpy().astype(np.float64)
        next_obs, rews, dones = [], [], []
        for i, env in enumerate(self.envs):
            o2, r, term, trunc, _ = env.step(to_box(act[i], self.low, self.high).astype(np.float32))
            next_obs.append(np.asarray(o2, np.float32))  # the true next state, even at the end
            rews.append(float(r))
            dones.append(float(term))  # a truncation (time limit) still bootstraps
            self.ep_return[i] += r
            if term or trunc:
                self.finished.append(float(self.ep_return[i]))
                self.ep_return[i] = 0.0
                o2, _ = env.reset()
            self.obs[i] = o2
        f32 = dict(dtype=torch.float32, device=self.device)
        batch = Batch(
            obs_t,
            act_t,
            torch.tensor(rews, **f32),
            torch.as_tensor(np.stack(next_obs), **f32),
            torch.tensor(dones, **f32),
        )
        return batch, {"reward": float(np.sum(rews)), "n": len(self.envs)}

    def close(self) -> None:
        for env in self.envs:
            env.close()

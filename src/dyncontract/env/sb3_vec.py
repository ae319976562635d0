"""A Stable-Baselines3 ``VecEnv`` backed by the batched torch contract env.

SB3's algorithms step ``num_envs`` one-step contract envs at once, computed in one call of
:meth:`BatchedContractEnv.step <dyncontract.env.batched.BatchedContractEnv.step>` instead of
``num_envs`` numpy envs. Each vector step::

    actions (N, act_dim) for the current N states  ->  rewards (N,) float32
    dones all True (every episode is one step), infos[i]["terminal_observation"] = state i
    N fresh states from the seeded generator       ->  the returned observations

Observations are float32 in [-1, 1]^obs_dim, actions a Box [-1, 1]^act_dim (clamped to it
before scoring, like the gymnasium env's action space). ``infos[i]`` also carries ``profit``
and ``feasible`` of the scored contract.

The N sub-envs are views of one batched env, so ``get_attr``/``set_attr``/``env_method`` are
minimal: attributes set with ``set_attr`` (and ``render_mode``, None) are shared by all
sub-envs, other attributes and methods are those of the batched env, once per index.
Seeding: :meth:`seed` re-seeds the state generator, the next :meth:`reset` draws from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvStepReturn

from dyncontract.env.batched import BatchedContractEnv


class BatchedContractVecEnv(VecEnv):
    """``num_envs`` contract envs stepped as one batch (see the module docstring).

    Args:
        env: the batched contract env (its device is used; observations come back on the CPU).
        num_envs: states per vector step.
        seed: seed of the state generator (None: a random one).
    """

    def __init__(self, env: BatchedContractEnv, num_envs: int, seed: int | None = None) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs: must be >= 1, got {num_envs}")
        self.env = env
        self._shared: dict[str, Any] = {"render_mode": None}
        self._gen = torch.Generator()
        self._pending_seed: int | None = None
        self._reseed(seed)
        obs_space = gym.spaces.Box(-1.0, 1.0, (env.obs_dim,), np.float32)
        act_space = gym.spaces.Box(-1.0, 1.0, (env.act_dim,), np.float32)
        super().__init__(num_envs, obs_space, act_space)
        self._obs: torch.Tensor | None = None
        self._actions: np.ndarray | None = None

    # ---- seeding / reset ------------------------------------------------------------------
    def _reseed(self, seed: int | None) -> None:
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> 1)
        self._gen.manual_seed(int(seed))

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Re-seed the state generator (the next :meth:`reset` draws from it)."""
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1, np.uint32)[0])
        self._pending_seed = int(seed)
        return [int(seed) + i for i in range(self.num_envs)]

    def _draw(self) -> torch.Tensor:
        obs = self.env.sample_states(self.num_envs, self._gen)
        return obs.to(device=self.env.device, dtype=torch.float32)

    def reset(self) -> np.ndarray:
        if self._pending_seed is not None:
            self._reseed(self._pending_seed)
            self._pending_seed = None
        self._obs = self._draw()
        self._actions = None
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return self._obs.cpu().numpy()

    # ---- stepping -------------------------------------------------------------------------
    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions, dtype=np.float32).reshape(self.num_envs, -1)

    def step_wait(self) -> VecEnvStepReturn:
        if self._obs is None or self._actions is None:
            raise RuntimeError("call reset() and step_async() before step_wait()")
        obs = self._obs
        act = torch.as_tensor(self._actions, device=self.env.device).clamp(-1.0, 1.0)
        out = self.env.step(obs, act)
        rewards = out["reward"].cpu().numpy().astype(np.float32)
        profit = out["profit"].cpu().numpy()
        feasible = out["feasible"].cpu().numpy()
        terminal = obs.cpu().numpy()
        infos: list[dict[str, Any]] = [
            {
                "terminal_observation": terminal[i],
                "TimeLimit.truncated": False,
                "profit": float(profit[i]),
                "feasible": bool(feasible[i]),
            }
            for i in range(self.num_envs)
        ]
        self._obs = self._draw()
        self._actions = None
        dones = np.ones(self.num_envs, dtype=bool)
        return self._obs.cpu().numpy(), rewards, dones, infos

    def close(self) -> None:
        self._obs = None

    # ---- sub-env access (minimal) ---------------------------------------------------------
    def _lookup(self, name: str) -> Any:
        if name in self._shared:
            return self._shared[name]
        return getattr(self.env, name)  # AttributeError when neither has it

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        value = self._lookup(attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        self._shared[attr_name] = value

    def env_method(
        self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs
    ) -> list[Any]:
        method = getattr(self.env, method_name)
        return [method(*method_args, **method_kwargs) for _ in self._get_indices(indices)]

    def env_is_wrapped(
        self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None
    ) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

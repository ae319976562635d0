"""How a policy is scored during training: the :class:`Evaluator` protocol and two generic
implementations (an application adds its own, e.g. dyncontract's contract scorer).

* :class:`BatchedEvaluator` — mean reward on fixed held-out states of a batched one-step env;
* :class:`GymEvaluator` — mean undiscounted return of a few seeded episodes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import gymnasium as gym
import numpy as np
import torch

from dyncontract.rl.collectors import BatchedEnv, Policy, check_box, to_box


class Evaluator(Protocol):
    """``evaluator(policy) -> {metric: value}``; the keys become metrics.csv columns."""

    def __call__(self, policy: Policy) -> dict[str, float]: ...


class BatchedEvaluator:
    """Mean reward on ``n`` fixed held-out states of a batched one-step env."""

    def __init__(self, env: BatchedEnv, n: int, seed: int, device: torch.device) -> None:
        self.env = env
        g = torch.Generator().manual_seed(seed)
        self.obs = env.sample_states(n, g).to(device, torch.float32)

    @torch.no_grad()
    def __call__(self, policy: Policy) -> dict[str, float]:
        out = self.env.step(self.obs, policy(self.obs))
        res = {"eval_reward": float(out["reward"].float().mean().item())}
        if "feasible" in out:
            res["feasible_rate"] = float(out["feasible"].float().mean().item())
        return res


class GymEvaluator:
    """Mean undiscounted return of ``episodes`` episodes (seeds seed, seed+1, ...)."""

    def __init__(self, make_env: Callable[[], gym.Env], episodes: int, seed: int) -> None:
        self.env = make_env()
        self.low, self.high = check_box(self.env.action_space, "action")
        self.episodes = episodes
        self.seed = seed

    @torch.no_grad()
    def __call__(self, policy: Policy) -> dict[str, float]:
        returns = []
        for ep in range(self.episodes):
            obs, _ = self.env.reset(seed=self.seed + ep)
            total, done = 0.0, False
            while not done:
                a = policy(torch.as_tensor(np.asarray(obs, np.float32))[None])[0]
                a = to_box(a.detach().cpu().numpy().astype(np.float64), self.low, self.high)
                obs, r, term, trunc, _ = self.env.step(a.astype(np.float32))
                total += float(r)
                done = term or trunc
            returns.append(total)
        return {"return_mean": float(np.mean(returns)), "eval_reward": float(np.mean(returns))}

"""Where transitions come from and how a policy is scored.

* :class:`BatchedBanditCollector` — one-step (contextual bandit) environments with a batched
  torch interface (:class:`BatchedEnv`, e.g. :class:`~dyncontract.env.BatchedContractEnv`):
  every iteration draws ``num_envs`` fresh states and scores all actions in one call.
* :class:`GymCollector` — any gymnasium env with a bounded Box action space, stepped one env
  at a time (``vector_envs`` copies). Actions in [-1, 1] are mapped linearly to [low, high].

Evaluators return a dict of metrics: :class:`ContractEvaluator` (optimality ratio on the
cached held-out set of market states), :class:`BatchedEvaluator` (mean reward on fixed
held-out states of any batched env) and :class:`GymEvaluator` (mean episode return).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch

from dyncontract.rl.edmsac import Batch

Policy = Callable[[torch.Tensor], torch.Tensor]  # obs (n, obs_dim) -> action (n, act_dim)


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
        self.m = actions_per_state
        self.device = device
        self.obs_dim, self.act_dim = env.obs_dim, env.act_dim

    def collect(self, policy: Policy, generator: torch.Generator) -> tuple[Batch, dict[str, Any]]:
        obs = self.env.sample_states(self.num_envs // self.m, generator)
        obs = obs.to(self.device, torch.float32).repeat_interleave(self.m, dim=0)
        act = policy(obs)
        out = self.env.step(obs, act)
        rew = out["reward"].to(self.device, torch.float32)
        stats: dict[str, Any] = {"reward": rew.sum().item(), "n": self.num_envs}
        if "feasible" in out:
            stats["feasible"] = out["feasible"].float().sum().item()
        done = torch.ones(self.num_envs, device=self.device)
        return Batch(obs, act, rew, obs, done), stats

    def reset(self, seed: int) -> None:
        """Nothing to reset: every episode is one step."""

    def close(self) -> None:
        pass


def check_box(space: gym.Space, what: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise ValueError(f"env: {what} space must be a 1-D Box, got {space}")
    low, high = np.asarray(space.low, float), np.asarray(space.high, float)
    if what == "action" and not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        raise ValueError("env: action space must be bounded (finite low and high)")
    return low, high


class GymCollector:
    """Steps ``n`` gymnasium envs one transition each per :meth:`collect` call."""

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
        """Reset every env with seeds derived from ``seed`` (the trainer calls this at the start
        and at every checkpoint, so a resumed run continues exactly like an uninterrupted one)."""
        self.obs = np.stack(
            [env.reset(seed=seed * 1009 + i)[0] for i, env in enumerate(self.envs)]
        ).astype(np.float32)
        self.ep_return[:] = 0.0

    def to_env_action(self, a: np.ndarray) -> np.ndarray:
        return self.low + (np.clip(a, -1.0, 1.0) + 1.0) * 0.5 * (self.high - self.low)

    def collect(self, policy: Policy, generator: torch.Generator) -> tuple[Batch, dict[str, Any]]:
        # a copy: ``self.obs`` is overwritten below with the next observations, and an
        # aliasing tensor would store s' as s in the replay buffer (issue 13)
        obs_t = torch.tensor(self.obs, device=self.device)
        act_t = policy(obs_t)
        act = act_t.detach().cpu().numpy().astype(np.float64)
        next_obs, rews, dones = [], [], []
        for i, env in enumerate(self.envs):
            o2, r, term, trunc, _ = env.step(self.to_env_action(act[i]).astype(np.float32))
            next_obs.append(np.asarray(o2, np.float32))
            rews.append(float(r))
            dones.append(float(term))
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


@torch.no_grad()
def best_feasible(env: BatchedEnv, obs: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """Per state, the candidate contract with the highest profit among the feasible ones (the
    one with the smallest violation when none is). candidates (C, B, A) -> actions (B, A)."""
    C, B, A = candidates.shape
    out = env.step(obs.repeat(C, 1), candidates.reshape(C * B, A))
    profit = out["profit"].view(C, B).to(torch.float64)
    feasible = out["feasible"].view(C, B)
    violation = out["max_violation"].view(C, B).to(torch.float64)
    score = torch.where(feasible, profit, -1e12 - violation)
    idx = score.argmax(dim=0)
    return candidates[idx, torch.arange(B, device=candidates.device)]


def make_eval_policy(
    act: Callable[[torch.Tensor, str, int], torch.Tensor],
    mode: str,
    n: int,
    env: BatchedEnv | None = None,
) -> Policy:
    """The evaluation/deployment policy. ``act(obs, mode, n)`` draws actions from the actor.

    ``best_feasible`` needs the contract env (to score candidates); without one it is "mean".
    """
    if mode != "best_feasible":
        return lambda obs: act(obs, mode, n)
    if env is None:
        return lambda obs: act(obs, "mean", n)

    def policy(obs: torch.Tensor) -> torch.Tensor:
        cands = [act(obs, "mean", n), act(obs, "deterministic", n)]
        cands += [act(obs, "sample", n) for _ in range(n)]
        return best_feasible(env, obs, torch.stack(cands))

    return policy


class ContractEvaluator:
    """Optimality ratio of the policy's contracts on a fixed held-out set of market states."""

    def __init__(self, env: Any, held: Any, device: torch.device) -> None:
        self.env = env
        self.held = held
        self.obs = torch.as_tensor(held.obs, dtype=torch.float32, device=device)

    @torch.no_grad()
    def __call__(self, policy: Policy) -> dict[str, float]:
        act = policy(self.obs)
        out = self.env.step(self.obs, act)
        profit = out["profit"].detach().cpu().numpy()
        feasible = out["feasible"].detach().cpu().numpy()
        opt = np.asarray(self.held.optimal_profit, float)
        stat = np.asarray(self.held.static_profit, float)
        # an infeasible contract earns nothing it can claim: its ratio counts as 0
        ratio = np.where(feasible, profit / opt, 0.0)
        return {
            "optimality_ratio": float(ratio.mean()),
            "optimality_ratio_p05": float(np.quantile(ratio, 0.05)),
            "feasible_rate": float(feasible.mean()),
            "profit_mean": float(profit[feasible].mean()) if feasible.any() else float("nan"),
            "beats_static_rate": float((feasible & (profit > stat)).mean()),
            "eval_reward": float(out["reward"].mean().item()),
        }


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
                a = a.detach().cpu().numpy().astype(np.float64)
                a = self.low + (np.clip(a, -1, 1) + 1.0) * 0.5 * (self.high - self.low)
                obs, r, term, trunc, _ = self.env.step(a.astype(np.float32))
                total += float(r)
                done = term or trunc
            returns.append(total)
        return {"return_mean": float(np.mean(returns)), "eval_reward": float(np.mean(returns))}

"""Stable-Baselines3's SAC, TD3 and PPO, unchanged, trained on the gymnasium contract env.

Budget: the same environment-sample cap and wall-clock cap as the diffusion learners;
evaluations every ``eval_every_steps`` samples and every tenth of the time budget (SB3 steps
one numpy env at a time, so its curves also need points against wall time). Scored by the
protocol of :mod:`dyncontract.env.scoring`: single = ``predict(deterministic=True)``;
best_of_n samples = SAC's own Gaussian, the action plus Gaussian noise for TD3 and PPO.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from dyncontract.env import ContractDesignEnv, ScoredPolicy, noisy_sampler
from dyncontract.experiments.methods.base import MethodContext
from dyncontract.rl.budget import Budget


def run_sb3(algo: str, ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    from stable_baselines3 import PPO, SAC, TD3
    from stable_baselines3.common.callbacks import BaseCallback

    cls = {"sac": SAC, "td3": TD3, "ppo": PPO}[algo]
    setting = ctx.setting
    env = ContractDesignEnv(setting.env.base, ctx.cfg.env)
    torch.manual_seed(seed)
    model = cls("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **ctx.options)
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    limit_s = None if budget.max_minutes is None else 60.0 * budget.max_minutes
    every_s = None if limit_s is None else limit_s / 10.0
    eval_every = budget.eval_every_steps

    def predict(obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        act, _ = model.predict(obs.cpu().numpy(), deterministic=deterministic)
        return torch.as_tensor(act, dtype=torch.float64)

    def single(obs: torch.Tensor) -> torch.Tensor:
        return predict(obs, True)

    # best_of_n samples: SAC's own Gaussian; TD3 and PPO: the action plus Gaussian noise
    sampler = (
        (lambda obs, n: torch.stack([predict(obs, False) for _ in range(n)]))
        if algo == "sac"
        else noisy_sampler(single, seed=seed)
    )
    policy = ScoredPolicy(single, sampler)

    def evaluate(step: int) -> None:
        wall = time.perf_counter() - t0
        ev = setting.evaluator(policy)
        rows.append({"step": step, "wall_s": wall, "samples": step, **ev})

    class Cb(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.next_eval = eval_every
            self.next_t = every_s

        def _on_step(self) -> bool:
            elapsed = time.perf_counter() - t0
            due_t = self.next_t is not None and elapsed >= self.next_t
            if self.num_timesteps >= self.next_eval or due_t:
                evaluate(self.num_timesteps)
                while self.next_eval <= self.num_timesteps:
                    self.next_eval += eval_every
                while self.next_t is not None and every_s and self.next_t <= elapsed:
                    self.next_t += every_s
            return limit_s is None or time.perf_counter() - t0 < limit_s

    total = budget.steps if budget.steps is not None else 10**12
    model.learn(total_timesteps=total, callback=Cb(), progress_bar=False)
    if not rows or rows[-1]["step"] != model.num_timesteps:
        evaluate(int(model.num_timesteps))
    ctx.finish(policy)
    return rows


def run_sac(ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    return run_sb3("sac", ctx, seed, budget)


def run_td3(ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    return run_sb3("td3", ctx, seed, budget)


def run_ppo(ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    return run_sb3("ppo", ctx, seed, budget)

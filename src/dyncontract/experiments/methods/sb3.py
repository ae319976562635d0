"""Stable-Baselines3's SAC, TD3 and PPO, unchanged, trained on the gymnasium contract env.

Budget: the same environment-sample cap and wall-clock cap as the diffusion learners;
evaluations every ``eval_every_steps`` samples and every tenth of the time budget (SB3 steps
one numpy env at a time, so its curves also need points against wall time). Scored by the
same held-out evaluator: ``predict(deterministic=True)``, one action per state.

TensorBoard: SB3's own ``tensorboard_log`` into ``OUT/<experiment>/tensorboard/<group>/``
(SB3 names the run ``<seed>_1``), with the evaluator's metrics recorded under the same tags as
the diffusion learners' (``optimality_ratio``, ``feasible_rate``, ...).
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch

from dyncontract.env import ContractDesignEnv
from dyncontract.experiments.composition import tensorboard_dir
from dyncontract.experiments.methods.base import MethodContext
from dyncontract.rl.budget import Budget


def run_sb3(algo: str, ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    from stable_baselines3 import PPO, SAC, TD3
    from stable_baselines3.common.callbacks import BaseCallback

    cls = {"sac": SAC, "td3": TD3, "ppo": PPO}[algo]
    setting = ctx.setting
    env = ContractDesignEnv(setting.env.base, ctx.cfg.env)
    torch.manual_seed(seed)
    tb = tensorboard_dir(ctx.run_dir)  # SB3's own TensorBoard logging, next to the others
    options = {"tensorboard_log": str(tb.parent), **ctx.options}
    model = cls("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **options)
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    limit_s = None if budget.max_minutes is None else 60.0 * budget.max_minutes
    every_s = None if limit_s is None else limit_s / 10.0
    eval_every = budget.eval_every_steps

    def policy(obs: torch.Tensor) -> torch.Tensor:
        act, _ = model.predict(obs.cpu().numpy(), deterministic=True)
        return torch.as_tensor(act, dtype=torch.float64)

    def evaluate(step: int) -> None:
        wall = time.perf_counter() - t0
        ev = setting.evaluator(policy)
        rows.append({"step": step, "wall_s": wall, "samples": step, **ev})
        # the evaluator's metrics under the same tags as the diffusion learners' (SB3 logger)
        for k, v in {"wall_s": wall, **ev}.items():
            if isinstance(v, int | float) and math.isfinite(v):
                model.logger.record(k, float(v))
        model.logger.dump(step)

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
    model.learn(total_timesteps=total, callback=Cb(), progress_bar=False, tb_log_name=tb.name)
    if not rows or rows[-1]["step"] != model.num_timesteps:
        evaluate(int(model.num_timesteps))
    return rows


def run_sac(ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    return run_sb3("sac", ctx, seed, budget)


def run_td3(ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    return run_sb3("td3", ctx, seed, budget)


def run_ppo(ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    return run_sb3("ppo", ctx, seed, budget)

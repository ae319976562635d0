"""Stable-Baselines3's SAC, TD3 and PPO, unchanged, trained on the batched contract env.

**Equal footing with the diffusion learners.** SB3 steps a
:class:`~dyncontract.env.sb3_vec.BatchedContractVecEnv`: ``n_envs`` = ``rl.num_envs`` states
per vector step (256 by default), scored in one batched torch call, like EDMSAC's collector.
SAC and TD3 train once per vector step (``train_freq=1``) with ``gradient_steps`` =
``rl.updates_per_iter``, so that gradient updates per sample match EDMSAC's
(``updates_per_iter`` updates per ``num_envs`` samples), with ``batch_size``,
``learning_starts`` and ``buffer_size`` from the ``rl`` section too. PPO collects rollouts of
about :data:`PPO_ROLLOUT_SAMPLES` samples (``n_steps`` = that / ``n_envs``) and uses
``batch_size`` = ``rl.batch_size``. A spec's ``sb3:`` options override any of these (SB3's
meaning: PPO's ``n_steps`` is per env); ``n_envs`` among them sets the number of states per
vector step.

Budget: the same environment-sample cap and wall-clock cap as the diffusion learners;
evaluations every ``eval_every_steps`` samples and every tenth of the time budget. Every row
reports ``samples`` (SB3's ``num_timesteps``) and ``updates``: gradient steps of the critic
(SAC, TD3; EDMSAC counts its critic updates the same way) or of the policy-value network
(PPO, every minibatch of every epoch), counted on the optimiser itself. Scored by the
protocol of :mod:`dyncontract.env.scoring`: single = ``predict(deterministic=True)``;
best_of_n samples = SAC's own Gaussian, the action plus Gaussian noise for TD3 and PPO.

TensorBoard: SB3's own ``tensorboard_log`` into ``OUT/<experiment>/tensorboard/<group>/``
(SB3 names the run ``<seed>_1``), with the evaluator's metrics recorded under the same tags as
the diffusion learners' (``ratio_single``, ``ratio_best_of_n``, ...).
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch

from dyncontract.env import ScoredPolicy, noisy_sampler
from dyncontract.env.sb3_vec import BatchedContractVecEnv
from dyncontract.experiments.composition import tensorboard_dir
from dyncontract.experiments.methods.base import MethodContext
from dyncontract.rl.budget import Budget
from dyncontract.rl.config import RLConfig

#: PPO: samples per rollout (over all envs) unless the spec sets ``n_steps``.
PPO_ROLLOUT_SAMPLES = 4096


def sb3_kwargs(algo: str, rl: RLConfig, n_envs: int) -> dict[str, Any]:
    """The constructor arguments that put SB3's ``algo`` on EDMSAC's footing (see module)."""
    if algo in ("sac", "td3"):
        return {
            "train_freq": 1,  # one vector step = n_envs samples
            "gradient_steps": rl.updates_per_iter,
            "batch_size": rl.batch_size,
            # SB3 trains once num_timesteps > learning_starts, EDMSAC once step >=
            # learning_starts: the same vector steps get updates
            "learning_starts": max(0, rl.learning_starts - 1),
            "buffer_size": rl.buffer_size,
        }
    if algo == "ppo":
        return {
            "n_steps": max(1, round(PPO_ROLLOUT_SAMPLES / n_envs)),
            "batch_size": rl.batch_size,
        }
    raise ValueError(f"algo: must be sac, td3 or ppo, got {algo!r}")


def update_counter(model: Any, algo: str) -> list[int]:
    """A one-element list counting the optimiser steps of the critic (SAC, TD3) or of the
    policy-value network (PPO), updated by an optimiser hook."""
    opt = model.policy.optimizer if algo == "ppo" else model.critic.optimizer
    count = [0]

    def hook(*_: Any) -> None:
        count[0] += 1

    opt.register_step_post_hook(hook)
    return count


def make_model(algo: str, ctx: MethodContext, seed: int, **extra: Any) -> tuple[Any, list[int]]:
    """The SB3 model on the batched VecEnv, and its update counter (``extra``: more
    constructor arguments, e.g. ``tensorboard_log``)."""
    from stable_baselines3 import PPO, SAC, TD3

    cls = {"sac": SAC, "td3": TD3, "ppo": PPO}[algo]
    options = dict(ctx.options)
    n_envs = int(options.pop("n_envs", ctx.cfg.rl.num_envs))
    vec = BatchedContractVecEnv(ctx.setting.env, n_envs, seed=seed)
    kwargs = {**sb3_kwargs(algo, ctx.cfg.rl, n_envs), **extra, **options}
    torch.manual_seed(seed)
    model = cls("MlpPolicy", vec, seed=seed, device="cpu", verbose=0, **kwargs)
    return model, update_counter(model, algo)


def run_sb3(algo: str, ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    from stable_baselines3.common.callbacks import BaseCallback

    tb = tensorboard_dir(ctx.run_dir)  # SB3's own TensorBoard logging, next to the others
    model, updates = make_model(algo, ctx, seed, tensorboard_log=str(tb.parent))
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    limit_s = None if budget.max_minutes is None else 60.0 * budget.max_minutes
    every_s = None if limit_s is None else limit_s / 10.0
    eval_every = budget.eval_every_steps
    max_samples = budget.steps
    on_policy = algo == "ppo"  # SAC/TD3 stop at total_timesteps after that step's updates

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
        ev = ctx.curve_metrics(policy)
        rows.append({"step": step, "wall_s": wall, "samples": step, "updates": updates[0], **ev})
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
            if on_policy and max_samples is not None and self.num_timesteps >= max_samples:
                # the sample cap, mid-rollout (PPO would finish the rollout otherwise); at a
                # rollout's last step carry on: SB3 trains on it, then learn() ends
                loc = self.locals
                if loc.get("n_steps", 0) + 1 < loc.get("n_rollout_steps", 0):
                    return False
            return limit_s is None or time.perf_counter() - t0 < limit_s

    total = max_samples if max_samples is not None else 10**12
    model.learn(total_timesteps=total, callback=Cb(), progress_bar=False, tb_log_name=tb.name)
    if rows and rows[-1]["step"] == model.num_timesteps and rows[-1]["updates"] != updates[0]:
        rows.pop()  # evaluated before that step's updates: the final row has them
    if not rows or rows[-1]["step"] != model.num_timesteps:
        evaluate(int(model.num_timesteps))
    ctx.extras.update(sb3_n_envs=model.n_envs, sb3_n_updates=int(model._n_updates))
    ctx.finish(policy)
    return rows


def run_sac(ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    return run_sb3("sac", ctx, seed, budget)


def run_td3(ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    return run_sb3("td3", ctx, seed, budget)


def run_ppo(ctx: MethodContext, seed: int, budget: Budget) -> list[dict[str, Any]]:
    return run_sb3("ppo", ctx, seed, budget)

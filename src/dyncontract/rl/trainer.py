"""The training loop: collect, store, update, evaluate, checkpoint — nothing else.

The trainer knows no environment: it gets its parts handed in (CleanRL-readable, SB3-like)::

    Trainer(cfg, collector, evaluator, RunDir(path), Budget(...), seed=0).train()

* ``collector`` (:mod:`dyncontract.rl.collectors`) yields transitions; its ``group`` says how
  many adjacent rows share a state (one-step envs acted on M times per state);
* ``evaluator`` (:mod:`dyncontract.rl.evaluators`) scores a policy; its keys become columns;
* ``eval_policy`` turns the actor into the policy the evaluator scores (default: the actor's
  ``cfg.eval_action`` output; an application may add a selection step of its own);
* files go through :class:`~dyncontract.rl.rundir.RunDir`.

Reproducibility: three seeded generators (environment states, policy noise, replay sampling)
plus ``torch.manual_seed`` for the initial weights; all are checkpointed. A resumed run
continues exactly like an uninterrupted one: checkpoints are taken right after a metrics row
(no half-filled averaging window) and the collector is re-seeded at every checkpoint in both
runs. Wall seconds differ, nothing else. Training progress in [0, 1] (learning-rate decay,
target-entropy anneal, pruning schedule) is :meth:`Budget.progress`, so time-budgeted runs
are not bit-reproducible.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import torch
from tqdm.auto import tqdm

from dyncontract.rl.budget import Budget
from dyncontract.rl.buffer import ReplayBuffer
from dyncontract.rl.collectors import Collector, Policy
from dyncontract.rl.config import RLConfig
from dyncontract.rl.edmsac import EDMSAC, lr_factor
from dyncontract.rl.evaluation import ActFn, actor_act_fn, default_eval_policy
from dyncontract.rl.evaluators import Evaluator
from dyncontract.rl.rundir import RunDir, RunError

EvalPolicyFactory = Callable[[ActFn], Policy]


def resolve_device(device: str) -> torch.device:
    """``auto`` | ``cpu`` | ``cuda`` -> a torch device (RunError when unavailable)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda"):
        raise RunError(f"--device: must be auto, cpu or cuda, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise RunError("--device: cuda requested but no CUDA device is available")
    return torch.device(device)


def make_generator(device: str | torch.device, seed: int) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(int(seed))


def progress_enabled(quiet: bool) -> bool:
    """Progress bars only on a terminal and when not asked to be quiet."""
    return not quiet and sys.stderr.isatty()


def coordinate_probe(
    a: torch.Tensor, frac: float, generator: torch.Generator | None
) -> torch.Tensor:
    """Coordinate exploration: in a share ``frac`` of the rows of ``a`` (B, A), one coordinate
    (uniform) is redrawn uniformly in [-1, 1]; the other rows and coordinates are unchanged.
    A probe sees the reward along one whole axis of the action box, however far it is from
    the policy's mean and however small the policy's noise there."""
    n, d = a.shape
    pick = torch.rand(n, generator=generator, device=a.device) < frac
    col = torch.randint(0, d, (n,), generator=generator, device=a.device)
    val = 2.0 * torch.rand(n, generator=generator, device=a.device) - 1.0
    rows = pick.nonzero().squeeze(1)
    out = a.clone()
    out[rows, col[rows]] = val[rows].to(a.dtype)
    return out


class Trainer:
    """Trains an :class:`EDMSAC` agent on transitions from ``collector``.

    Args:
        cfg: the ``rl`` section (algorithm and loop settings).
        collector: the source of transitions.
        evaluator: scores the evaluation policy at every metrics row.
        run: the run directory.
        budget: when to stop and how often to evaluate.
        seed: seeds weights, environment states, policy noise and replay sampling.
        device: a torch device.
        eval_policy: actor -> evaluation policy (default :func:`default_eval_policy`).
        meta: extra entries for run.json (e.g. the env id the application resolved).
        quiet: no progress bar.
        tensorboard: a folder for TensorBoard event files (optional): every metrics row is
            also written there, one scalar per column (tag = column name, step = ``step``).
            metrics.csv stays the source of truth.
    """

    def __init__(
        self,
        cfg: RLConfig,
        collector: Collector,
        evaluator: Evaluator,
        run: RunDir,
        budget: Budget,
        seed: int = 0,
        device: torch.device | str = "cpu",
        eval_policy: EvalPolicyFactory | None = None,
        meta: Mapping[str, Any] | None = None,
        quiet: bool = False,
        tensorboard: str | os.PathLike | None = None,
    ) -> None:
        self.rl = cfg
        self.tensorboard = tensorboard
        self._tb: Any = None
        self.collector = collector
        self.evaluator = evaluator
        self.run = run
        self.budget = budget
        self.seed = seed
        self.device = torch.device(device)
        self.quiet = quiet
        self.meta = dict(meta or {})
        self.make_eval_policy = eval_policy or (
            lambda act: default_eval_policy(act, cfg.eval_action, cfg.eval_samples)
        )
        self.obs_dim, self.act_dim = collector.obs_dim, collector.act_dim
        torch.manual_seed(seed)
        self.agent = EDMSAC(cfg, self.obs_dim, self.act_dim, self.device, group=collector.group)
        self.buffer = ReplayBuffer(
            cfg.buffer_size, self.obs_dim, self.act_dim, self.device, group=collector.group
        )
        self.gen_env = make_generator("cpu", 4 * seed + 1)
        self.gen_act = make_generator(self.device, 4 * seed + 2)
        self.gen_buf = make_generator("cpu", 4 * seed + 3)
        self.step = 0
        self.elapsed_before = 0.0
        self.next_eval = budget.eval_every_steps
        self.next_ckpt = cfg.checkpoint_every_steps
        self.rows: list[dict[str, Any]] = []
        self._reset_window()
        self.collector.reset(seed)

    # ------------------------------------------------------------------------------------------
    def _reset_window(self) -> None:
        self.w_reward = 0.0
        self.w_n = 0
        self.w_feasible: float | None = None
        #: per-key running (sum, count) of the update diagnostics since the last metrics row
        #: (a sum stays one 0-d tensor on the device: no sync per update, and nothing per
        #: update is kept alive — one kept tensor per update grew the process by ~170 KB per
        #: update through the allocator, gigabytes over a 20 k-update window)
        self.w_info: dict[str, tuple[torch.Tensor | float, int]] = {}

    def eval_policy(self) -> Policy:
        """The policy the evaluator scores (fresh noise each evaluation: training unaffected)."""
        return self.make_eval_policy(actor_act_fn(self.agent.deployed_actor, self.device))

    # ------------------------------------------------------------------------------------------
    def write_meta(self) -> None:
        """run.json (also on resume: the budget may change)."""
        self.run.write_meta(
            {
                "seed": self.seed,
                "device": str(self.device),
                **self.budget.model_dump(),
                "algo": self.rl.algo,
                "obs_dim": self.obs_dim,
                "act_dim": self.act_dim,
                **self.meta,
            }
        )

    def log_row(self, elapsed: float) -> dict[str, Any]:
        ev = self.evaluator(self.eval_policy())
        n = self.w_n
        row: dict[str, Any] = {
            "step": self.step,
            "wall_s": round(elapsed, 3),
            "samples": self.step,
            "updates": self.agent.n_updates,
            "reward": self.w_reward / n if n else math.nan,
            "train_feasible_rate": self.w_feasible / n
            if n and self.w_feasible is not None
            else math.nan,
            "prune_ratio": self.agent.prune_ratio(),
            "mask_churn": float(pr.take_churn()) if (pr := self.agent.pruner) else None,
            "alpha": self.agent.alpha,
            "lr_factor": lr_factor(
                self.rl.lr_schedule, self.budget.progress(self.step, elapsed), self.rl.lr_final_frac
            ),
        }
        for k in ("entropy", "target_entropy", "critic_loss", "actor_loss"):
            total, n = self.w_info.get(k, (0.0, 0))
            row[k] = float(total) / n if n else math.nan
        row.update(ev)
        self.rows.append(row)
        self.run.write_metrics(self.rows)
        self._log_tensorboard(row)
        self._reset_window()
        return row

    # ----- TensorBoard (optional mirror of metrics.csv) ---------------------------------------
    def _open_tensorboard(self) -> None:
        if self.tensorboard is None:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # pragma: no cover - tensorboard is a dependency
            raise RunError("--tensorboard: the tensorboard package is not installed") from None
        # a resumed run drops the events past its checkpoint (they are written again)
        self._tb = SummaryWriter(str(self.tensorboard), purge_step=self.step + 1)

    def _log_tensorboard(self, row: Mapping[str, Any]) -> None:
        if self._tb is None:
            return
        for k, v in row.items():
            if k != "step" and isinstance(v, int | float) and not isinstance(v, bool):
                if math.isfinite(v):
                    self._tb.add_scalar(k, v, global_step=int(row["step"]))
        self._tb.flush()

    def save(self, elapsed: float) -> None:
        self.run.save_checkpoint(
            {
                "step": self.step,
                "elapsed": elapsed,
                "next_eval": self.next_eval,
                "next_ckpt": self.next_ckpt,
                "obs_dim": self.obs_dim,
                "act_dim": self.act_dim,
                "algo": self.rl.algo,
                "actor_arch": dict(self.agent.actor.arch),
                "deployed_actor": self.agent.deployed_key,
                "agent": self.agent.training_state(),
                "buffer": self.buffer.state_dict(),
                "rng": {
                    "env": self.gen_env.get_state(),
                    "act": self.gen_act.get_state(),
                    "buf": self.gen_buf.get_state(),
                },
            }
        )

    def restore(self) -> None:
        ck = self.run.load_checkpoint(map_location=self.device)
        if (ck["obs_dim"], ck["act_dim"]) != (self.obs_dim, self.act_dim):
            raise RunError("--resume: checkpoint shapes differ from the run's environment")
        try:
            self.agent.load_training_state(ck["agent"])
            self.buffer.load_state_dict(ck["buffer"])
            self.gen_env.set_state(ck["rng"]["env"])
            self.gen_act.set_state(ck["rng"]["act"])
            self.gen_buf.set_state(ck["rng"]["buf"])
        except (RuntimeError, KeyError, TypeError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RunError(
                f"--resume: the checkpoint does not match the run's config ({first})"
            ) from None
        self.step = int(ck["step"])
        self.elapsed_before = float(ck["elapsed"])
        self.next_eval = int(ck["next_eval"])
        self.next_ckpt = int(ck["next_ckpt"])
        self.rows = [r for r in self.run.read_metrics() if r["step"] <= self.step]
        self.run.write_metrics(self.rows)
        self.collector.reset(self.seed + self.step)

    def _postfix(self, row: dict[str, Any]) -> dict[str, str]:
        """Progress-bar summary: the evaluator's primary metric, alpha and pruning."""
        primary = getattr(self.evaluator, "primary", "eval_reward")
        out = {}
        for k, name in ((primary, "eval"), ("return_mean", "ret"), ("alpha", "alpha")):
            v = row.get(k)
            if isinstance(v, float) and not math.isnan(v):
                out[name] = f"{v:.4g}"
        if self.agent.pruner is not None:
            out["prune"] = f"{row['prune_ratio']:.2f}"
        return out

    def _checkpoint(self, elapsed: float) -> None:
        self.save(elapsed)
        self.collector.reset(self.seed + self.step)

    # ------------------------------------------------------------------------------------------
    def explore(self, obs: torch.Tensor) -> torch.Tensor:
        """The behaviour policy: uniform before ``learning_starts``, then the actor's samples
        (plus optional Gaussian noise and coordinate probes, :func:`coordinate_probe`)."""
        rl = self.rl
        if self.step < rl.learning_starts:
            u = torch.rand(obs.shape[0], self.act_dim, generator=self.gen_act, device=self.device)
            return 2.0 * u - 1.0
        a = self.agent.act(obs, self.gen_act, mode="sample")
        if rl.explore_noise > 0:
            z = torch.randn(a.shape, generator=self.gen_act, device=self.device)
            a = (a + rl.explore_noise * z).clamp(-1.0, 1.0)
        if rl.explore_coordinate > 0:
            a = coordinate_probe(a, rl.explore_coordinate, self.gen_act)
        return a

    def train(self, resume: bool = False) -> list[dict[str, Any]]:
        """Train until the budget is spent; returns the metrics rows."""
        if resume:
            self.restore()
        self.run.path.mkdir(parents=True, exist_ok=True)
        self.write_meta()
        rl, agent, budget = self.rl, self.agent, self.budget
        t0 = time.perf_counter() - self.elapsed_before
        bar = tqdm(
            total=budget.steps,
            initial=self.step,
            unit="step",
            unit_scale=True,
            disable=not progress_enabled(self.quiet),
            dynamic_ncols=True,
        )
        last_logged = self.rows[-1]["step"] if self.rows else -1
        self._open_tensorboard()
        try:
            while not budget.done(self.step, time.perf_counter() - t0):
                batch, stats = self.collector.collect(self.explore, self.gen_env)
                self.buffer.add(batch)
                self.step += int(stats["n"])
                self.w_reward += stats["reward"]
                if "feasible" in stats:
                    self.w_feasible = (self.w_feasible or 0.0) + stats["feasible"]
                self.w_n += int(stats["n"])
                bar.update(stats["n"])
                if self.step >= rl.learning_starts and self.buffer.size >= rl.batch_size:
                    progress = budget.progress(self.step, time.perf_counter() - t0)
                    for _ in range(rl.updates_per_iter):
                        batch = self.buffer.sample(rl.batch_size, self.gen_buf)
                        info = agent.update(batch, self.gen_act, progress)
                        for k, v in info.items():
                            total, n = self.w_info.get(k, (0.0, 0))
                            self.w_info[k] = (total + v, n + 1)
                elapsed = time.perf_counter() - t0
                if self.step >= self.next_eval or budget.done(self.step, elapsed):
                    while self.next_eval <= self.step:
                        self.next_eval += budget.eval_every_steps
                    row = self.log_row(elapsed)
                    last_logged = self.step
                    bar.set_postfix(self._postfix(row), refresh=False)
                    if self.step >= self.next_ckpt:
                        while self.next_ckpt <= self.step:
                            self.next_ckpt += rl.checkpoint_every_steps
                        self._checkpoint(elapsed)
            elapsed = time.perf_counter() - t0
            if last_logged != self.step:
                self.log_row(elapsed)
            self._checkpoint(elapsed)
        finally:
            bar.close()
            if self._tb is not None:
                self._tb.close()
                self._tb = None
        return self.rows

"""Training loop, run directory, metrics and resume.

Run directory layout::

    RUN_DIR/config.yaml     the resolved config (all sections)
    RUN_DIR/run.json        budget, seed, device, env and shapes of the run
    RUN_DIR/metrics.csv     one row per evaluation (see METRIC_COLUMNS)
    RUN_DIR/checkpoint.pt   latest checkpoint (atomic; weights-only loadable)

Reproducibility: three seeded generators (environment states, policy noise, replay sampling)
plus ``torch.manual_seed`` for the initial weights; all of them are checkpointed. A resumed
run continues exactly like an uninterrupted one: checkpoints are taken right after a
metrics row (no half-filled averaging window), and generic gymnasium envs are re-seeded at
every checkpoint in both runs. Wall seconds differ, nothing else. Training progress in
[0, 1] (learning-rate decay, target-entropy anneal, pruning schedule) is ``step / steps``;
with a time budget it is the elapsed fraction of ``--max-minutes`` (the larger of the two when
both are given), so time-budgeted runs are not bit-reproducible.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from tqdm.auto import tqdm

from dyncontract._io import write_json_atomic, write_text_atomic
from dyncontract.config import DyncontractConfig, dump_config
from dyncontract.rl.buffer import ReplayBuffer
from dyncontract.rl.checkpoint import load_checkpoint, save_checkpoint
from dyncontract.rl.config import CONTRACT_ENV_ID
from dyncontract.rl.edmsac import EDMSAC, lr_factor
from dyncontract.rl.envs import (
    BatchedBanditCollector,
    BatchedEnv,
    BatchedEvaluator,
    ContractEvaluator,
    GymCollector,
    GymEvaluator,
    make_eval_policy,
)

METRIC_COLUMNS = [
    "step",
    "wall_s",
    "updates",
    "reward",
    "train_feasible_rate",
    "eval_reward",
    "optimality_ratio",
    "optimality_ratio_p05",
    "feasible_rate",
    "profit_mean",
    "beats_static_rate",
    "return_mean",
    "prune_ratio",
    "alpha",
    "entropy",
    "target_entropy",
    "critic_loss",
    "actor_loss",
    "lr_factor",
]

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.csv"
CONFIG = "config.yaml"
RUN_JSON = "run.json"


class RunError(ValueError):
    """A problem with the run's input (env id, run directory, resume state): one line."""


@dataclass
class RunSpec:
    """How long and where to train. ``steps`` and ``max_minutes`` may both be None (then the
    config's ``rl.total_steps``)."""

    seed: int = 0
    device: str = "cpu"
    steps: int | None = None
    max_minutes: float | None = None


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RunError("--device: cuda requested but torch.cuda.is_available() is False")
    if device not in ("cpu", "cuda"):
        raise RunError(f"--device: must be auto, cpu or cuda, got {device!r}")
    return device


def make_generator(device: str | torch.device, seed: int) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(int(seed))


def gym_maker(env_id: str) -> Callable[[], gym.Env]:
    try:
        spec = gym.spec(env_id)
    except Exception as exc:  # gymnasium raises several error types for unknown ids
        raise RunError(f"--env: unknown gymnasium environment {env_id!r} ({exc})") from None

    def make() -> gym.Env:
        return gym.make(spec)

    return make


class Trainer:
    """Builds env, agent, buffer and evaluator for a run directory and trains.

    Args:
        cfg: the resolved config (sections scenario, env, rl).
        run_dir: output directory.
        spec: seed / device / budget.
        quiet: no progress bar.
        batched_env: use this one-step batched env instead of ``cfg.rl.env_id`` (tests).
        heldout_cache_dir: cache of the held-out optima (default: the env layer's).
    """

    def __init__(
        self,
        cfg: DyncontractConfig,
        run_dir: str | Path,
        spec: RunSpec,
        quiet: bool = False,
        batched_env: BatchedEnv | None = None,
        heldout_cache_dir: str | Path | None = None,
    ) -> None:
        self.cfg = cfg
        self.rl = cfg.rl
        self.run_dir = Path(run_dir)
        self.spec = spec
        self.quiet = quiet
        self.device = torch.device(resolve_device(spec.device))
        if spec.steps is None and spec.max_minutes is None:
            self.spec = RunSpec(spec.seed, spec.device, self.rl.total_steps, None)
        self.collector: Any
        self.evaluator: Callable[[Callable], dict[str, float]]
        rl = self.rl
        if batched_env is not None:
            self.collector = BatchedBanditCollector(
                batched_env, rl.num_envs, self.device, rl.actions_per_state
            )
            self.evaluator = BatchedEvaluator(batched_env, 256, 12345, self.device)
            self.kind = "batched"
        elif rl.env_id == CONTRACT_ENV_ID:
            from dyncontract.env import BatchedContractEnv, HeldOutSet

            base = cfg.scenario_obj()
            env = BatchedContractEnv(base, cfg.env, device=self.device)
            self.collector = BatchedBanditCollector(
                env, rl.num_envs, self.device, rl.actions_per_state
            )
            held = HeldOutSet.build(
                base,
                cfg.env,
                cache_dir=heldout_cache_dir,
                progress=not quiet and _tty(),
            )
            self.evaluator = ContractEvaluator(env, held, self.device)
            self.kind = "contract"
        else:
            make = gym_maker(rl.env_id)
            try:
                self.collector = GymCollector(make, rl.vector_envs, spec.seed, self.device)
                self.evaluator = GymEvaluator(make, rl.eval_episodes, 10_000 + spec.seed)
            except ValueError as exc:
                raise RunError(str(exc)) from None
            self.kind = "gym"
        self.obs_dim, self.act_dim = self.collector.obs_dim, self.collector.act_dim
        # M actions per state only for one-step batched envs (groups need terminal rows)
        group = rl.actions_per_state if self.kind != "gym" else 1
        torch.manual_seed(spec.seed)
        self.agent = EDMSAC(rl, self.obs_dim, self.act_dim, self.device, group=group)
        self.buffer = ReplayBuffer(
            rl.buffer_size, self.obs_dim, self.act_dim, self.device, group=group
        )
        s = spec.seed
        self.gen_env = make_generator("cpu", 4 * s + 1)
        self.gen_act = make_generator(self.device, 4 * s + 2)
        self.gen_buf = make_generator("cpu", 4 * s + 3)
        self.step = 0
        self.elapsed_before = 0.0
        self.next_eval = rl.eval_every_steps
        self.next_ckpt = rl.checkpoint_every_steps
        self.rows: list[dict[str, Any]] = []
        self._reset_window()

    # ------------------------------------------------------------------------------------------
    def _reset_window(self) -> None:
        self.w_reward = 0.0
        self.w_n = 0
        self.w_feasible = 0.0
        self.w_info: dict[str, list[float]] = {}

    def progress(self, elapsed: float) -> float:
        p = 0.0
        if self.spec.steps:
            p = max(p, self.step / self.spec.steps)
        if self.spec.max_minutes:
            p = max(p, elapsed / (60.0 * self.spec.max_minutes))
        return min(p, 1.0)

    def _done(self, elapsed: float) -> bool:
        if self.spec.steps is not None and self.step >= self.spec.steps:
            return True
        return self.spec.max_minutes is not None and elapsed >= 60.0 * self.spec.max_minutes

    def eval_policy(self) -> Callable[[torch.Tensor], torch.Tensor]:
        gen = make_generator(self.device, 777)  # fresh each evaluation: no effect on training
        actor = self.agent.actor

        def act(obs: torch.Tensor, mode: str, n: int) -> torch.Tensor:
            return actor.act(obs.to(self.device), gen, mode=mode, n=n)

        env = getattr(self.evaluator, "env", None) if self.kind == "contract" else None
        return make_eval_policy(act, self.rl.eval_action, self.rl.eval_samples, env)

    # ------------------------------------------------------------------------------------------
    def write_run_files(self, config: bool = True) -> None:
        """config.yaml (new runs) and run.json (also on resume: the budget may change)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if config:
            write_text_atomic(self.run_dir / CONFIG, dump_config(self.cfg))
        meta = {
            **asdict(self.spec),
            "device": str(self.device),
            "env_id": self.rl.env_id,
            "algo": self.rl.algo,
            "kind": self.kind,
            "obs_dim": self.obs_dim,
            "act_dim": self.act_dim,
        }
        write_json_atomic(self.run_dir / RUN_JSON, meta)

    def _write_metrics(self) -> None:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=METRIC_COLUMNS, lineterminator="\n")
        w.writeheader()
        for r in self.rows:
            w.writerow({k: _fmt(r.get(k)) for k in METRIC_COLUMNS})
        write_text_atomic(self.run_dir / METRICS, buf.getvalue())

    def log_row(self, elapsed: float) -> dict[str, Any]:
        ev = self.evaluator(self.eval_policy())
        row: dict[str, Any] = {
            "step": self.step,
            "wall_s": round(elapsed, 3),
            "updates": self.agent.n_updates,
            "reward": self.w_reward / self.w_n if self.w_n else math.nan,
            "train_feasible_rate": self.w_feasible / self.w_n
            if self.w_n and self.kind == "contract"
            else math.nan,
            "prune_ratio": self.agent.prune_ratio(),
            "alpha": self.agent.alpha,
            "lr_factor": lr_factor(
                self.rl.lr_schedule, self.progress(elapsed), self.rl.lr_final_frac
            ),
        }
        for k in ("entropy", "target_entropy", "critic_loss", "actor_loss"):
            v = self.w_info.get(k)
            row[k] = float(np.mean([float(x) for x in v])) if v else math.nan
        row.update(ev)
        self.rows.append(row)
        self._write_metrics()
        self._reset_window()
        return row

    def save(self, elapsed: float) -> None:
        state = {
            "step": self.step,
            "elapsed": elapsed,
            "next_eval": self.next_eval,
            "next_ckpt": self.next_ckpt,
            "obs_dim": self.obs_dim,
            "act_dim": self.act_dim,
            "env_id": self.rl.env_id,
            "algo": self.rl.algo,
            "actor_arch": _arch(self.agent),
            "agent": self.agent.training_state(),
            "buffer": self.buffer.state_dict(),
            "rng": {
                "env": self.gen_env.get_state(),
                "act": self.gen_act.get_state(),
                "buf": self.gen_buf.get_state(),
            },
        }
        save_checkpoint(self.run_dir / CHECKPOINT, state)

    def restore(self) -> None:
        ck = load_checkpoint(self.run_dir / CHECKPOINT, map_location=self.device)
        if (ck["obs_dim"], ck["act_dim"]) != (self.obs_dim, self.act_dim):
            raise RunError("--resume: checkpoint shapes differ from the run's environment")
        self.agent.load_training_state(ck["agent"])
        self.buffer.load_state_dict(ck["buffer"])
        self.gen_env.set_state(ck["rng"]["env"])
        self.gen_act.set_state(ck["rng"]["act"])
        self.gen_buf.set_state(ck["rng"]["buf"])
        self.step = int(ck["step"])
        self.elapsed_before = float(ck["elapsed"])
        self.next_eval = int(ck["next_eval"])
        self.next_ckpt = int(ck["next_ckpt"])
        self.rows = [r for r in read_metrics(self.run_dir / METRICS) if r["step"] <= self.step]
        self._write_metrics()
        if self.kind == "gym":
            self.collector.reset(self.spec.seed + self.step)

    # ------------------------------------------------------------------------------------------
    def train(self, resume: bool = False) -> list[dict[str, Any]]:
        """Train until the budget is spent; returns the metrics rows."""
        if resume:
            self.restore()
            self.write_run_files(config=False)
        else:
            self.write_run_files()
        rl, agent = self.rl, self.agent
        t0 = time.perf_counter() - self.elapsed_before
        bar = tqdm(
            total=self.spec.steps if self.spec.steps else None,
            initial=self.step,
            unit="step",
            unit_scale=True,
            disable=self.quiet or not _tty(),
            dynamic_ncols=True,
        )

        def sample_policy(obs: torch.Tensor) -> torch.Tensor:
            if self.step < rl.learning_starts:
                n = obs.shape[0]
                u = torch.rand(n, self.act_dim, generator=self.gen_act, device=self.device)
                return 2.0 * u - 1.0
            a = agent.act(obs, self.gen_act, mode="sample")
            if rl.explore_noise > 0:
                z = torch.randn(a.shape, generator=self.gen_act, device=self.device)
                a = (a + rl.explore_noise * z).clamp(-1.0, 1.0)
            return a

        last_logged = self.rows[-1]["step"] if self.rows else -1
        try:
            while not self._done(time.perf_counter() - t0):
                batch, stats = self.collector.collect(sample_policy, self.gen_env)
                self.buffer.add(batch)
                self.step += stats["n"]
                self.w_reward += stats["reward"]
                self.w_feasible += stats.get("feasible", 0.0)
                self.w_n += stats["n"]
                bar.update(stats["n"])
                if self.step >= rl.learning_starts and self.buffer.size >= rl.batch_size:
                    progress = self.progress(time.perf_counter() - t0)
                    for _ in range(rl.updates_per_iter):
                        info = agent.update(
                            self.buffer.sample(rl.batch_size, self.gen_buf), self.gen_act, progress
                        )
                        for k, v in info.items():
                            self.w_info.setdefault(k, []).append(v)
                elapsed = time.perf_counter() - t0
                if self.step >= self.next_eval or self._done(elapsed):
                    while self.next_eval <= self.step:
                        self.next_eval += rl.eval_every_steps
                    row = self.log_row(elapsed)
                    last_logged = self.step
                    bar.set_postfix(_postfix(row), refresh=False)
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
        return self.rows

    def _checkpoint(self, elapsed: float) -> None:
        self.save(elapsed)
        if self.kind == "gym":
            self.collector.reset(self.spec.seed + self.step)


# ----------------------------------------------------------------------------------------------
def _arch(agent: EDMSAC) -> dict[str, Any]:
    return dict(agent.actor.arch)


def _tty() -> bool:
    import sys

    return sys.stderr.isatty()


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    return str(v)


def _postfix(row: dict[str, Any]) -> dict[str, str]:
    out = {}
    for k, name in (
        ("optimality_ratio", "ratio"),
        ("return_mean", "ret"),
        ("eval_reward", "eval"),
        ("alpha", "alpha"),
        ("prune_ratio", "prune"),
    ):
        v = row.get(k)
        if isinstance(v, float) and not math.isnan(v):
            out[name] = f"{v:.4g}"
            if k in ("optimality_ratio", "return_mean"):
                out.pop("eval", None)
    return out


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """metrics.csv as a list of dicts (numbers parsed, blanks -> NaN)."""
    p = Path(path)
    if not p.exists():
        return []
    rows = []
    with p.open(newline="") as fh:
        for r in csv.DictReader(fh):
            row: dict[str, Any] = {}
            for k, v in r.items():
                if k in ("step", "updates"):
                    row[k] = int(v)
                else:
                    row[k] = float(v) if v not in ("", None) else math.nan
            rows.append(row)
    return rows


def load_run(run_dir: str | Path) -> tuple[DyncontractConfig, dict[str, Any]]:
    """The resolved config and run.json of a run directory."""
    from dyncontract.config import load_config

    d = Path(run_dir)
    if not (d / CONFIG).is_file() or not (d / RUN_JSON).is_file():
        raise RunError(f"run directory: {d} has no {CONFIG} / {RUN_JSON} (not a training run)")
    cfg = load_config(d / CONFIG)
    try:
        meta = json.loads((d / RUN_JSON).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise RunError(f"run directory: cannot read {d / RUN_JSON} ({exc})") from None
    return cfg, meta

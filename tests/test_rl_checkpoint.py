"""Checkpoints: weights-only loading rejects tampered pickles; resume == uninterrupted run."""

from __future__ import annotations

import csv
import os
import pickle

import pytest
import torch
from helpers import TOY_GYM_ID, tiny_config, toy_trainer

from dyncontract.experiments.composition import build_trainer
from dyncontract.rl.budget import Budget
from dyncontract.rl.rundir import (
    CHECKPOINT,
    METRICS,
    CheckpointError,
    RunDir,
    load_checkpoint,
)
from dyncontract.rl.trainer import Trainer


def save_checkpoint(path, state):
    return RunDir(path.parent).save_checkpoint(state) if path.name == CHECKPOINT else None


class _Evil:
    """Unpickling this runs a shell command (what a tampered checkpoint would smuggle)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_checkpoint_roundtrip(tmp_path):
    p = tmp_path / CHECKPOINT
    save_checkpoint(p, {"step": 3, "w": torch.arange(4.0), "nested": {"a": [1, 2.5, "x"]}})
    st = load_checkpoint(p)
    assert st["step"] == 3 and torch.equal(st["w"], torch.arange(4.0))
    assert st["nested"]["a"] == [1, 2.5, "x"]
    assert not list(tmp_path.glob(".*.tmp"))  # the temp file was renamed away


def test_tampered_pickle_is_rejected(tmp_path):
    marker = tmp_path / "pwned"
    p = tmp_path / "ck.pt"
    torch.save(
        {"format": "dyncontract-edmsac-checkpoint", "version": 1, "x": _Evil(str(marker))}, p
    )
    with pytest.raises(CheckpointError, match="weights-only"):
        load_checkpoint(p)
    assert not marker.exists()
    # the same payload as a raw pickle file is rejected too
    with open(p, "wb") as fh:
        pickle.dump(_Evil(str(marker)), fh)
    with pytest.raises(CheckpointError):
        load_checkpoint(p)
    assert not marker.exists()


def test_damaged_or_foreign_files_are_rejected(tmp_path):
    p = tmp_path / "ck.pt"
    p.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError):
        load_checkpoint(p)
    torch.save({"weights": torch.zeros(2)}, p)
    with pytest.raises(CheckpointError, match="not a dyncontract"):
        load_checkpoint(p)
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "missing.pt")


class _Interrupt(Exception):
    pass


def _interrupt_after(trainer: Trainer, step: int) -> None:
    """Make the trainer's collector raise once ``step`` env samples have been collected."""
    inner = trainer.collector.collect

    def collect(policy, generator):
        if trainer.step >= step:
            raise _Interrupt
        return inner(policy, generator)

    trainer.collector.collect = collect  # type: ignore[method-assign]


def _rows(path):
    with open(path / METRICS, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r.pop("wall_s")
    return rows


@pytest.mark.parametrize("kind", ["batched", "gym"])
def test_resume_reproduces_uninterrupted_run(tmp_path, kind):
    if kind == "batched":
        cfg = tiny_config(
            eval_every_steps=512,
            checkpoint_every_steps=1024,
            actions_per_state=4,  # the grouped buffer path
            reward_clip_quantile=0.1,
        )
        steps, stop = 4096, 2600

        def make(d) -> Trainer:
            return toy_trainer(cfg.rl, d, steps, seed=3)
    else:
        cfg = tiny_config(
            env_id=TOY_GYM_ID,
            vector_envs=2,
            learning_starts=64,
            batch_size=32,
            eval_every_steps=64,
            checkpoint_every_steps=128,
            eval_episodes=3,
        )
        steps, stop = 400, 350

        def make(d) -> Trainer:
            budget = Budget(steps=steps, eval_every_steps=64)
            return build_trainer(cfg, d, budget, seed=3, quiet=True)

    make(tmp_path / "full").train()

    part = make(tmp_path / "part")
    _interrupt_after(part, stop)
    with pytest.raises(_Interrupt):
        part.train()
    ck_step = load_checkpoint(tmp_path / "part" / CHECKPOINT)["step"]
    assert 0 < ck_step < stop
    # the interrupted run logged rows past its last checkpoint; resume must drop them
    assert int(_rows(tmp_path / "part")[-1]["step"]) > ck_step

    make(tmp_path / "part").train(resume=True)
    a, b = _rows(tmp_path / "full"), _rows(tmp_path / "part")
    assert len(a) == len(b)
    assert a == b
    fa = load_checkpoint(tmp_path / "full" / CHECKPOINT)["agent"]["actor"]
    fb = load_checkpoint(tmp_path / "part" / CHECKPOINT)["agent"]["actor"]
    assert all(torch.equal(fa[k], fb[k]) for k in fa)


def test_same_seed_same_metrics_other_seed_differs(tmp_path):
    cfg = tiny_config(eval_every_steps=512)
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        toy_trainer(cfg.rl, tmp_path / name, 1536, seed=seed).train()
    assert _rows(tmp_path / "a") == _rows(tmp_path / "b")
    assert _rows(tmp_path / "a") != _rows(tmp_path / "c")

"""TensorBoard logs: ``train --tensorboard`` mirrors metrics.csv, and the SB3
baselines of ``reproduce`` write into the same tree with the same evaluation tags."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from helpers import TINY, TOY_GYM_ID
from typer.testing import CliRunner

from dyncontract.cli.main import app
from dyncontract.config import build_config
from dyncontract.experiments.composition import tensorboard_dir
from dyncontract.rl.budget import Budget
from dyncontract.rl.rundir import RunDir

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
runner = CliRunner()


def scalars(logdir: Path) -> dict[str, dict[int, float]]:
    acc = event_accumulator.EventAccumulator(str(logdir), size_guidance={"scalars": 0})
    acc.Reload()
    return {t: {e.step: e.value for e in acc.Scalars(t)} for t in acc.Tags()["scalars"]}


def _sets(**extra: object) -> list[str]:
    out: list[str] = []
    for k, v in {**TINY, **extra}.items():
        out += ["--set", f"rl.{k}={v}"]
    return out


def test_train_tensorboard_mirrors_metrics_csv(tmp_path):
    out, tb = tmp_path / "run", tmp_path / "tb"
    args = ["train", "--algo", "dmsac", "--env", TOY_GYM_ID, "--steps", "300", "--out", str(out)]
    args += ["--device", "cpu", "-q", "--tensorboard", str(tb)]
    args += _sets(learning_starts=64, batch_size=32, eval_every_steps=100)
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert list(tb.glob("events.out.tfevents.*"))
    got = scalars(tb)
    rows = RunDir(out).read_metrics()
    assert [r["step"] for r in rows] == [100, 200, 300]
    for col in ("reward", "return_mean", "alpha", "critic_loss", "wall_s", "updates"):
        assert col in got, sorted(got)
        for r in rows:
            v = r[col]
            if isinstance(v, float) and math.isnan(v):
                assert r["step"] not in got[col]
            else:
                assert got[col][r["step"]] == pytest.approx(float(v), rel=1e-6), col
    # the config key does the same (and is stored in the run's config)
    out2 = tmp_path / "run2"
    args2 = [a if a != str(out) else str(out2) for a in args if a not in ("--tensorboard",)]
    args2.remove(str(tb))
    args2 += ["--set", f"logging.tensorboard={tmp_path / 'tb2'}"]
    res = runner.invoke(app, args2)
    assert res.exit_code == 0, res.output
    assert set(scalars(tmp_path / "tb2")) == set(got)
    assert "tensorboard:" in (out2 / "config.yaml").read_text()


def test_failed_start_leaves_no_tensorboard_folder(tmp_path):
    tb = tmp_path / "a" / "tb"
    args = ["train", "--out", str(tmp_path / "run"), "--steps", "10", "--tensorboard", str(tb)]
    res = runner.invoke(app, [*args, "--env", "NoSuchEnv-v9"])
    assert res.exit_code == 2, res.output
    assert not (tmp_path / "a").exists() and not (tmp_path / "run").exists()


def test_sb3_and_diffusion_share_one_tree(tmp_path):
    from dyncontract.experiments.methods.base import MethodContext
    from dyncontract.experiments.methods.sb3 import run_sb3

    cfg = build_config({}, {"env": {"held_out_states": 4}})
    run_dir = tmp_path / "exp" / "sac" / "0"
    run_dir.mkdir(parents=True)
    ctx = MethodContext(cfg, run_dir, tmp_path / "cache", {"learning_starts": 50})
    rows = run_sb3("sac", ctx, 0, Budget(steps=120, eval_every_steps=60))
    tb = tensorboard_dir(run_dir)
    assert tb == tmp_path / "exp" / "tensorboard" / "sac" / "0"
    runs = list(tb.parent.glob("0_*"))  # SB3 names its run <tb_log_name>_<n>
    assert len(runs) == 1
    got = scalars(runs[0])
    assert "ratio_single" in got and "feasible_single" in got
    for r in rows:
        assert got["ratio_single"][r["step"]] == pytest.approx(r["ratio_single"], rel=1e-6)
    # the diffusion learners write next to it, under the same tags
    from dyncontract.experiments.methods.diffusion import run_diffusion

    rl = {**TINY, "num_envs": 64, "batch_size": 64, "learning_starts": 64}
    cfg = build_config({}, {"env": {"held_out_states": 4}, "rl": rl})
    run_dir = tmp_path / "exp" / "edmsac" / "0"
    run_dir.mkdir(parents=True)
    ctx = MethodContext(cfg, run_dir, tmp_path / "cache")
    rows = run_diffusion(ctx, 0, Budget(steps=128, eval_every_steps=64))
    got = scalars(tmp_path / "exp" / "tensorboard" / "edmsac" / "0")
    for r in rows:
        assert got["ratio_single"][r["step"]] == pytest.approx(r["ratio_single"], rel=1e-6)

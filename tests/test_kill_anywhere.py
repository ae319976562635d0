"""kill -9 anywhere loses nothing.

``dyncontract train`` runs in a subprocess (its own process group) and is SIGKILLed at
random moments: after a random delay (often during start-up), right after a random metrics
row, or while a checkpoint is being written (its temp file exists). After every kill:

* every file of the run directory is complete (config.yaml, run.json, metrics.csv and
  checkpoint.pt all load); only hidden ``.*.tmp`` files of interrupted writes may remain;
* the checkpoint's step never goes back (a resumed run is never silently restarted);
* without a checkpoint, ``--resume`` says so in one line (exit 2) and a new ``train`` into
  the directory refuses too; with one, the next trial resumes it.

Finally the run is resumed to the end and its metrics equal those of an uninterrupted run
(the trainer's resume is exact). The same for ``solve --json`` and ``simulate --json``: the
output is absent or complete and equal to an uninterrupted run's.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import TINY
from typer.testing import CliRunner

import dyncontract
from dyncontract.cli.main import app
from dyncontract.config import load_config
from dyncontract.rl.rundir import RunDir, load_checkpoint

pytestmark = pytest.mark.slow

runner = CliRunner()
SRC = str(Path(dyncontract.__file__).resolve().parents[1])
STEPS = 3072
SETS = {
    **{f"rl.{k}": v for k, v in TINY.items()},
    "rl.num_envs": 64,
    "rl.batch_size": 64,
    "rl.learning_starts": 64,
    "rl.eval_every_steps": 128,
    "rl.checkpoint_every_steps": 128,  # a checkpoint at every metrics row
    "env.held_out_states": 4,
}
TRAIN = ["--steps", str(STEPS), "--device", "cpu", "-q"]
for _k, _v in SETS.items():
    TRAIN += ["--set", f"{_k}={_v}"]


def spawn(args: list[str], cwd: Path) -> subprocess.Popen:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.Popen(
        [sys.executable, "-m", "dyncontract.cli.main", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group
    )


def kill_when(proc: subprocess.Popen, ready, timeout: float = 120.0) -> bool:
    """SIGKILL the process group as soon as ``ready()``; False if it ended first."""
    t0 = time.monotonic()
    while proc.poll() is None:
        if ready() or time.monotonic() - t0 > timeout:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.001)
    return False


def metric_rows(run: Path) -> int:
    try:
        return max(0, len((run / "metrics.csv").read_text().splitlines()) - 1)
    except FileNotFoundError:
        return 0


def trigger(rng: random.Random, run: Path, out_name: str, mode: str):
    """A random kill moment: a delay, after the n-th metrics row, or during a write."""
    t0 = time.monotonic()
    if mode == "delay":
        d = rng.uniform(0.0, 5.0)
        return mode, lambda: time.monotonic() - t0 > d
    if mode == "rows":
        n = rng.randint(1, STEPS // 128 - 2)
        extra = rng.uniform(0.0, 0.05)
        state: dict[str, float] = {}

        def ready() -> bool:
            if "t" not in state and metric_rows(run) >= n:
                state["t"] = time.monotonic()
            return "t" in state and time.monotonic() - state["t"] >= extra

        return f"rows>={n}", ready
    skip = rng.randint(0, 2)  # the (skip+1)-th write seen
    seen: set[str] = set()

    def writing() -> bool:
        tmp = [p.name for p in run.glob(f".{out_name}.*.tmp")] if run.is_dir() else []
        seen.update(tmp)
        return bool(tmp) and len(seen) > skip

    return f"write#{skip + 1}", writing


def assert_complete(run: Path) -> int | None:
    """Every file of the run loads; returns the checkpoint's step (None: no checkpoint)."""
    rd = RunDir(run)
    if rd.config.exists():
        load_config(rd.config)
    if rd.run_json.exists():
        assert isinstance(json.loads(rd.run_json.read_text()), dict)
    rows = rd.read_metrics()
    steps = [r["step"] for r in rows]
    assert steps == sorted(steps)
    leftovers = {p.name for p in run.iterdir()} - {
        "config.yaml",
        "run.json",
        "metrics.csv",
        "checkpoint.pt",
    }
    assert all(n.startswith(".") and n.endswith(".tmp") for n in leftovers), leftovers
    if not rd.checkpoint.exists():
        return None
    return int(load_checkpoint(rd.checkpoint)["step"])


def test_train_killed_anywhere_resumes_from_its_last_checkpoint(tmp_path):
    rng = random.Random(int(os.environ.get("DYNCONTRACT_KILL_SEED", "3")))
    ref = tmp_path / "ref"
    res = runner.invoke(app, ["train", "--out", str(ref), *TRAIN])
    assert res.exit_code == 0, res.output
    ref_rows = RunDir(ref).read_metrics()
    assert ref_rows[-1]["step"] == STEPS

    run = tmp_path / "run"
    last_step: int | None = None
    kills = []
    n_trials = int(os.environ.get("DYNCONTRACT_KILL_TRIALS", "4"))
    modes = (["delay", "rows", "write", "write"] * n_trials)[:n_trials]
    rng.shuffle(modes)  # every kind of moment, in a random order
    for mode in modes:
        resume = last_step is not None
        args = ["train", "--out", str(run), *(["--resume"] if resume else TRAIN)]
        if resume:
            args += ["-q"]
        before = RunDir(run).read_metrics() if resume else []
        proc = spawn(args, tmp_path)
        what, ready = trigger(rng, run, "checkpoint.pt", mode)
        killed = kill_when(proc, ready)
        if not killed:
            assert proc.returncode == 0, proc.stderr.read().decode() if proc.stderr else ""
        kills.append((what, killed))
        step = assert_complete(run) if run.exists() else None
        if resume:
            assert step is not None and step >= last_step, (what, step, last_step)
            # rows up to the resumed checkpoint are kept as they were
            kept = [r for r in RunDir(run).read_metrics() if r["step"] <= last_step]
            assert [r["step"] for r in kept] == [
                r["step"] for r in before if r["step"] <= last_step
            ]
        if step is None and run.exists():
            res = runner.invoke(app, ["train", "--out", str(run), "--resume"])
            assert res.exit_code == 2, res.output
            lines = [x for x in res.output.splitlines() if x.strip()]
            assert len(lines) == 1 and "has no checkpoint.pt" in lines[0], res.output
            if RunDir(run).holds_run():
                res = runner.invoke(app, ["train", "--out", str(run), *TRAIN])
                assert res.exit_code == 2 and "before its first checkpoint" in res.output
            for p in run.iterdir():
                p.unlink()
            run.rmdir()
        last_step = step
        if step == STEPS:
            break
    # resume to the end (or a fresh run if the last kill came before any checkpoint)
    args = ["train", "--out", str(run), *(["--resume", "-q"] if last_step else TRAIN)]
    res = runner.invoke(app, args)
    print("kill trials:", kills)
    assert res.exit_code == 0, (kills, res.output)
    assert not RunDir(run).temp_files()
    rows = RunDir(run).read_metrics()
    assert [r["step"] for r in rows] == [r["step"] for r in ref_rows], kills
    for a, b in zip(rows, ref_rows, strict=True):
        for k in ("ratio_single", "reward", "critic_loss", "alpha", "prune_ratio"):
            x, y = a[k], b[k]
            assert (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y, rel=1e-5), (k, a, b)


def _close(a, b) -> bool:
    """Nested JSON values equal up to 1e-3 relative (numbers) and exactly otherwise."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_close, a, b))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == pytest.approx(b, rel=1e-3, abs=1e-6)
    return a == b


@pytest.mark.parametrize("command", ["solve", "simulate"])
def test_json_outputs_are_atomic_or_absent(tmp_path, command):
    rng = random.Random(7)
    extra = ["--n-es", "20000"] if command == "simulate" else []
    ref = tmp_path / "ref.json"
    res = runner.invoke(app, [command, *extra, "--json", str(ref)])
    assert res.exit_code == 0, res.output
    want = json.loads(ref.read_text())
    for trial in range(2):
        d = tmp_path / f"t{trial}"
        d.mkdir()
        out = d / "out.json"
        proc = spawn([command, *extra, "--json", str(out)], d)
        if trial == 0:  # while the file is being written, or just after
            killed = kill_when(proc, lambda d=d: any(d.iterdir()))
        else:
            t0, delay = time.monotonic(), rng.uniform(0.5, 6.0)
            killed = kill_when(proc, lambda t0=t0, s=delay: time.monotonic() - t0 > s)
        if not killed:
            assert proc.returncode == 0
        names = {p.name for p in d.iterdir()}
        assert names <= {"out.json"} | {n for n in names if n.startswith(".out.json.")}, names
        if out.exists():
            got = json.loads(out.read_text())  # complete
            # complete and the same result (the solver may land 1e-4 apart in another process:
            # its compiled program and warm start differ)
            assert got.keys() == want.keys()
            for k in ("contract", "profit") if command == "solve" else ("contract", "n_es"):
                assert _close(got[k], want[k]), k

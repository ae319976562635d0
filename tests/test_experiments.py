"""Experiments: specs, aggregation, and `reproduce --preset smoke` (local + kill -9, Ray)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from dyncontract.cli.main import app
from dyncontract.config import ConfigError
from dyncontract.experiments.aggregate import ci95
from dyncontract.experiments.spec import ALL_METHODS, expand, load_spec

EXE = Path(sys.executable).parent / "dyncontract"


def test_presets_load_and_expand() -> None:
    for name in ("smoke", "quick", "paper"):
        spec = load_spec(name)
        tasks = expand(spec)
        labels = [t.label for t in tasks]
        assert len(labels) == len(set(labels))  # one directory per run
        assert {t.method for t in tasks} == set(spec.methods)
    assert len(load_spec("paper").seeds) >= 5


def test_unknown_preset_and_bad_spec(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--preset"):
        load_spec("nope")
    p = tmp_path / "bad.yaml"
    p.write_text("name: x\nmethods: [edmsac, nosuchmethod]\n")
    with pytest.raises(ConfigError, match="experiment.methods"):
        load_spec(p)
    p.write_text("name: x\nbudget: {eval_every_steps: 10}\n")
    with pytest.raises(ConfigError, match="steps"):
        load_spec(p)


def test_ci95_against_textbook_value() -> None:
    x = np.array([1.0, 2.0, 3.0])  # mean 2, sd 1, t_{0.975, 2} = 4.302653
    assert ci95(x) == pytest.approx(4.302653 / np.sqrt(3), rel=1e-6)
    assert np.isnan(ci95(np.array([1.0])))


@pytest.mark.parametrize(
    "args, field",
    [
        (["--backend", "spark"], "--backend"),
        (["--workers", "0"], "--workers"),
        (["--preset", "nope"], "--preset"),
        (["--address", "1.2.3.4:6379"], "--address"),
    ],
)
def test_reproduce_bad_input(tmp_path: Path, args: list[str], field: str) -> None:
    r = CliRunner().invoke(app, ["reproduce", "--out", str(tmp_path / "o"), *args])
    assert r.exit_code == 2
    assert field in r.output and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def _check_outputs(root: Path) -> pd.DataFrame:
    summary = pd.read_csv(root / "summary.csv")
    # every method of the preset, in the registry's order
    wanted = set(load_spec("smoke").methods)
    assert list(summary["method"]) == [m for m in ALL_METHODS if m in wanted]
    by = summary.set_index("method")
    assert by.loc["exact_dynamic", "ratio_single"] == pytest.approx(1.0)
    # complete info >= dynamic optimum >= static contract, on every held-out state on average
    assert by.loc["complete_info", "ratio_single"] >= 1.0
    assert by.loc["static_best", "ratio_single"] <= 1.0
    assert by.loc["static_best", "feasible_single"] == 1.0
    # the static references in order, as the exact programs guarantee on every state
    assert (
        by.loc["static_myopic", "ratio_single"]
        <= by.loc["static_best", "ratio_single"] + 1e-9
        <= by.loc["static_redesign", "ratio_single"] + 2e-9
    )
    # best of 16 never loses to the single action (the single action is a candidate)
    learned = by.dropna(subset=["ratio_best_of_n"])
    assert (learned["ratio_best_of_n"] >= learned["ratio_single"] - 1e-12).all()
    assert set(summary["split"]) == {"test"}
    for stem in (
        "f1_learning_curves",
        "f2_optimal_contract",
        "f3_profit_sweeps",
        "f4_ablations",
        "f5_cost",
    ):
        for ext in ("png", "pdf"):
            assert (root / "figures" / f"{stem}.{ext}").stat().st_size > 1000
    assert not list(root.rglob("*.tmp"))
    tasks = expand(load_spec("smoke"))
    assert all((t.run_dir(root.parent) / "DONE").exists() for t in tasks)
    return summary


def _done_files(root: Path) -> dict[str, int]:
    out = {}
    for done in root.glob("*/*/DONE"):
        for f in done.parent.iterdir():
            out[str(f)] = f.stat().st_mtime_ns
    return out


@pytest.mark.slow
def test_smoke_local_killed_then_resumed(tmp_path: Path) -> None:
    cmd = [str(EXE), "reproduce", "--preset", "smoke", "--out", str(tmp_path), "--quiet"]
    root = tmp_path / "smoke"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    p = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env
    )
    deadline = time.time() + 240
    while time.time() < deadline and len(list(root.glob("*/*/DONE"))) < 7:
        time.sleep(0.2)
    os.killpg(p.pid, signal.SIGKILL)  # the whole process group: workers too
    p.wait()
    n_total = len(expand(load_spec("smoke")))
    before = _done_files(root)
    n_done = len(list(root.glob("*/*/DONE")))
    assert 7 <= n_done < n_total, "kill came too late to test resuming"
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"{n_done} already finished" in r.stdout
    after = _done_files(root)
    for f, mtime in before.items():  # finished runs untouched
        assert after[f] == mtime, f
    _check_outputs(root)


@pytest.mark.slow
def test_smoke_on_ray(tmp_path: Path) -> None:
    import ray  # noqa: F401  (the ray extra is part of `make test`: fail, never skip)

    cmd = [
        str(EXE),
        "reproduce",
        "--preset",
        "smoke",
        "--out",
        str(tmp_path),
        "--backend",
        "ray",
        "--workers",
        "2",
        "--quiet",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    _check_outputs(tmp_path / "smoke")
    assert "| edmsac |" in r.stdout


def test_menu_methods_keep_the_sample_budget_and_stay_below_the_optimum(tmp_path: Path) -> None:
    """direct_smooth and cma (menu mode, whatever the experiment's mode) run through the
    registry: their samples stay within the budget, no menu beats the exact optimum, and the
    searches beat a uniformly random menu on the same test states."""
    spec = {
        "name": "menu",
        "methods": ["direct_smooth", "cma", "random", "exact_dynamic"],
        "seeds": [0],
        "budget": {"steps": 3000, "max_minutes": 1.0, "eval_every_steps": 1000},
        "held_out_states": 8,
        "config": {"env.action_mode": "menu"},  # random: uniformly random menus
        "sb3": {"direct_smooth": {"hidden": 32}, "cma": {"evals_per_state": 1000}},
        "ablations": {"prune_target": [], "diffusion_steps": [], "seeds": [0]},
        "f3": {"K": [2], "persistence": [0.5], "energy_price": [0.05], "discount": [0.9]},
        "latency_states": 16,
    }
    path = tmp_path / "menu.yaml"
    path.write_text(yaml.safe_dump(spec))
    r = CliRunner().invoke(
        app, ["reproduce", "--spec", str(path), "--out", str(tmp_path), "--workers", "1", "--quiet"]
    )
    assert r.exit_code == 0, r.output
    by = pd.read_csv(tmp_path / "menu" / "summary.csv").set_index("method")
    assert by.loc["cma", "samples"] == 3000 // 8 * 8  # evals per state capped by the budget
    assert 0 < by.loc["direct_smooth", "samples"] <= 3000
    for m in ("direct_smooth", "cma", "random"):
        assert by.loc[m, "ratio_best_of_n"] <= 1.0 + 1e-5
    assert by.loc["cma", "ratio_single"] > by.loc["random", "ratio_best_of_n"]
    assert by.loc["direct_smooth", "ratio_single"] > by.loc["random", "ratio_single"]

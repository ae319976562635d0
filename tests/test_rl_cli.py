"""`dyncontract train` / `evaluate`: input errors (exit 2, nothing written) and tiny real runs."""

from __future__ import annotations

import json

import pytest
from helpers import TINY, TOY_GYM_ID
from typer.testing import CliRunner

from dyncontract.cli.main import app
from dyncontract.rl.rundir import RunDir


def read_metrics(path):
    return RunDir(path.parent).read_metrics()


runner = CliRunner()


def _sets(*extra: str) -> list[str]:
    out: list[str] = []
    for s in (*(f"rl.{k}={v}" for k, v in TINY.items()), *extra):
        out += ["--set", s]
    return out


@pytest.mark.parametrize(
    "args, field",
    [
        (["--algo", "ppo"], "--algo"),
        (["--steps", "0"], "--steps"),
        (["--max-minutes", "-1"], "--max-minutes"),
        (["--device", "tpu"], "--device"),
        (["--env", "NoSuchEnv-v9"], "--env"),
        (["--set", "rl.prune_target=1.5"], "rl.prune_target"),
        (["--set", "rl.diffusion_steps=0"], "rl.diffusion_steps"),
        (["--set", "rl.nope=1"], "rl.nope"),
        (["--set", "rl.beta_min=20"], "rl.beta_max"),
        (["--resume"], "--resume"),
    ],
)
def test_train_input_errors(tmp_path, args, field):
    out = tmp_path / "run"
    res = runner.invoke(app, ["train", "--out", str(out), "--steps", "10", *args])
    assert res.exit_code == 2, res.output
    lines = [x for x in res.output.strip().splitlines() if x]
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}"), res.output
    assert not out.exists()


def test_train_refuses_existing_run_and_evaluate_errors(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.csv").write_text("step\n")
    res = runner.invoke(app, ["train", "--out", str(out), "--steps", "10"])
    assert res.exit_code == 2 and "stopped before its first checkpoint" in res.output
    res = runner.invoke(app, ["evaluate", str(tmp_path / "missing")])
    assert res.exit_code == 2 and res.output.startswith("error: run_dir")
    res = runner.invoke(app, ["evaluate", str(out)])
    assert res.exit_code == 2 and res.output.startswith("error: run directory")
    res = runner.invoke(app, ["evaluate", str(out), "--states", "0"])
    assert res.exit_code == 2 and res.output.startswith("error: --states")


def test_train_and_evaluate_generic_gym_env(tmp_path):
    out = tmp_path / "gymrun"
    args = ["train", "--algo", "dmsac", "--env", TOY_GYM_ID, "--steps", "300", "--seed", "1"]
    args += ["--out", str(out), "--device", "cpu", "-q"]
    args += _sets("rl.learning_starts=64", "rl.batch_size=32", "rl.eval_every_steps=100")
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    rows = read_metrics(out / "metrics.csv")
    assert rows[-1]["step"] == 300 and rows[-1]["prune_ratio"] == 0.0
    assert (out / "config.yaml").read_text().count("algo: dmsac") == 1
    res = runner.invoke(
        app, ["evaluate", str(out), "--episodes", "4", "--json", str(tmp_path / "e.json")]
    )
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "e.json").read_text())
    assert data["episodes"] == 4 and isinstance(data["return_mean"], float)
    # resume with more budget continues from the checkpoint
    res = runner.invoke(app, ["train", "--out", str(out), "--resume", "--steps", "400", "-q"])
    assert res.exit_code == 0, res.output
    assert read_metrics(out / "metrics.csv")[-1]["step"] == 400
    res = runner.invoke(app, ["train", "--out", str(out), "--resume", "--seed", "5"])
    assert res.exit_code == 2 and res.output.startswith("error: --seed")


def test_train_and_evaluate_contract_env(tmp_path):
    out = tmp_path / "crun"
    args = ["train", "--steps", "1024", "--out", str(out), "--device", "cpu", "-q"]
    args += _sets("env.held_out_states=12", "rl.num_envs=128", "rl.eval_every_steps=512")
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    rows = read_metrics(out / "metrics.csv")
    assert len(rows) == 2
    for k in ("ratio_single", "ratio_best_of_n", "feasible_single", "prune_ratio", "alpha"):
        assert k in rows[-1]
    assert 0.0 <= rows[-1]["ratio_single"] <= rows[-1]["ratio_best_of_n"] <= 1.0 + 1e-9
    res = runner.invoke(
        app, ["evaluate", str(out), "--states", "12", "--json", str(tmp_path / "c.json")]
    )
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "c.json").read_text())
    for k in (
        "ratio_single",
        "ratio_single_p05",
        "feasible_single",
        "profit_single",
        "ratio_best_of_n",
        "compact_max_abs_diff",
    ):
        assert k in data, k
    assert set(data["denoise_ms_per_1k_states"]) == {"dense", "compact"}
    deploy = data["deploy_ms_per_1k_states"]  # actor + payment map, what a CS deploys
    assert deploy["device"] == "cpu" and deploy["dense"] > 0 and deploy["compact"] > 0
    assert data["compact_max_abs_diff"] <= 1e-5

"""`dyncontract construct`: a tiny in-process run end to end, and bad input (one line,
exit 2, nothing written)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("flwr")
pytest.importorskip("minigrid")

from dyncontract.cli.main import app  # noqa: E402
from dyncontract.model import Scenario  # noqa: E402
from dyncontract.solvers import solve_dynamic  # noqa: E402

runner = CliRunner()
TINY = [
    "--runtime", "inprocess",
    "--set", "construction.demos_per_es=8",
    "--set", "construction.eval_missions=10",
    "--set", "construction.rounds_per_period=1",
    "--set", "construction.latency_episodes=1",
    "--set", "construction.gcycles_per_step=6",
    "--set", "construction.batch_episodes=4",
    "--set", "construction.references=false",
]  # fmt: skip


def run(*args: str):
    return runner.invoke(app, ["construct", *args])


def test_construct_writes_the_run_folder(tmp_path: Path) -> None:
    import torch

    out = tmp_path / "c"
    r = run("--out", str(out), "--n-es", "2", "--method", "static_best", *TINY)
    assert r.exit_code == 0, r.output
    files = {p.name for p in out.iterdir()}
    assert {"report.json", "es.csv", "periods.csv", "messages.json", "construction.png"} <= files
    assert {"agent_p1.pt", "agent_p2.pt", "contract.json", "config.yaml"} <= files
    rep = json.loads((out / "report.json").read_text())
    assert rep["contract_source"] == "static_best" and rep["n_es"] == 2
    rows = list(csv.DictReader((out / "es.csv").open()))
    assert len(rows) == 4  # 2 ESs x 2 periods
    sd = torch.load(out / "agent_p2.pt", weights_only=True)
    assert rep["weights_sha256"][1]  # the digest of these weights
    assert all(isinstance(v, torch.Tensor) for v in sd.values())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left


def _bad(tmp_path: Path, *args: str, field: str) -> None:
    out = tmp_path / "never"
    r = run("--out", str(out), *args, *TINY)
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.output
    assert field in lines[0], lines[0]
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".never")]


def test_unknown_level(tmp_path: Path) -> None:
    _bad(tmp_path, "--set", "construction.levels=[BabyAI-NoSuchLevel-v0]", field="levels")


def test_not_a_babyai_level(tmp_path: Path) -> None:
    _bad(tmp_path, "--set", "construction.levels=[CartPole-v1]", field="levels")


def test_n_es_must_be_positive(tmp_path: Path) -> None:
    _bad(tmp_path, "--n-es", "0", field="--n-es")
    _bad(tmp_path, "--n-es", "two", field="--n-es")


def test_workload_above_t_max_in_a_contract_file(tmp_path: Path) -> None:
    sc = Scenario.default()
    c = solve_dynamic(sc).contract
    d = c.to_dict()
    d["T2"][1][3] = sc.t_max + 5.0
    f = tmp_path / "c.json"
    f.write_text(json.dumps(d))
    _bad(tmp_path, "--contract", str(f), field="T_max")


def test_unknown_method_and_both_sources(tmp_path: Path) -> None:
    _bad(tmp_path, "--method", "best", field="--method")
    f = tmp_path / "c.json"
    f.write_text(json.dumps(solve_dynamic(Scenario.default()).contract.to_dict()))
    _bad(tmp_path, "--method", "exact", "--contract", str(f), field="--contract")


def test_fault_for_an_es_that_does_not_exist(tmp_path: Path) -> None:
    _bad(
        tmp_path,
        "--n-es", "2",
        "--set", "construction.faults=[{es: 5, period: 1, round: 1}]",
        field="faults",
    )  # fmt: skip


def test_existing_out_is_not_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "exists"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    r = run("--out", str(out), *TINY)
    assert r.exit_code == 2 and "--out" in r.output
    assert (out / "keep.txt").read_text() == "mine"


def test_export_writes_a_bundle_the_server_app_reads(tmp_path: Path) -> None:
    from dyncontract.framework.construction.construct import Bundle

    f = tmp_path / "bundle.json"
    r = run("--export", str(f), "--n-es", "3", "--method", "flat", *TINY)
    assert r.exit_code == 0, r.output
    b = Bundle.model_validate_json(f.read_text())
    assert b.n_es == 3 and b.contract_source == "flat" and b.gcycles_per_step == 6
    T1 = np.asarray(b.contract["T1"])
    assert np.allclose(T1, T1[0])  # a flat contract: one item

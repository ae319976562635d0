"""`dyncontract simulate`: happy path (JSON + PNG) and invalid input (one line, exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dyncontract.cli.main import app
from dyncontract.model import Contract, Scenario
from dyncontract.solvers import solve_dynamic

runner = CliRunner()
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(*args: str):
    return runner.invoke(app, ["simulate", *args])


@pytest.fixture(scope="module")
def contract_file(tmp_path_factory) -> Path:
    c = solve_dynamic(Scenario.default()).contract
    return c.save(tmp_path_factory.mktemp("c") / "optimal.json")


def test_simulate_solves_then_writes_json_and_png(tmp_path: Path) -> None:
    out, fig = tmp_path / "sim.json", tmp_path / "fig" / "sim.png"
    r = run("--n-es", "3000", "--seed", "4", "--json", str(out), "--plot", str(fig))
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    for key in (
        "expected_profit_per_es",
        "realized_profit_per_es",
        "deviations",
        "declined",
        "es_utility",
        "energy_j_total",
        "latency_ms",
        "raw_bytes_uploaded",
    ):
        assert key in d, key
    assert d["n_es"] == 3000 and d["seed"] == 4 and d["contract_source"] == "optimal"
    assert d["deviations"] == 0 and d["declined"] == 0
    assert len(d["es_utility"]) == 5
    assert set(d["latency_ms"]) == {"edge", "cloud"}
    for side in ("edge", "cloud"):
        assert {"p50", "p95"} <= set(d["latency_ms"][side])
    assert d["latency_ms"]["edge"]["p95"] < d["latency_ms"]["cloud"]["p50"]
    assert d["raw_bytes_uploaded"]["federated"] == 0
    assert d["raw_bytes_uploaded"]["centralized"] > 0
    png = fig.read_bytes()
    assert png.startswith(PNG_MAGIC) and len(png) > 20_000
    assert not [p for p in fig.parent.iterdir() if p.name.endswith(".tmp")]
    assert "deviations: 0" in r.output and "latency (ms): edge" in r.output


def test_simulate_given_contract_is_reproducible(tmp_path: Path, contract_file: Path) -> None:
    outs = []
    for name in ("a.json", "b.json"):
        out = tmp_path / name
        r = run("--contract", str(contract_file), "--n-es", "2000", "--json", str(out))
        assert r.exit_code == 0, r.output
        d = json.loads(out.read_text())
        d.pop("simulate_seconds")
        outs.append(d)
    assert outs[0] == outs[1]
    assert outs[0]["contract_source"] == str(contract_file)
    assert outs[0]["seed"] == 0 and outs[0]["n_es"] == 2000


def test_simulate_infeasible_contract_shows_deviations(tmp_path: Path, contract_file) -> None:
    c = Contract.load(contract_file)
    R1 = c.R1.copy()
    R1[-1] -= 0.5
    bad = Contract(c.T1, R1, c.T2, c.R2).save(tmp_path / "bad.json")
    out = tmp_path / "bad_sim.json"
    r = run("--contract", str(bad), "--n-es", "5000", "--json", str(out))
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    assert d["contract_feasible"] is False
    assert d["deviations"] > 0 and d["profit_lost_per_es"] > 0
    assert "period 1: type 5 reports" in r.output


def test_simulate_config_section_applies(tmp_path: Path, contract_file: Path) -> None:
    cfg = tmp_path / "fw.yaml"
    cfg.write_text("framework:\n  n_es: 1500\n  seed: 9\n  latency:\n    n_requests: 500\n")
    out = tmp_path / "o.json"
    r = run("--config", str(cfg), "--contract", str(contract_file), "--json", str(out))
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    assert (d["n_es"], d["seed"], d["deployment"]["n_requests"]) == (1500, 9, 500)
    # command-line flags win over the config
    r = run("--config", str(cfg), "--contract", str(contract_file), "--n-es", "700")
    assert r.exit_code == 0 and "Simulated 700 ESs (seed 9" in r.output


def _bad_json(tmp: Path) -> Path:
    p = tmp / "broken.json"
    p.write_text("{not json")
    return p


def _k3_contract(tmp: Path) -> Path:
    return Contract(np.ones(3), np.ones(3), np.ones((3, 3)), np.ones((3, 3))).save(tmp / "k3.json")


def _missing_key(tmp: Path) -> Path:
    p = tmp / "missing.json"
    p.write_text(json.dumps({"T1": [1, 2], "R1": [1, 2], "T2": [[1, 1], [1, 1]]}))
    return p


@pytest.mark.parametrize(
    ("make_args", "expect"),
    [
        (lambda t: ["--n-es", "0"], "--n-es"),
        (lambda t: ["--n-es", "abc"], "--n-es"),
        (lambda t: ["--n-es", "1e9"], "--n-es"),
        (lambda t: ["--seed", "-1"], "--seed"),
        (lambda t: ["--seed", "x"], "--seed"),
        (lambda t: ["--set", "framework.latency.cloud_rtt_ms=0"], "framework.latency.cloud_rtt_ms"),
        (lambda t: ["--set", "framework.unknown=1"], "framework.unknown"),
        (lambda t: ["--set", "framework.n_es=-5"], "framework.n_es"),
        (lambda t: ["--set", "scenario.discount=2"], "scenario.discount"),
        (lambda t: ["--contract", str(_bad_json(t))], "not valid JSON"),
        (lambda t: ["--contract", str(t / "nope.json")], "no such file"),
        (lambda t: ["--contract", str(_k3_contract(t))], "contract: has K=3"),
        (lambda t: ["--contract", str(_missing_key(t))], "R2"),
        (lambda t: ["--plot", str(t / "fig.jpg")], "--plot"),
        (lambda t: ["--plot", str(t)], "--plot"),  # a directory
        (lambda t: ["--json", str(t)], "--json"),
    ],
)
def test_simulate_bad_input_one_line_exit_2_nothing_written(tmp_path, make_args, expect) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    outdir = tmp_path / "out"
    outdir.mkdir()
    args = make_args(inputs)
    if "--json" not in args:
        args += ["--json", str(outdir / "o.json")]
    if "--plot" not in args:
        args += ["--plot", str(outdir / "o.png")]
    r = run(*args)
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, r.output
    assert lines[0].startswith("error: ") and expect in lines[0], lines[0]
    assert "Traceback" not in r.output
    assert list(outdir.iterdir()) == []


def test_example_config_documents_the_defaults() -> None:
    from dyncontract.config import load_config
    from dyncontract.framework import FrameworkConfig

    root = Path(__file__).resolve().parents[1]
    cfg = load_config(root / "configs" / "framework.yaml")
    assert cfg.framework == FrameworkConfig()

"""The CLI: happy paths, and every class of invalid input -> one line, exit 2, nothing written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dyncontract.cli.main import app
from dyncontract.model import Contract, Scenario, check_feasibility
from dyncontract.solvers import solve_dynamic

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_solve_writes_json_and_check_accepts_it(tmp_path: Path) -> None:
    out = tmp_path / "sol.json"
    r = run("solve", "--json", str(out))
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    assert d["status"] == "optimal"
    assert set(d["profit"]) == {"dynamic", "static", "static_redesign", "complete_info"}
    assert set(d["contract"]) == {"T1", "R1", "T2", "R2"}
    assert d["feasibility"]["feasible"] is True
    assert d["solve_seconds"] > 0
    p = d["profit"]
    assert p["complete_info"] >= p["dynamic"] >= p["static"]
    # the JSON's contract is the solver's optimum (independent re-solve)
    assert p["dynamic"] == pytest.approx(solve_dynamic(Scenario.default()).profit, rel=1e-6)
    r = run("check", str(out))
    assert r.exit_code == 0 and "FEASIBLE" in r.output


def test_check_reports_violations_with_exit_1(tmp_path: Path) -> None:
    sc = Scenario.default()
    c = solve_dynamic(sc).contract
    R1 = c.R1.copy()
    R1[0] += 3.0
    bad = Contract(c.T1, R1, c.T2, c.R2)
    path = bad.save(tmp_path / "bad.json")
    r = run("check", str(path), "--json", str(tmp_path / "rep.json"))
    assert r.exit_code == 1
    assert "INFEASIBLE" in r.output and "IC1[1,0]" in r.output
    rep = json.loads((tmp_path / "rep.json").read_text())
    assert rep["feasible"] is False
    assert rep["max_violation"] == pytest.approx(check_feasibility(bad, sc).max_violation)


def test_solve_override_changes_scenario(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    r = run("solve", "--set", "scenario.theta=[1.0, 2.0]", "--json", str(out))
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    assert len(d["contract"]["T1"]) == 2
    assert d["scenario"]["theta"] == [1.0, 2.0]


BAD_SETS = [
    ("scenario.theta=[2.0, 1.0]", "scenario.theta"),
    ("scenario.theta=[-1.0, 1.0]", "scenario.theta"),
    ("scenario.theta=[1.0]", "scenario.theta"),
    ("scenario.alpha=.nan", "scenario.alpha"),
    ("scenario.beta=.inf", "scenario.beta"),
    ("scenario.kappa=-1", "scenario.kappa"),
    ("scenario.prior=[0.5, 0.2, 0.1, 0.1, 0.2]", "scenario.prior"),
    ("scenario.prior=[0.5, 0.5]", "scenario.prior"),
    ("scenario.prior=[1.2, -0.2, 0.0, 0.0, 0.0]", "scenario.prior"),
    ("scenario.discount=1.5", "scenario.discount"),
    ("scenario.persistence=-0.1", "scenario.persistence"),
    ("scenario.transition=[[1, 0], [0, 1]]", "scenario.transition"),
    ("scenario.energy_price=0", "scenario.energy_price"),
    ("scenario.n_es=0", "scenario.n_es"),
    ("scenario.participation=sometimes", "scenario.participation"),
    ("scenario.thetaa=[1, 2]", "scenario.thetaa"),
    ("nosuchsection.x=1", "nosuchsection"),
    ("scenario.alpha=ten", "scenario.alpha"),
    ("novalue", "--set"),
]


def _assert_one_line_error(r, field: str) -> None:
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, r.output
    assert field in lines[0]
    assert "Traceback" not in r.output


@pytest.mark.parametrize("override, field", BAD_SETS)
def test_invalid_overrides(tmp_path: Path, override: str, field: str) -> None:
    out = tmp_path / "out.json"
    r = run("solve", "--set", override, "--json", str(out))
    _assert_one_line_error(r, field)
    assert not out.exists()


BAD_FILES = [
    ("scenario:\n  theta: [1, 2\n", "YAML"),
    ("scenario: [1, 2]\n", "scenario"),
    ("- 1\n- 2\n", "config"),
    (
        "scenario:\n  persistence: 0.5\n  transition: [[0.5, 0.5], [0.5, 0.5]]\n  theta: [1, 2]\n",
        "scenario.persistence/transition",
    ),
    ("scenario:\n  theta: [1, 2]\n  transition: [[0.5, 0.6], [0.5, 0.5]]\n", "scenario.transition"),
    ("scenario:\n  theta: [1, 2]\n  transition: [[0.5, 0.5]]\n", "scenario.transition"),
]


@pytest.mark.parametrize("text, field", BAD_FILES)
def test_invalid_config_files(tmp_path: Path, text: str, field: str) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    out = tmp_path / "out.json"
    r = run("solve", "--config", str(cfg), "--json", str(out))
    _assert_one_line_error(r, field)
    assert not out.exists()


def test_missing_config_file(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    r = run("solve", "--config", str(tmp_path / "nope.yaml"), "--json", str(out))
    _assert_one_line_error(r, "no such file")
    assert not out.exists()


@pytest.mark.parametrize(
    "text, field",
    [
        ("{not json", "not valid JSON"),
        ('{"T1": [1, 2], "R1": [1, 2], "T2": [[1, 2], [1, 2]]}', "R2"),
        (
            '{"T1": [1, 2, 3], "R1": [1, 2, 3], "T2": [[1, 2, 3], [1, 2, 3], [1, 2, 3]], '
            '"R2": [[1, 2, 3], [1, 2, 3], [1, 2, 3]]}',
            "contract: has K=3",
        ),
        ('{"T1": [1, NaN], "R1": [1, 2], "T2": [[1, 2], [1, 2]], "R2": [[1, 2], [1, 2]]}', "T1"),
    ],
)
def test_check_malformed_contract_exit_2(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "c.json"
    path.write_text(text)
    r = run("check", str(path))
    _assert_one_line_error(r, field)


def test_check_missing_contract_file(tmp_path: Path) -> None:
    r = run("check", str(tmp_path / "none.json"))
    _assert_one_line_error(r, "no such file")


def test_installed_entry_point_reports_one_line(tmp_path: Path) -> None:
    """The real console script (not the in-process runner): exit 2, one line, no traceback."""
    exe = Path(sys.executable).parent / "dyncontract"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "dyncontract.cli.main"]
    p = subprocess.run(
        [*cmd, "solve", "--set", "scenario.discount=2", "--json", str(tmp_path / "o.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and "scenario.discount" in p.stderr
    assert "Traceback" not in p.stderr + p.stdout
    assert not (tmp_path / "o.json").exists()

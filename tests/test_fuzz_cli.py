"""Fuzzed input never crashes the CLI.

Hypothesis drives the typer app in-process with random malformed ``--set`` values, config
files, contract files and damaged run directories. For every example:

* no traceback: the runner caught no exception other than the command's own exit;
* exit code 0, 1 or 2 — and 1 or 2 whenever the input is invalid by construction;
* a failing command (exit != 0) ends with one ``error:`` line (or the solver/feasibility
  report that ``solve``/``check`` document for exit 1) and writes nothing: the working
  folder is byte for byte what it was (``solve``/``check`` may leave their complete JSON
  report on exit 1, as documented);
* a command that succeeds wrote complete JSON.

The scalar scenario ranges are checked against the documented numbers (docs/usage.md),
not against the implementation's constants.

``DYNCONTRACT_FUZZ_SCALE`` multiplies every example count (300 in all by default) and
``DYNCONTRACT_FUZZ_RANDOM=1`` draws fresh examples: ``benchmarks/fuzz_cli.py`` uses both.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import TINY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dyncontract.cli.main import app
from dyncontract.model.scenario import Scenario
from dyncontract.solvers.exact import solve_dynamic

SCALE = float(os.environ.get("DYNCONTRACT_FUZZ_SCALE", "1"))
#: examples run, by test (written to DYNCONTRACT_FUZZ_REPORT by the benchmark)
COUNTS: dict[str, int] = {}

runner = CliRunner()


#: make test: fixed examples (the profile's derandomize); the benchmark: fresh random ones
RANDOM = os.environ.get("DYNCONTRACT_FUZZ_RANDOM") == "1"


def fuzz(n: int):
    extra = {"derandomize": False} if RANDOM else {}
    return settings(
        max_examples=max(1, int(n * SCALE)),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        **extra,
    )


def _count(name: str) -> None:
    COUNTS[name] = COUNTS.get(name, 0) + 1
    report = os.environ.get("DYNCONTRACT_FUZZ_REPORT")
    if report:
        Path(report).write_text(json.dumps(COUNTS))


# ----- the invariant ---------------------------------------------------------------------------
def snapshot(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[str(p.relative_to(root))] = "dir"
    return out


def invoke(root: Path, args: list[str], *, invalid: bool, reports: tuple[Path, ...] = ()):
    """Run the CLI and check the invariant. ``invalid``: the input is bad by construction
    (exit must be 1 or 2). ``reports``: files a successful command writes (JSON)."""
    before = snapshot(root)
    res = runner.invoke(app, args)
    out = res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), (
        f"{args}: uncaught {type(res.exception).__name__}: {res.exception}\n{out}"
    )
    assert "Traceback" not in out, f"{args}:\n{out}"
    assert res.exit_code in (0, 1, 2), f"{args}: exit {res.exit_code}\n{out}"
    if invalid:
        assert res.exit_code in (1, 2), f"{args}: invalid input accepted\n{out}"
    if res.exit_code == 0:
        for r in reports:
            json.loads(r.read_text())  # complete
        return res
    lines = [x for x in out.splitlines() if x.strip()]
    assert lines, f"{args}: failed silently"
    command = args[0]
    after = snapshot(root)
    if res.exit_code == 1 and command in ("solve", "check"):
        # documented: a non-optimal solve / an infeasible check still report (complete JSON)
        assert (
            lines[-1].startswith(("error:", "warning: solver status", "solver status"))
            or "INFEASIBLE" in out
        ), out
        for r in reports:
            if r.exists() and before.get(str(r.relative_to(root))) != after.get(
                str(r.relative_to(root))
            ):
                json.loads(r.read_text())
                after.pop(str(r.relative_to(root)))
                before.pop(str(r.relative_to(root)), None)
        assert after == before, f"{args}: wrote files on failure\n{out}"
        return res
    err = [x for x in lines if x.startswith("error:")]
    assert len(err) == 1 and lines[-1].startswith("error:"), f"{args}:\n{out}"
    assert after == before, f"{args}: wrote files on failure\n{out}"
    return res


# ----- strategies ------------------------------------------------------------------------------
WEIRD = [
    "0",
    "-1",
    "1e+308",
    "-1e308",
    "1e-320",
    "9223372036854775808",
    ".nan",
    ".inf",
    "-.inf",
    "nan",
    "",
    "abc",
    "[]",
    "{}",
    "[1, 2]",
    "[[1, 0], [0, 1]]",
    "null",
    "true",
    "{a: 1}",
    "'",
    "[",
    "1000001",
    "0.0000001",
    "[1e308, 1e308]",
    "[1, 1e-300]",
    "[0.5, .nan]",
]


def _yaml_value(x: object) -> str:
    return json.dumps(x) if not isinstance(x, float) or math.isfinite(x) else repr(x)


values = st.one_of(
    st.sampled_from(WEIRD),
    st.floats().map(_yaml_value),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(max_size=12),
    st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), max_size=6).map(
        _yaml_value
    ),
)

KNOWN_KEYS = [
    "scenario.theta",
    "scenario.prior",
    "scenario.persistence",
    "scenario.transition",
    "scenario.discount",
    "scenario.alpha",
    "scenario.beta",
    "scenario.kappa",
    "scenario.tau",
    "scenario.f_max",
    "scenario.energy_price",
    "scenario.n_es",
    "scenario.participation",
    "framework.n_es",
    "framework.seed",
    "framework.tie_tolerance",
    "framework.module_shares.memory",
    "framework.latency.n_requests",
    "framework.latency.edge_rtt_ms",
    "env.persistence_range",
    "env.energy_price_range",
    "env.reward_scale",
    "rl.actor_hidden",
    "rl.prune_target",
    "rl.logging",
]
keys = st.one_of(
    st.sampled_from(KNOWN_KEYS),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz._0", min_size=1, max_size=16),
)

#: The documented ranges (docs/usage.md), independent of the implementation's constants.
SCALAR_RANGES = {
    "alpha": (1e-6, 1e6),
    "beta": (1e-6, 1e6),
    "kappa": (1e-6, 1e6),
    "tau": (1e-6, 1e6),
    "f_max": (1e-6, 1e6),
    "energy_price": (1e-6, 1e6),
    "discount": (0.0, 1.0),
}


@pytest.fixture(scope="module")
def contract_file(tmp_path_factory) -> Path:
    """The default scenario's optimal contract (a valid input for check/simulate)."""
    p = tmp_path_factory.mktemp("inputs") / "contract.json"
    solve_dynamic(Scenario.default()).contract.save(p)
    return p


def _workdir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("fuzz")
    return d


# ----- the tests -------------------------------------------------------------------------------
@fuzz(40)
@given(
    field=st.sampled_from(sorted(SCALAR_RANGES)),
    x=st.one_of(
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from([1e-6, 1e6, 1e6 * (1 + 1e-15), 1e-6 * (1 - 1e-15), 1e308, 1e-300]),
    ),
)
def test_scalar_ranges_match_the_documented_ones(tmp_path_factory, contract_file, field, x):
    """``check`` a valid contract under one scalar set to ``x``: exit 2 exactly when ``x`` is
    outside the documented range; inside it the arithmetic stays finite (exit 0 or 1)."""
    _count("scalar_ranges")
    root = _workdir(tmp_path_factory)
    lo, hi = SCALAR_RANGES[field]
    report = root / "report.json"
    args = ["check", str(contract_file), "--set", f"scenario.{field}={x!r}"]
    res = invoke(root, [*args, "--json", str(report)], invalid=False, reports=(report,))
    if lo <= x <= hi:
        assert res.exit_code in (0, 1), res.output
        m = re.search(r"max violation ([^ )]+)", res.output)
        assert m and math.isfinite(float(m.group(1))), res.output
    else:
        assert res.exit_code == 2 and res.output.startswith(f"error: scenario.{field}"), res.output
    shutil.rmtree(root)


def test_acceptance_kappa_overflow() -> None:
    """The fuzzing acceptance case: one error line, exit 2."""
    res = runner.invoke(app, ["solve", "--set", "scenario.kappa=1e+308"])
    assert res.exit_code == 2
    lines = [x for x in res.output.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: scenario.kappa: must be <="), lines


@fuzz(120)
@given(
    command=st.sampled_from(["check", "check", "simulate", "simulate", "solve"]),
    sets=st.lists(st.tuples(keys, values), min_size=1, max_size=3),
    raw=st.lists(st.text(max_size=20), max_size=1),
)
def test_malformed_set_values(tmp_path_factory, contract_file, command, sets, raw):
    _count("set_values")
    root = _workdir(tmp_path_factory)
    out = root / "out.json"
    args = [command]
    if command == "check":
        args.append(str(contract_file))
    if command == "simulate":
        args += ["--contract", str(contract_file), "--n-es", "64"]
    for k, v in sets:
        args += ["--set", f"{k}={v}"]
    for r in raw:  # arbitrary text, often without '='
        args += ["--set", r]
    invoke(root, [*args, "--json", str(out)], invalid=False, reports=(out,))
    shutil.rmtree(root)


def _yaml_texts():
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8))
    trees = st.recursive(
        scalars,
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
        max_leaves=8,
    )
    sections = st.dictionaries(
        st.sampled_from(["scenario", "env", "framework", "rl", "other"]),
        st.one_of(
            trees,
            st.dictionaries(st.sampled_from(["theta", "kappa", "n_es", "algo", "x"]), trees),
        ),
        min_size=1,
        max_size=3,
    )
    return st.one_of(
        sections.map(lambda d: yaml.safe_dump(d).encode()),
        st.binary(min_size=1, max_size=200),
        st.text(min_size=1, max_size=200).map(str.encode),
    )


@fuzz(50)
@given(data=_yaml_texts(), command=st.sampled_from(["check", "simulate"]))
def test_malformed_config_files(tmp_path_factory, contract_file, data, command):
    _count("config_files")
    root = _workdir(tmp_path_factory)
    cfg = root / "cfg.yaml"
    cfg.write_bytes(data)
    out = root / "out.json"
    args = [command, "--config", str(cfg), "--json", str(out)]
    if command == "check":
        args.insert(1, str(contract_file))
    else:
        args += ["--contract", str(contract_file), "--n-es", "64"]
    invoke(root, args, invalid=False, reports=(out,))
    shutil.rmtree(root)


def _contracts():
    num = st.one_of(
        st.floats(), st.sampled_from([1e308, -1e308, 1e200, -5.0, 0.0]), st.text(max_size=3)
    )
    arr = st.one_of(
        st.lists(num, min_size=0, max_size=6),
        st.lists(st.lists(num, min_size=5, max_size=5), min_size=5, max_size=5),
        num,
    )
    good_shape = st.fixed_dictionaries(
        {
            "T1": st.lists(num, min_size=5, max_size=5),
            "R1": st.lists(num, min_size=5, max_size=5),
            "T2": st.lists(st.lists(num, min_size=5, max_size=5), min_size=5, max_size=5),
            "R2": st.lists(st.lists(num, min_size=5, max_size=5), min_size=5, max_size=5),
        }
    )
    return st.one_of(
        good_shape.map(lambda d: (json.dumps(d).encode(), False)),
        st.dictionaries(st.sampled_from(["T1", "R1", "T2", "R2", "x"]), arr).map(
            lambda d: (json.dumps(d).encode(), False)
        ),
        st.binary(max_size=200).map(lambda b: (b, True)),
        st.just((b"\x80", True)),  # not UTF-8 (found by the benchmark)
    )


@fuzz(60)
@given(case=_contracts(), command=st.sampled_from(["check", "simulate"]))
def test_malformed_contract_files(tmp_path_factory, case, command):
    _count("contract_files")
    data, invalid = case
    root = _workdir(tmp_path_factory)
    c = root / "c.json"
    c.write_bytes(data)
    invalid = invalid and not _is_contract_json(data)
    out = root / "out.json"
    if command == "check":
        args = ["check", str(c), "--json", str(out)]
    else:
        args = ["simulate", "--contract", str(c), "--n-es", "64", "--json", str(out)]
    res = invoke(root, args, invalid=invalid, reports=(out,))
    if command == "check" and "max violation" in res.output:  # in range: finite arithmetic
        m = re.search(r"profit per ES ([^ \n]+).*max violation ([^ )\n]+)", res.output, re.S)
        assert m and all(math.isfinite(float(g)) for g in m.groups()), res.output
    shutil.rmtree(root)


def _is_contract_json(data: bytes) -> bool:
    try:
        d = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(d, dict) and {"T1", "R1", "T2", "R2"} <= set(d)


# ----- damaged run directories -----------------------------------------------------------------
RUN_FILES = ["checkpoint.pt", "config.yaml", "metrics.csv", "run.json"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A finished tiny contract-env run (the template every damaged copy starts from)."""
    out = tmp_path_factory.mktemp("template") / "run"
    args = ["train", "--steps", "256", "--out", str(out), "--device", "cpu", "-q"]
    sets = {**TINY, "num_envs": 64, "eval_every_steps": 128, "checkpoint_every_steps": 128}
    sets.update(learning_starts=64, batch_size=64)
    for k, v in sets.items():
        args += ["--set", f"rl.{k}={v}"]
    args += ["--set", "env.held_out_states=4"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert all((out / f).is_file() for f in RUN_FILES)
    return out


def _damage():
    return st.one_of(
        st.tuples(st.just("bytes"), st.binary(min_size=1, max_size=300)),
        st.tuples(st.just("truncate"), st.floats(0.0, 0.99)),
        st.tuples(st.just("flip"), st.integers(0, 2**31)),
        st.tuples(st.just("delete"), st.none()),
        st.tuples(st.just("empty"), st.none()),
    )


def _apply(p: Path, how: str, arg: object) -> bool:
    """Damage ``p``; returns whether the file is certainly unusable now."""
    data = p.read_bytes()
    if how == "bytes":
        p.write_bytes(arg)  # type: ignore[arg-type]
        return p.name == "checkpoint.pt"
    if how == "truncate":
        p.write_bytes(data[: int(len(data) * float(arg))])  # type: ignore[arg-type]
        return p.name == "checkpoint.pt"
    if how == "flip":
        i = int(arg) % len(data)  # type: ignore[call-overload]
        b = bytearray(data)
        b[i] ^= 1 << (int(arg) % 8)  # type: ignore[call-overload]
        p.write_bytes(bytes(b))
        return False
    if how == "delete":
        p.unlink()
        return p.name in ("checkpoint.pt", "config.yaml", "run.json")
    p.write_bytes(b"")
    return p.name in ("checkpoint.pt", "run.json")


@fuzz(30)
@given(
    which=st.sampled_from(RUN_FILES),
    damage=_damage(),
    command=st.sampled_from(["evaluate", "evaluate", "resume"]),
)
def test_damaged_run_directories(tmp_path_factory, tiny_run, which, damage, command):
    _count("run_dirs")
    root = _workdir(tmp_path_factory)
    run = root / "run"
    shutil.copytree(tiny_run, run)
    how, arg = damage
    unusable = _apply(run / which, how, arg)
    out = root / "eval.json"
    if command == "evaluate":
        args = ["evaluate", str(run), "--states", "4", "--no-timing", "--json", str(out)]
        # evaluate does not read metrics.csv
        unusable = unusable and which != "metrics.csv"
        res = invoke(root, args, invalid=unusable, reports=(out,))
    else:
        args = ["train", "--out", str(run), "--resume", "--steps", "320", "-q"]
        # run.json deleted/emptied: resume cannot know the run's seed -> must refuse
        # resume needs run.json's seed: any damage but a bit flip makes it unusable
        res = invoke(root, args, invalid=unusable or (which == "run.json" and how != "flip"))
        if res.exit_code == 0:
            assert np.isfinite(json.loads((run / "run.json").read_text())["steps"])
    shutil.rmtree(root)


def test_runtime_failure_at_start_leaves_nothing(tmp_path, monkeypatch):
    """torch failing at start-up (the replay buffer cannot be allocated): exit 1, one error
    line naming the command, and no run directory (nor its parents) left behind. (An absurd
    rl.buffer_size is refused before that, as bad input: exit 2.)"""
    from helpers import TOY_GYM_ID

    from dyncontract.rl import buffer

    out = tmp_path / "a" / "b" / "run"
    args = ["train", "--out", str(out), "--env", TOY_GYM_ID, "--steps", "10", "-q"]
    res = runner.invoke(app, [*args, "--set", "rl.buffer_size=10000000000000"])
    assert res.exit_code == 2 and "rl.buffer_size" in res.output, res.output
    assert not (tmp_path / "a").exists()

    def no_memory(*a, **k):
        raise RuntimeError("DefaultCPUAllocator: not enough memory")

    monkeypatch.setattr(buffer.ReplayBuffer, "__init__", no_memory)
    res = runner.invoke(app, args)
    assert res.exit_code == 1, res.output
    lines = [x for x in res.output.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: train: "), lines
    assert not (tmp_path / "a").exists()

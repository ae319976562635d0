"""Flower's overhead in a construction: wall time vs the ESs' measured CPU time.

Runs ``dyncontract construct`` at its defaults (the exact optimal contract, 20 ESs, Flower's
simulation runtime on Ray with one CPU per ES actor) ``--repeats`` times and records, per
run:

* ``wall_s`` — the whole command's construction (calibration excluded: it is read from the
  machine's record), Ray start and stop included;
* ``es_cpu_s`` — the CPU seconds the ESs measured for generating their demonstrations and
  for training (``time.thread_time`` inside the ClientApp);
* ``overhead_fraction = (wall_s - es_cpu_s) / wall_s`` — the acceptance metric (<= 0.25);
* ``idle_or_overhead_fraction = 1 - es_cpu_s / (wall_s * cpus)`` — the stricter share of the
  machine's CPU time not spent on ES work (Flower, Ray, the CS's evaluations, idle cores);
* the breakdown the CS measured (connection, reference evaluations, per-period evaluation,
  deployment, per-round wall times).

Run it alone: with 2 cores, anything else running makes the numbers meaningless. The load
average before the first run is recorded. Example::

    .venv/bin/python benchmarks/bench_construct.py --json docs/data/construct/bench_overhead.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def git_revision() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def one_run(seed: int, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "c"
        cmd = [sys.executable, "-m", "dyncontract.cli.main", "construct", "--out", str(out),
               "--seed", str(seed), "--quiet", *extra]  # fmt: skip
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        command_wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"construct failed: {proc.stderr.strip()[-500:]}")
        rep = json.loads((out / "report.json").read_text())
    m = rep["measured"]
    cpus = os.cpu_count() or 1
    rounds = [r["wall_s"] for p in rep["periods"] for r in p["rounds"]]
    return {
        "seed": seed,
        "command_wall_s": command_wall,
        "wall_s": m["wall_s"],
        "es_cpu_s": m["es_cpu_s"],
        "es_cpu_train_s": m["es_cpu_train_s"],
        "es_cpu_data_s": m["es_cpu_data_s"],
        "overhead_fraction": (m["wall_s"] - m["es_cpu_s"]) / m["wall_s"],
        "idle_or_overhead_fraction": 1.0 - m["es_cpu_s"] / (m["wall_s"] * cpus),
        "connect_s": m.get("connect_s"),
        "reference_eval_s": m.get("reference_eval_s"),
        "eval_wall_s": m.get("eval_wall_s"),
        "deploy_s": m.get("deploy_s"),
        "round_wall_s": rounds,
        "success_rate": [p["success_rate"] for p in rep["periods"]],
        "references": {k: v["success_rate"] for k, v in rep["references"].items()},
        "steps": [p["steps_done"] for p in rep["periods"]],
        "gcycles_per_step": rep["gcycles_per_step"],
        "weights_sha256": rep["weights_sha256"],
        "deployment": rep.get("deployment"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--set", action="append", default=[], help="passed to construct --set")
    ap.add_argument("--note", default="", help="how the machine was kept quiet, recorded")
    a = ap.parse_args()
    extra = [x for s in a.set for x in ("--set", s)]
    load = os.getloadavg()
    runs = []
    for seed in range(a.repeats):
        r = one_run(seed, extra)
        runs.append(r)
        print(json.dumps({k: r[k] for k in ("seed", "wall_s", "es_cpu_s", "overhead_fraction",
                                             "success_rate")}), flush=True)  # fmt: skip
    script = Path(sys.argv[0]).resolve()
    script_rel = script.relative_to(ROOT) if script.is_relative_to(ROOT) else script
    machine = {"node": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version()}
    out = {
        "command": "python " + shlex.join([str(script_rel), *sys.argv[1:]]),
        "git_revision": git_revision(),
        "machine": machine,
        "load_average_before": load,
        "note": a.note,
        "runs": runs,
        "max_overhead_fraction": max(r["overhead_fraction"] for r in runs),
        "max_wall_s": max(r["wall_s"] for r in runs),
    }
    a.json.parent.mkdir(parents=True, exist_ok=True)
    tmp = a.json.with_name(a.json.name + ".tmp")
    tmp.write_text(json.dumps(out, indent=2) + "\n")
    tmp.replace(a.json)
    print(f"wrote {a.json}")


if __name__ == "__main__":
    main()

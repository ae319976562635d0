"""Run the CLI fuzz test (tests/test_fuzz_cli.py) with thousands of fresh random examples.

    .venv/bin/python benchmarks/fuzz_cli.py --examples 3000 [--seed S]

The test suite runs 300 fixed examples; this scales every hypothesis test by the same factor,
draws new examples (seeded) and prints how many examples each test ran, the wall time and
pytest's verdict. Any failure is a bug: a traceback, an exit code other than 0/1/2, invalid
input accepted, or a file written by a failing command.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: examples of one make-test run of tests/test_fuzz_cli.py (sum of its max_examples)
BASE_EXAMPLES = 300


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=3000, help="total examples (about)")
    ap.add_argument("--seed", type=int, default=None, help="hypothesis seed (default: random)")
    args = ap.parse_args()
    if args.examples < 1:
        ap.error("--examples must be >= 1")
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "counts.json"
        env = dict(os.environ)
        env.update(
            DYNCONTRACT_FUZZ_SCALE=str(args.examples / BASE_EXAMPLES),
            DYNCONTRACT_FUZZ_RANDOM="1",
            DYNCONTRACT_FUZZ_REPORT=str(report),
            OMP_NUM_THREADS="1",
        )
        env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        cmd += ["-W", "ignore::RuntimeWarning", str(ROOT / "tests" / "test_fuzz_cli.py")]
        if args.seed is not None:
            cmd.append(f"--hypothesis-seed={args.seed}")
        t0 = time.perf_counter()
        rc = subprocess.call(cmd, cwd=ROOT, env=env)
        wall = time.perf_counter() - t0
        counts = json.loads(report.read_text()) if report.exists() else {}
    total = sum(counts.values())
    print(json.dumps({"examples": total, "by_test": counts, "wall_s": round(wall, 1), "rc": rc}))
    return rc


if __name__ == "__main__":
    sys.exit(main())

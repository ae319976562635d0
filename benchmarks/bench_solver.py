"""Exact-solver benchmark: reduced/full programs at several K (numbers go to docs/solvers.md).

Usage:  .venv/bin/python benchmarks/bench_solver.py [--K 5 10 20 50] [--repeat 3] [--full-up-to 20]

For each K (theta evenly spaced in [1, 3], other values as in model.md §7) it reports the
status and wall time of the first solve (includes building/compiling the cvxpy program) and
the best of the warm repeats, for the reduced program (lazy IC1 above K = 12) and the full
K^3 program, and the least-payment LP and fast map on the optimal workloads.
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import numpy as np

from dyncontract.model import Scenario
from dyncontract.solvers import (
    least_payment_contract,
    least_payment_lp,
    solve_dynamic,
)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--K", type=int, nargs="+", default=[5, 10, 20, 50])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--full-up-to", type=int, default=20)
    ap.add_argument("--csv", default=None, help="also write the rows here (CSV)")
    args = ap.parse_args()
    rows: list[dict] = []
    print(f"{'K':>3} {'program':<28} {'status':<10} {'first s':>8} {'warm s':>8} {'profit':>12}")
    for K in args.K:
        sc = Scenario.default(theta=np.linspace(1.0, 3.0, K).tolist())
        variants = [True] + ([False] if K <= args.full_up_to else [])
        for reduced in variants:
            first, t_first = timed(partial(solve_dynamic, sc, reduced=reduced))
            warm = [
                timed(partial(solve_dynamic, sc, reduced=reduced))[1] for _ in range(args.repeat)
            ]
            print(
                f"{K:>3} {first.program:<28} {first.status:<10} {t_first:>8.3f} "
                f"{min(warm):>8.3f} {first.profit:>12.6f}"
            )
            rows.append(
                dict(K=K, program=first.program, status=first.status, first_s=t_first,
                     warm_s=min(warm), profit=first.profit)
            )  # fmt: skip
        c = first.contract
        lp, t_lp = timed(partial(least_payment_lp, c.T1, c.T2, sc))
        fast, t_fast = timed(partial(least_payment_contract, c.T1, c.T2, sc))
        print(f"{K:>3} {'least-payment LP (HiGHS)':<28} {lp.status:<10} {t_lp:>8.3f}")
        print(f"{K:>3} {'least-payment fast':<28} {fast.status[:10]:<10} {t_fast:>8.4f}")
        rows.append(dict(K=K, program="least-payment LP (HiGHS)", status=lp.status, first_s=t_lp))
        rows.append(dict(K=K, program="least-payment fast", status=fast.status, first_s=t_fast))
    if args.csv:
        import pandas as pd

        from dyncontract._io import write_text_atomic

        write_text_atomic(args.csv, pd.DataFrame(rows).to_csv(index=False))


if __name__ == "__main__":
    main()

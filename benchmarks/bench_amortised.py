"""Non-RL baselines and static references on held-out states (indicative numbers).

Usage:
  python benchmarks/bench_amortised.py --method direct --minutes 0.25 [--split validation]
  python benchmarks/bench_amortised.py --method supervised --minutes 1
  python benchmarks/bench_amortised.py --method per_state --steps 1000
  python benchmarks/bench_amortised.py --method static

Each run scores on ``--n`` held-out states of ``--split`` (ratio = profit / exact optimum per
state, an infeasible contract counting 0) and appends one JSON record (method, budget,
learning curve, git revision, command, thread count) to ``--out``
(default docs/data/amortised_<split>.jsonl).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from dyncontract.env import BatchedContractEnv, EnvConfig, HeldOutSet
from dyncontract.experiments.amortised import (
    Usage,
    per_state,
    score,
    train_direct,
    train_supervised,
)
from dyncontract.model import Scenario


def git_rev() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--method", required=True, choices=["direct", "supervised", "per_state", "static"]
    )
    ap.add_argument("--minutes", type=float, default=0.25)
    ap.add_argument("--steps", type=int, default=1000, help="per_state: steps per state")
    ap.add_argument("--refine-steps", type=int, default=0, help="supervised: label refinement")
    ap.add_argument("--refine-margin", type=float, default=1e-2)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--split", default="validation", choices=["validation", "test"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    env = BatchedContractEnv(Scenario.default(), EnvConfig())
    held = HeldOutSet.build(env.base, env.cfg, n=args.n, split=args.split)
    obs = torch.as_tensor(held.obs)
    opt = held.optimal_profit
    curve: list[dict] = []

    def on_eval(samples: int, updates: int, wall_s: float, policy) -> None:  # noqa: ANN001
        curve.append(
            {"samples": samples, "updates": updates, "wall_s": round(wall_s, 3)}
            | score(env, obs, policy(obs), opt)
        )

    record: dict = {"method": args.method, "split": args.split, "seed_states": held.seed}
    t0 = time.perf_counter()
    if args.method == "direct":
        pol = train_direct(
            env,
            args.seed,
            steps=10**12,
            max_minutes=args.minutes,
            eval_every=256 * 50,
            on_eval=on_eval,
        )
        b = pol.budget
        a = pol(obs)
        final = score(env, obs, a, opt)
        # deployed policy end to end: actor + least-payment map (+ profit), 4096 states
        big = env.sample_states(4096, np.random.default_rng(1))
        t = time.perf_counter()
        with torch.no_grad():
            ct = env.contracts(big, pol(big))
            env.profit(ct)
        record["deploy_contracts_per_s"] = round(4096 / (time.perf_counter() - t))
    elif args.method == "supervised":
        pol = train_supervised(
            env,
            args.seed,
            steps=10**12,
            max_minutes=args.minutes,
            refine_steps=args.refine_steps,
            refine_margin=args.refine_margin,
            eval_every=128,
            on_eval=on_eval,
        )
        record["refine_steps"] = args.refine_steps
        record["refine_margin"] = args.refine_margin
        b = pol.budget
        final = score(env, obs, pol(obs), opt)
    elif args.method == "per_state":
        b = Usage()
        a = per_state(env, obs, args.steps, budget=b, eval_every=args.n * 100, on_eval=on_eval)
        final = score(env, obs, a, opt)
    else:
        b = Usage()
        myopic = held.static_profit / opt
        best = held.static_best_profit / opt
        final = {
            "static_myopic_ratio": float(myopic.mean()),
            "static_myopic_ratio_min": float(myopic.min()),
            "static_best_ratio": float(best.mean()),
            "static_best_ratio_min": float(best.min()),
            "static_best_gain_over_myopic_max": float((best - myopic).max()),
            "static_best_beats_myopic_share": float(np.mean(best > myopic + 1e-9)),
        }
    record |= {
        "final": final,
        "samples": b.samples,
        "updates": b.updates,
        "wall_s": round(b.wall_s, 3),
        "run_wall_s": round(time.perf_counter() - t0, 3),
        "curve": curve,
        "git": git_rev(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "threads": args.threads,
        "note": "indicative: 2 shared CPU cores",
    }
    out = Path(args.out or f"docs/data/amortised_{args.split}.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as fh:
        fh.write(json.dumps(record) + "\n")
    print(json.dumps({k: v for k, v in record.items() if k != "curve"}, indent=1))


if __name__ == "__main__":
    main()

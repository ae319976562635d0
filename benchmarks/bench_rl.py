"""EDMSAC deployment benchmark: compacted vs dense denoising, and amortisation vs the solver.

Usage::

    .venv/bin/python benchmarks/bench_rl.py [--run RUN_DIR] [--ratio 0.5] [--states 1000]
                                            [--threads N] [--json OUT]

* Compaction: the actor of ``RUN_DIR`` (its own masks), or a freshly initialised actor of the
  default config masked at ``--ratio`` by weight magnitude. Reports denoising wall time for
  ``--states`` states (deterministic chain, median of repeats) for the masked dense actor
  and its compacted copy, the speed-up and the max |difference| of their actions.
* Amortisation: contracts per second for a batch of 1024 market states — the policy (all
  five denoising steps + the least-payment map) vs the exact convex solver (one program per
  state, timed on a sample of 16 states).
"""

from __future__ import annotations

import argparse
import json

import torch

from dyncontract.config import load_config
from dyncontract.experiments.composition import amortisation
from dyncontract.rl.edmsac import make_actor
from dyncontract.rl.evaluation import compact_diff, denoise_ms, load_actor
from dyncontract.rl.pruning import DynamicPruner, compact_actor, pruning_ratio


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default=None, help="a training run directory (default: fresh)")
    ap.add_argument("--ratio", type=float, default=0.5)
    ap.add_argument("--states", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.run:
        cfg = load_config(f"{args.run}/config.yaml")
        actor = load_actor(args.run)
    else:
        cfg = load_config(None)
        from dyncontract.env import BatchedContractEnv

        env = BatchedContractEnv(cfg.scenario_obj(), cfg.env)
        torch.manual_seed(0)
        actor = make_actor(cfg.rl, env.obs_dim, env.act_dim)
        DynamicPruner(actor, importance="magnitude").apply_ratio(args.ratio)
    small = compact_actor(actor)
    obs = torch.rand(args.states, actor.obs_dim, generator=torch.Generator().manual_seed(1))
    dense_ms = denoise_ms(actor, args.states, args.reps)
    compact_ms = denoise_ms(small, args.states, args.reps)
    res = {
        "threads": torch.get_num_threads(),
        "pruning_ratio": pruning_ratio(actor),
        "widths": {"dense": actor.denoiser.widths, "compact": small.denoiser.widths},
        "denoise_ms": {"dense": dense_ms, "compact": compact_ms, "states": args.states},
        "speedup": dense_ms / compact_ms,
        "compact_max_abs_diff": compact_diff(actor, small, 2 * obs - 1),
        "amortisation": amortisation(small, cfg, n=1024),
    }
    print(json.dumps(res, indent=2))
    if args.json:
        from dyncontract._io import write_json_atomic

        write_json_atomic(args.json, res)


if __name__ == "__main__":
    main()

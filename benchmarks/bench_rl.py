"""EDMSAC benchmark: training updates/s (DMSAC vs EDMSAC), compacted vs dense denoising, and
amortisation vs the solver.

Usage::

    .venv/bin/python benchmarks/bench_rl.py [--run RUN_DIR] [--ratio 0.5] [--states 1000]
        [--threads N] [--train-reps 30] [--train-updates 8] [--wide 512]
        [--compile-critic] [--compile-chain] [--note "idle machine"] [--skip-train]
        [--skip-deploy] [--json OUT]

* **Training speed** (``train_updates_per_s``, ``train_updates_per_s_wide``): updates/s of
  ``EDMSAC.update`` for DMSAC, EDMSAC and ``dense_compact_width`` (DMSAC with an actor born
  at the width pruning keeps: the ceiling of what pruning can save, since the critics and
  the rest of the update cost the same) with the default ``rl`` settings (or the run's) at
  the default actor width and at ``--wide`` (512). Batches look like the trainer's on the
  contract env (``batch_size`` rows, ``actions_per_state`` adjacent rows per state, every
  transition terminal). EDMSAC runs at progress 0.6, i.e. at its target ratio with the
  real schedule: masks recomputed every ``prune_interval`` actor updates and the default
  importance probe (the target ratio is reached through 20 %, as in the ramp). The agents
  alternate in one process (``--train-updates`` updates each, ``--train-reps`` rounds, the
  order flipped every round); each figure is the median
  over rounds, so load from other processes hits both alike and the ratio stays fair.
  Only the update is timed (no env collection, no evaluation). ``cpu_time`` has the same
  figures from process CPU time (robust to other load with ``--threads 1``).
* **Compaction** (``denoise_ms_per_1k_states``): the actor of ``RUN_DIR`` (its own masks),
  or a freshly initialised actor of the default config masked at ``--ratio`` by weight
  magnitude. Denoising wall time for ``--states`` states (deterministic chain, median of
  repeats): the full-width dense network (``strip_masks``: masks baked in, every neuron
  computed) vs the compacted copy (speed-up, max |difference|); ``denoise_ms`` also has the
  masked actor itself, which now runs on its kept neurons only.
* **Amortisation**: contracts per second for a batch of 1024 market states — the policy (all
  five denoising steps + the least-payment map) vs the exact convex solver (one program per
  state, timed on a sample of 16 states).

The JSON also records the git revision, the command line, torch threads, the load average
before and after, and ``--note`` (say whether the machine was otherwise idle).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

from dyncontract.config import load_config
from dyncontract.experiments.composition import amortisation
from dyncontract.experiments.results_doc import git_revision
from dyncontract.rl.buffer import Batch
from dyncontract.rl.config import RLConfig
from dyncontract.rl.edmsac import EDMSAC, make_actor
from dyncontract.rl.evaluation import compact_diff, denoise_ms, load_actor
from dyncontract.rl.pruning import DynamicPruner, compact_actor, pruning_ratio, strip_masks

ROOT = Path(__file__).resolve().parents[1]


def _batches(rl: RLConfig, obs_dim: int, act_dim: int, n: int = 4) -> list[Batch]:
    g = torch.Generator().manual_seed(0)
    m = rl.actions_per_state
    out = []
    for _ in range(n):
        obs = torch.rand(rl.batch_size // m, obs_dim, generator=g).repeat_interleave(m, 0)
        act = torch.rand(len(obs), act_dim, generator=g) * 2 - 1
        rew = torch.rand(len(obs), generator=g)
        out.append(Batch(obs, act, rew, obs, torch.ones(len(obs))))
    return out


def train_speed(
    rl: RLConfig,
    obs_dim: int,
    act_dim: int,
    actor_hidden: int,
    reps: int = 15,
    updates: int = 8,
    warmup: int = 3,
) -> dict:
    """Median updates/s of DMSAC, EDMSAC and a dense actor of the compacted width, interleaved
    (see the module docstring)."""
    ratio = rl.prune_target
    compact = max(1, actor_hidden - int(round(ratio * actor_hidden)))
    setups = {
        "dmsac": {"algo": "dmsac", "actor_hidden": actor_hidden},
        "edmsac": {"algo": "edmsac", "actor_hidden": actor_hidden},
        # the ceiling of any pruning speed-up: DMSAC whose actor is born at the kept width
        "dense_compact_width": {"algo": "dmsac", "actor_hidden": compact},
    }
    agents = {}
    batches = _batches(rl, obs_dim, act_dim)
    gen = torch.Generator().manual_seed(1)
    progress = 0.6  # past prune_end_frac (0.5): EDMSAC holds its target ratio
    for name, upd in setups.items():
        cfg = rl.model_copy(update=upd)
        torch.manual_seed(0)
        ag = EDMSAC(cfg, obs_dim, act_dim)
        if ag.pruner is not None:  # at the target ratio, as after prune_end_frac, reached
            # through a lower ratio as in the ramp (a compiled actor objective then runs the
            # dynamic-shape graph it runs in training)
            ag.pruner.apply_ratio(0.2)
            for i in range(updates):
                ag.update(batches[i % len(batches)], gen, progress)
            ag.pruner.apply_ratio(ag.pruner.target_ratio)
        agents[name] = ag
    times: dict[str, list[float]] = {a: [] for a in agents}
    cpu: dict[str, list[float]] = {a: [] for a in agents}
    order = list(agents)
    for r in range(warmup + reps):
        for name in order if r % 2 == 0 else order[::-1]:
            ag = agents[name]
            t, c = time.perf_counter(), time.process_time()
            for i in range(updates):
                ag.update(batches[i % len(batches)], gen, progress)
            if r >= warmup:
                times[name].append((time.perf_counter() - t) / updates)
                cpu[name].append((time.process_time() - c) / updates)
    med = {a: statistics.median(v) for a, v in times.items()}
    med_cpu = {a: statistics.median(v) for a, v in cpu.items()}
    return {
        "dmsac": 1.0 / med["dmsac"],
        "edmsac": 1.0 / med["edmsac"],
        "edmsac_over_dmsac": med["dmsac"] / med["edmsac"],
        "dense_compact_width": 1.0 / med["dense_compact_width"],
        "dense_compact_width_over_dmsac": med["dmsac"] / med["dense_compact_width"],
        # process CPU seconds instead of wall (all threads summed): with --threads 1 it is
        # far less sensitive to other load on the machine than the wall-clock figures
        "cpu_time": {
            "dmsac": 1.0 / med_cpu["dmsac"],
            "edmsac": 1.0 / med_cpu["edmsac"],
            "edmsac_over_dmsac": med_cpu["dmsac"] / med_cpu["edmsac"],
            "dense_compact_width_over_dmsac": med_cpu["dmsac"] / med_cpu["dense_compact_width"],
        },
        "actor_hidden": actor_hidden,
        "compact_width": compact,
        "edmsac_pruning_ratio": agents["edmsac"].prune_ratio(),
        "rounds": reps,
        "updates_per_round": updates,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default=None, help="a training run directory (default: fresh)")
    ap.add_argument("--ratio", type=float, default=0.5)
    ap.add_argument("--states", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    ap.add_argument("--train-reps", type=int, default=30)
    ap.add_argument("--train-updates", type=int, default=8)
    ap.add_argument("--wide", type=int, default=512, help="actor_hidden of the wide figures")
    ap.add_argument(
        "--compile-critic", action="store_true", help="rl.compile_critic=true (torch.compile)"
    )
    ap.add_argument(
        "--compile-chain", action="store_true", help="rl.compile_chain=true (torch.compile)"
    )
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--skip-deploy", action="store_true")
    ap.add_argument("--note", default="not stated (pass --note: was the machine idle?)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    if args.run:
        cfg = load_config(f"{args.run}/config.yaml")
    else:
        cfg = load_config(None)
    compile_upd = {"compile_critic": args.compile_critic, "compile_chain": args.compile_chain}
    if any(compile_upd.values()):
        cfg = cfg.model_copy(update={"rl": cfg.rl.model_copy(update=compile_upd)})
    from dyncontract.env import BatchedContractEnv

    env = BatchedContractEnv(cfg.scenario_obj(), cfg.env)
    res: dict = {
        "git_revision": git_revision(Path(__file__).parent),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "threads": torch.get_num_threads(),
        "compile_critic": cfg.rl.compile_critic,
        "compile_chain": cfg.rl.compile_chain,
        "prune_compact": cfg.rl.prune_compact,
        "prune_probe_every": cfg.rl.prune_probe_every,
        "torch": torch.__version__,
        "note": args.note,
    }
    if not args.skip_train:
        res["train_updates_per_s"] = train_speed(
            cfg.rl, env.obs_dim, env.act_dim, cfg.rl.actor_hidden, args.train_reps,
            args.train_updates,
        )  # fmt: skip
        res["train_updates_per_s_wide"] = train_speed(
            cfg.rl, env.obs_dim, env.act_dim, args.wide, args.train_reps, args.train_updates
        )
    if not args.skip_deploy:
        if args.run:
            actor = load_actor(args.run)
        else:
            torch.manual_seed(0)
            actor = make_actor(cfg.rl, env.obs_dim, env.act_dim)
            DynamicPruner(actor, importance="magnitude").apply_ratio(args.ratio)
        small = compact_actor(actor)
        obs = torch.rand(args.states, actor.obs_dim, generator=torch.Generator().manual_seed(1))
        # dense: the full-width network (masks baked into plain weights; the masked actor
        # itself now runs on its kept neurons only, as fast as the compact copy)
        dense_ms = denoise_ms(strip_masks(actor), args.states, args.reps)
        masked_ms = denoise_ms(actor, args.states, args.reps)
        compact_ms = denoise_ms(small, args.states, args.reps)
        res.update(
            {
                "pruning_ratio": pruning_ratio(actor),
                "widths": {"dense": actor.denoiser.widths, "compact": small.denoiser.widths},
                "denoise_ms_per_1k_states": {
                    "dense": dense_ms * 1000.0 / args.states,
                    "compact": compact_ms * 1000.0 / args.states,
                    "states": args.states,
                },
                "denoise_ms": {
                    "dense": dense_ms,
                    "masked_kept_only": masked_ms,
                    "compact": compact_ms,
                    "states": args.states,
                },
                "speedup": dense_ms / compact_ms,
                "compact_max_abs_diff": compact_diff(actor, small, 2 * obs - 1),
                "amortisation": amortisation(small, cfg, n=1024),
            }
        )
    res["loadavg_before_after"] = [list(load_before), list(os.getloadavg())]
    print(json.dumps(res, indent=2))
    if args.json:
        from dyncontract._io import write_json_atomic

        write_json_atomic(args.json, res)


if __name__ == "__main__":
    main()

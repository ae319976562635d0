"""The pruning ablation: EDMSAC vs DMSAC vs a dense actor of the compacted width.

Usage::

    .venv/bin/python benchmarks/ablation_pruning.py --out runs/ablation [--minutes 5]
        [--seeds 0,1,2] [--modes structured,menu] [--parallel 2] [--menu-config FILE]
        [--csv docs/data/ablation_pruning/ablation.csv]

Arms (every one trained with ``dyncontract train`` for ``--minutes`` of wall clock, then scored
with ``dyncontract evaluate --split test``: test states, single action primary):

* ``edmsac``: the diffusion actor at the default width (128), pruned to 50 % (the default
  schedule);
* ``dmsac``: the same actor, never pruned;
* ``dense64``: DMSAC with ``rl.actor_hidden=64`` — a dense actor born at the width EDMSAC
  keeps (the reviewer's alternative to pruning).

``--modes``: the structured mode (the default config) and the menu mode
(``env.action_mode=menu``, plus ``--menu-config`` if given). With ``--parallel 2`` two runs
share the machine at a time, each on one thread (``OMP_NUM_THREADS=1``); every arm runs under
the same conditions, so the wall-clock budget stays equal across arms. Finished runs (an
``eval_test.json`` in their directory) are skipped, so the script can be resumed.

Writes a per-run CSV and a summary (mean, 95 % t interval over seeds) next to ``--csv``, and a
provenance JSON with the commands, the git revision and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from dyncontract._io import write_json_atomic, write_text_atomic
from dyncontract.experiments.aggregate import ci95
from dyncontract.experiments.results_doc import provenance

EXE = Path(sys.executable).parent / "dyncontract"
ARMS = {
    "edmsac": ["--algo", "edmsac"],
    "dmsac": ["--algo", "dmsac"],
    "dense64": ["--algo", "dmsac", "--set", "rl.actor_hidden=64"],
}
METRICS = [
    "ratio_single",
    "ratio_single_p05",
    "ratio_single_median",
    "beats_static_best_single",
    "truthful_single",
    "ratio_best_of_n",
    "pruning_ratio",
]


def commands(run: Path, mode: str, arm: str, seed: int, minutes: float, menu_cfg: str | None):
    train = [str(EXE), "train", *ARMS[arm], "--max-minutes", str(minutes), "--seed", str(seed)]
    if mode == "menu":
        if menu_cfg:
            train += ["--config", menu_cfg]
        train += ["--set", "env.action_mode=menu"]
    train += ["--out", str(run), "-q"]
    evaluate = [str(EXE), "evaluate", str(run), "--split", "test", "--no-timing"]
    evaluate += ["--json", str(run / "eval_test.json")]
    return train, evaluate


def run_one(job: tuple) -> dict:
    run, mode, arm, seed, minutes, menu_cfg = job
    train, evaluate = commands(run, mode, arm, seed, minutes, menu_cfg)
    if not (run / "eval_test.json").exists():
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        if run.exists():  # an unfinished run: start it again from scratch
            subprocess.run(["rm", "-rf", str(run)], check=True)
        for cmd in (train, evaluate):
            r = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    ev = json.loads((run / "eval_test.json").read_text())
    metrics = pd.read_csv(run / "metrics.csv")
    last = metrics.iloc[-1]
    row = {"mode": mode, "arm": arm, "seed": seed, "minutes": minutes}
    row.update({k: ev.get(k, float("nan")) for k in METRICS})
    row.update(
        updates=int(last["updates"]),
        samples=int(last["samples"]),
        wall_s=float(last["wall_s"]),
        mask_churn_total=float(metrics["mask_churn"].fillna(0).sum()),
        train=" ".join(Path(c).name if i == 0 else c for i, c in enumerate(train)),
    )
    print(json.dumps({k: row[k] for k in ("mode", "arm", "seed", "ratio_single")}), flush=True)
    return row


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    out = []
    for (mode, arm), g in runs.groupby(["mode", "arm"], sort=False):
        rec = {"mode": mode, "arm": arm, "seeds": len(g)}
        for k in ("ratio_single", "ratio_single_p05", "ratio_single_median", "truthful_single"):
            rec[k] = float(g[k].mean())
            rec[f"{k}_ci95"] = ci95(g[k].to_numpy())
        for k in ("beats_static_best_single", "pruning_ratio", "updates", "samples", "wall_s"):
            rec[k] = float(g[k].mean())
        out.append(rec)
    return pd.DataFrame(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="directory of the training runs")
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--modes", default="structured,menu")
    ap.add_argument("--arms", default=",".join(ARMS))
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--menu-config", default=None, help="config file for the menu-mode runs")
    ap.add_argument("--note", default="not stated (was anything else running?)")
    ap.add_argument("--csv", required=True, help="per-run CSV; the summary goes beside it")
    args = ap.parse_args()
    out = Path(args.out)
    jobs = [
        (out / mode / arm / str(seed), mode, arm, seed, args.minutes, args.menu_config)
        for mode in args.modes.split(",")
        for seed in (int(s) for s in args.seeds.split(","))
        for arm in args.arms.split(",")
    ]
    t0 = time.time()
    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        rows = list(pool.map(run_one, jobs))
    runs = pd.DataFrame(rows)
    summary = summarise(runs)
    csv = Path(args.csv)
    csv.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(csv, runs.to_csv(index=False))
    write_text_atomic(csv.with_name(csv.stem + "_summary.csv"), summary.to_csv(index=False))
    wall = time.time() - t0
    note = f"{args.note}; {args.parallel} runs at a time, one thread each; wall {wall:.0f} s"
    prov = provenance(" ".join([Path(sys.executable).name, *sys.argv]), note)
    write_json_atomic(csv.with_name("provenance.json"), prov)
    print(summary.to_string(index=False))


if __name__ == "__main__":
    main()

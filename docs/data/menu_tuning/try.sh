#!/bin/bash
# usage: try.sh VARIANT ALGO MINUTES [--set k=v ...]  (extra args passed to train)
# As run for tries.csv: runs/dc.sh was `dyncontract` from the worktree (PYTHONPATH=src,
# OMP_NUM_THREADS=1); runs went to runs/mt/runs (not kept). Variants ending in _s1 use seed 1.
set -u
V=$1; ALGO=$2; MIN=$3; shift 3
SEED=0; [[ $V == *_s1 ]] && SEED=1
OUT=runs/mt/runs/$V
rm -rf $OUT; mkdir -p runs/mt/runs
echo "$(date -u +%H:%M:%S) start $V $ALGO $MIN $*" >> runs/mt/log.txt
runs/dc.sh train --algo $ALGO --set env.action_mode=menu --max-minutes $MIN --seed ${SEED:-0} --out $OUT -q "$@" > runs/mt/$V.train.log 2>&1
runs/dc.sh evaluate $OUT --split validation --no-timing --json runs/mt/$V.eval.json > runs/mt/$V.eval.log 2>&1
.venv/bin/python - "$V" "$ALGO" "$MIN" "$OUT" "$*" <<'PY'
import json, sys, csv, os
v, algo, mins, out, ov = sys.argv[1:]
e = json.load(open(f"runs/mt/{v}.eval.json"))
rows = list(csv.DictReader(open(f"{out}/metrics.csv")))
last = rows[-1]
ov = " ".join(x for x in ov.split() if x != "--set")
row = dict(variant=v, overrides="env.action_mode=menu " + ov, algo=algo,
  seed="1" if v.endswith("_s1") else "0", minutes=mins,
  updates=last["updates"], samples=last["samples"], ratio_mean=f'{e["ratio_single"]:.4f}',
  ratio_p05=f'{e["ratio_single_p05"]:.4f}', ratio_median=f'{e["ratio_single_median"]:.4f}',
  truthful=f'{e["truthful_single"]:.3f}', best_of_n_mean=f'{e["ratio_best_of_n"]:.4f}',
  curve=" ".join(f'{float(r["ratio_single"]):.3f}' for r in rows))
p = "../wt10/docs/data/menu_tuning/tries.csv"
new = not os.path.exists(p)
with open(p, "a", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(row))
    if new: w.writeheader()
    w.writerow(row)
print(row)
PY
echo "$(date -u +%H:%M:%S) done $V" >> runs/mt/log.txt

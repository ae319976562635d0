#!/bin/bash
# usage: run.sh NAME ALGO STEPS [--set k=v ...]: train (menu mode, seed 0, one thread) and
# evaluate on the validation states; one line per run appended to $RESULTS (default
# $D/results.txt; D default runs/exp10b); with COPY_EVAL_TO set, the eval JSON is copied there
set -u
N=$1; ALGO=$2; S=$3; shift 3
D=${D:-runs/exp10b}; RESULTS=${RESULTS:-$D/results.txt}; OUT=$D/runs/$N; rm -rf $OUT; mkdir -p $D/runs
cd "$(dirname "$0")/../../../.."
export PYTHONPATH=src OMP_NUM_THREADS=1
if [ -n "${COPY_EVAL_TO:-}" ]; then trap 'cp $D/$N.eval.json $COPY_EVAL_TO/ 2>/dev/null' EXIT; fi
.venv/bin/dyncontract train --algo $ALGO --set env.action_mode=menu --set rl.eval_every_steps=50000 --steps $S --seed 0 --out $OUT -q "$@" > $D/$N.train.log 2>&1
.venv/bin/dyncontract evaluate $OUT --split validation --no-timing --json $D/$N.eval.json > $D/$N.eval.log 2>&1
.venv/bin/python - "$N" "$OUT" "$D" "$*" "$RESULTS" <<'PY'
import csv, json, sys
n, out, d, ov, results = sys.argv[1:]
e = json.load(open(f"{d}/{n}.eval.json"))
rows = list(csv.DictReader(open(f"{out}/metrics.csv")))
curve = " ".join(f"{float(r['ratio_single']):.3f}" for r in rows if r["ratio_single"])
with open(results, "a") as f:
    f.write(f"{n} [{ov}] updates {rows[-1]['updates']} samples {rows[-1]['samples']} mean "
            f"{e['ratio_single']:.4f} p05 {e['ratio_single_p05']:.4f} median "
            f"{e['ratio_single_median']:.4f} truthful {e['truthful_single']:.3f} curve {curve}\n")
PY

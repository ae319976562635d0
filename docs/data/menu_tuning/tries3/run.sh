#!/bin/bash
# usage: run.sh NAME ALGO STEPS [--set ...]; env TAU0 TAU1 END passed through (as run: runs and
# logs under runs/exp10, results appended to runs/exp10/results.txt, copied here)
set -u
N=$1; ALGO=$2; S=$3; shift 3
OUT=runs/exp10/runs/$N; rm -rf $OUT; mkdir -p runs/exp10/runs
cd .  # the repository root
export PYTHONPATH=src OMP_NUM_THREADS=1
.venv/bin/python "$(dirname "$0")"/soft_drv.py train --algo $ALGO --set env.action_mode=menu --set rl.eval_every_steps=50000 --steps $S --seed ${SEED:-0} --out $OUT -q "$@" > runs/exp10/$N.train.log 2>&1
.venv/bin/dyncontract evaluate $OUT --split validation --no-timing --json runs/exp10/$N.eval.json > runs/exp10/$N.eval.log 2>&1
.venv/bin/python -c "
import json,csv; e=json.load(open('runs/exp10/$N.eval.json')); rows=list(csv.DictReader(open('$OUT/metrics.csv')))
print('$N', rows[-1]['updates'], rows[-1]['samples'], 'mean %.4f p05 %.4f med %.4f truth %.3f bestN %.4f'%(e['ratio_single'],e['ratio_single_p05'],e['ratio_single_median'],e['truthful_single'],e['ratio_best_of_n']), ' '.join('%.3f'%float(r['ratio_single']) for r in rows))
" >> runs/exp10/results.txt

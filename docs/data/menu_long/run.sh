#!/bin/bash
# usage: run.sh ALGO MINUTES SEED [TAG --set k=v ...]: does a longer budget close the gap?
# (TAG names a variant; the --set options follow it.) The menu-mode protocol
# (plain menu mode, test states, single action primary) with MINUTES instead of 10; EDMSAC
# with both compile options; one thread per run, two runs at a time on the 2 cores.
set -u
A=$1; M=$2; S=$3; shift 3; TAG=${1:+_$1}; [ $# -gt 0 ] && shift
D=runs/exp23long; N=${A}_${M}min_s$S$TAG; OUT=$D/runs/$N; rm -rf $OUT; mkdir -p $D/runs
cd "$(dirname "$0")/../../.."
export PYTHONPATH=src OMP_NUM_THREADS=1
EXTRA=""; [ "$A" != gsac ] && EXTRA="--set rl.compile_critic=true --set rl.compile_chain=true"
.venv/bin/dyncontract train --algo $A --set env.action_mode=menu --max-minutes $M --seed $S \
  $EXTRA "$@" --out $OUT -q > $D/$N.train.log 2>&1
.venv/bin/dyncontract evaluate $OUT --no-timing --json $D/$N.test.json > $D/$N.eval.log 2>&1
.venv/bin/dyncontract evaluate $OUT --no-timing --split validation --json $D/$N.validation.json \
  > $D/$N.evalv.log 2>&1
mkdir -p docs/data/menu_long/runs
cp $D/$N.test.json docs/data/menu_long/runs/evaluate_test_$N.json
cp $D/$N.validation.json docs/data/menu_long/runs/evaluate_validation_$N.json
cp $OUT/metrics.csv docs/data/menu_long/runs/metrics_validation_$N.csv

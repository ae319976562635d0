#!/bin/bash
# usage: run.sh SEED: the menu-mode protocol (EDMSAC, plain menu mode, 10 minutes, test states)
# with both compile options (stop 22's code: C++ wrapper, clipping change), one thread per
# run; seeds run in pairs (0+1, then 2+3) so that every run shares the 2 cores alike.
set -u
S=$1; D=runs/exp22; OUT=$D/runs/edmsac_compiled_s$S; rm -rf $OUT; mkdir -p $D/runs
cd "$(dirname "$0")/../../.."
export PYTHONPATH=src OMP_NUM_THREADS=1
.venv/bin/dyncontract train --algo edmsac --set env.action_mode=menu --max-minutes 10 --seed $S \
  --set rl.compile_critic=true --set rl.compile_chain=true --out $OUT -q > $D/s$S.train.log 2>&1
.venv/bin/dyncontract evaluate $OUT --no-timing --json $D/edmsac_compiled_s$S.eval.json > $D/s$S.eval.log 2>&1
mkdir -p docs/data/menu_edmsac_stop22/runs
cp $D/edmsac_compiled_s$S.eval.json docs/data/menu_edmsac_stop22/runs/evaluate_test_s$S.json
cp $OUT/metrics.csv docs/data/menu_edmsac_stop22/runs/metrics_validation_s$S.csv

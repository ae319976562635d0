#!/bin/bash
# usage: run.sh SEED: the menu-mode protocol (EDMSAC, plain menu mode, 10 minutes, test states)
# with both compile options, one thread (as the 10-minute table: 2 processes, 1 thread each)
set -u
S=$1; D=runs/exp10c; OUT=$D/runs/edmsac_compiled_s$S; rm -rf $OUT; mkdir -p $D/runs
cd .  # the repository root
export PYTHONPATH=src OMP_NUM_THREADS=1
.venv/bin/dyncontract train --algo edmsac --set env.action_mode=menu --max-minutes 10 --seed $S \
  --set rl.compile_critic=true --set rl.compile_chain=true --out $OUT -q > $D/s$S.train.log 2>&1
.venv/bin/dyncontract evaluate $OUT --no-timing --json $D/edmsac_compiled_s$S.eval.json > $D/s$S.eval.log 2>&1

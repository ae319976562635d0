#!/bin/bash
# One batch of in-process interleaved measurements (inproc.py), run alone on the machine:
#   D5PKG=runs/d5pkg bash docs/data/bench_rl/inproc/batch.sh REPS ARMS_LIST... > LOG
# e.g. batch1.log: REPS=3, one process per arm: "eager" "compile_all" "compile_all_py";
#      batch2.log: REPS=3, all arms in one process: "eager,compile_all,compile_all_py".
# D5PKG holds d5f0a49's src/dyncontract renamed to dyncontract_d5 (make_d5pkg.sh).
set -e
REPS=$1; shift
for rep in $(seq 1 "$REPS"); do
  for algo in dmsac edmsac; do
    for arms in "$@"; do
      PYTHONPATH=src:$D5PKG .venv/bin/python docs/data/bench_rl/inproc/inproc.py $algo $arms 30 \
        2>&1 | grep -v -i warn
    done
  done
done

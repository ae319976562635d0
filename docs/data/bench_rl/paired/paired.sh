#!/bin/bash
# Paired alternation at the default sizes (actor_hidden 128, 2 threads, run alone): d5f0a49
# (the speed work's starting point) against two configurations of this revision, one process per
# measurement (dm.py: median ms per update over 12 rounds of 8 updates), the order of the
# three rotated every repetition.
#   usage: paired.sh REPS ARM_X ARM_Y      arms: eager | compile (critic) | compile_all (critic + chain)
#   batch 1 (paired2.log): paired.sh 5 eager compile
#   batch 2 (paired3.log): paired.sh 4 compile compile_all
#   batch 3 (paired4.log): paired.sh 4 eager compile_all
#   batch 4 (paired5.log, stop 21: compile_all = critic + the whole actor objective; every
#   arm, d5f0a49 included, ramps the masks 0 -> 20 % -> 50 % before timing, as training does):
#     RAMP=--ramp paired.sh 4 eager compile_all
#   batches 7 and 8 (paired8.log, paired9.log, stop 22: C++ wrapper, clipping change):
#     RAMP=--ramp paired.sh 4 eager compile_all; RAMP=--ramp paired.sh 8 eager compile_all
#   batch 9 (paired10.log, stop 22, 40 rounds per process instead of 14):
#     DM_ROUNDS=40 RAMP=--ramp paired.sh 6 eager compile_all
# Needs a worktree of d5f0a49 at ../wt_d5 (git worktree add ../wt_d5 d5f0a49).
set -e
REPS=$1; X=$2; Y=$3
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../../.." && pwd)
cd "$ROOT"
run() {
  case $1 in
    d5) PYTHONPATH=../wt_d5/src .venv/bin/python "$HERE/dm.py" d5f0a49 "$2" 128 ../wt_d5 ${RAMP:-};;
    eager) PYTHONPATH=src .venv/bin/python "$HERE/dm.py" new "$2" 128 "$ROOT" ${RAMP:-};;
    *) PYTHONPATH=src .venv/bin/python "$HERE/dm.py" new "$2" 128 "$ROOT" "$1" ${RAMP:-};;
  esac
}
for algo in dmsac edmsac; do
  for rep in $(seq 1 "$REPS"); do
    case $(( rep % 3 )) in
      1) order="d5 $X $Y";; 2) order="$X $Y d5";; 0) order="$Y d5 $X";;
    esac
    for arm in $order; do run "$arm" "$algo"; done
  done
done

#!/bin/bash
# usage: run.sh NAME ALGO STEPS [--set k=v ...]: ../tries4/run.sh with the results line and
# the eval JSON written here (runs under runs/exp22t)
HERE=$(cd "$(dirname "$0")" && pwd)
D=runs/exp22t RESULTS=$HERE/results.txt COPY_EVAL_TO=$HERE exec bash "$HERE/../tries4/run.sh" "$@"

#!/bin/bash
# paired alternation at the default sizes: d5f0a49 (the "today" of issue 11) vs this revision
# (eager, and with rl.compile_critic), one process each (~15 s), orders rotated, alone
cd /work/main
for algo in dmsac edmsac; do
 for rep in 1 2 3 4 5; do
  case $(( rep % 3 )) in
   1) order="d5 new newc";; 2) order="new newc d5";; 0) order="newc d5 new";;
  esac
  for w in $order; do
   case $w in
    d5) PYTHONPATH=/work/wt_d5/src .venv/bin/python /work/exp11/dm.py d5f0a49 $algo 128 /work/wt_d5;;
    new) PYTHONPATH=src .venv/bin/python /work/exp11/dm.py new $algo 128 /work/main;;
    newc) PYTHONPATH=src .venv/bin/python /work/exp11/dm.py new $algo 128 /work/main compile;;
   esac
  done
 done
done

#!/bin/bash
# paired alternation at the default sizes: d5f0a49 vs this revision eager (defaults)
# and with rl.compile_critic + rl.compile_chain; one process each, orders rotated, alone
cd /work/main
for algo in dmsac edmsac; do
 for rep in 1 2 3 4; do
  case $(( rep % 3 )) in
   1) order="d5 newc newcc";; 2) order="newc newcc d5";; 0) order="newcc d5 newc";;
  esac
  for w in $order; do
   case $w in
    d5) PYTHONPATH=/work/wt_d5/src .venv/bin/python /work/exp11/dm.py d5f0a49 $algo 128 /work/wt_d5;;
    newc) PYTHONPATH=src .venv/bin/python /work/exp11/dm.py new $algo 128 /work/main;;
    newcc) PYTHONPATH=src .venv/bin/python /work/exp11/dm.py new $algo 128 /work/main compile_all;;
   esac
  done
 done
done

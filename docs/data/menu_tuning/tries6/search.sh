#!/bin/bash
# Per-state model-free search on validation states (es_search.py, cma_states.py); one line
# per configuration appended to search.txt. Two lanes of one thread each. Not a timing.
HERE=$(cd "$(dirname "$0")" && pwd); cd "$HERE/../../../.."
export PYTHONPATH=src OMP_NUM_THREADS=1; PY=.venv/bin/python; OUT=$HERE/search.txt
{
  for s in 0.3 0.1 0.03 0.01; do $PY $HERE/es_search.py --sigma0 $s; done
  $PY $HERE/es_search.py --sigma0 0.03 --start -0.8
  $PY $HERE/es_search.py --sigma0 0.3 --sigma1 0.01
} >> $OUT 2>&1 &
{
  $PY $HERE/es_search.py --sigma0 0.03 --lr1 1e-3
  $PY $HERE/es_search.py --sigma0 0.1 --sigma1 0.01 --lr1 5e-4
  $PY $HERE/es_search.py --sigma0 0.1 --sigma1 0.003 --lr1 2e-4 --steps 4000
  $PY $HERE/es_search.py --sigma0 0.1 --sigma1 0.01 --lr1 5e-4 --payments rent_cum
  for p in rent rent_cum; do $PY $HERE/cma_states.py --payments $p --evals 20000 2>&1 | grep -v -i warn; done
  $PY $HERE/cma_states.py --payments rent --evals 2000 2>&1 | grep -v -i warn
} >> $OUT 2>&1 &
wait

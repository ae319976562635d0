#!/bin/bash
# Builds D5PKG: d5f0a49's src/dyncontract as the package dyncontract_d5 (imports renamed),
# and its benchmarks/bench_rl.py as bench_rl_d5, so that inproc.py can hold agents of both
# revisions in one process.   usage: bash make_d5pkg.sh OUT_DIR   (run in the repository)
set -e
OUT=$1
rm -rf "$OUT" && mkdir -p "$OUT/dyncontract_d5"
git archive d5f0a49 src/dyncontract benchmarks/bench_rl.py | tar -x -C "$OUT"
mv "$OUT"/src/dyncontract/* "$OUT/dyncontract_d5/" && mv "$OUT/benchmarks/bench_rl.py" "$OUT/bench_rl_d5.py"
rm -rf "$OUT/src" "$OUT/benchmarks"
find "$OUT" -name '*.py' -print0 | xargs -0 sed -i -E \
  's/\bdyncontract\./dyncontract_d5./g; s/from dyncontract import/from dyncontract_d5 import/g'

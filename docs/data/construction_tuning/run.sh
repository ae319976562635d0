#!/usr/bin/env bash
# The comparisons behind the construction's agent and defaults (docs/notes/construction-tuning.md),
# on validation missions: the grounding maps vs a plain FiLM agent (central behaviour cloning on
# the 20 ESs' pooled data), and 4 vs 8 rounds per period (federated, 20 ESs, 280 steps each per
# period). Appends to results.jsonl. Sample- and step-budgeted: the numbers do not depend on
# the machine's load (the cpu_s / wall_s fields do).
set -euo pipefail
cd "$(dirname "$0")/../../.."
OUT=docs/data/construction_tuning/results.jsonl
PY=.venv/bin/python
$PY benchmarks/construct_tuning.py --mode central --heads 4 --evals 400,800,1500 --out $OUT
$PY benchmarks/construct_tuning.py --mode central --heads 0 --evals 400,800,1500 --out $OUT
$PY benchmarks/construct_tuning.py --mode fed --rounds 8 --out $OUT
$PY benchmarks/construct_tuning.py --mode fed --rounds 4 --out $OUT

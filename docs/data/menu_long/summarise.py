"""long_runs.csv from runs/: one row per run (evaluate_test_NAME.json on the test states, and
the last row of metrics_validation_NAME.csv for samples, updates and wall time), plus the
validation curve at 10, 20, 30 and 40 minutes.   python docs/data/menu_long/summarise.py"""

import csv
import json
from pathlib import Path

HERE = Path(__file__).parent
KEYS = ["ratio_single", "ratio_single_p05", "ratio_single_median", "ratio_best_of_n",
        "truthful_single", "beats_static_best_single"]  # fmt: skip
rows = []
for ev in sorted((HERE / "runs").glob("evaluate_test_*.json")):
    name = ev.stem.removeprefix("evaluate_test_")
    d = json.loads(ev.read_text())
    with open(HERE / "runs" / f"metrics_validation_{name}.csv") as f:
        metrics = [r for r in csv.DictReader(f) if r["ratio_single"]]
    row = {"run": name, **{k: round(d[k], 4) for k in KEYS}}
    last = metrics[-1]
    row.update(samples=int(last["samples"]), updates=int(last["updates"]),
               wall_s=round(float(last["wall_s"]), 1))  # fmt: skip
    for m in (10, 20, 30, 40):  # validation ratio of the last row at or before m minutes
        before = [r for r in metrics if float(r["wall_s"]) <= 60 * m + 1]
        row[f"validation_ratio_{m}min"] = round(float(before[-1]["ratio_single"]), 4)
    rows.append(row)
with open(HERE / "long_runs.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
print(open(HERE / "long_runs.csv").read())

"""summary.csv from runs/: per seed the test-state evaluation (evaluate_test_sS.json) and the
run's last metrics row (samples, updates, wall time), then the mean over seeds with a 95 %
t interval of the single-action ratio.   python docs/data/menu_edmsac_stop22/summarise.py"""

import csv
import json
import statistics
from pathlib import Path

from scipy import stats

HERE = Path(__file__).parent
KEYS = ["ratio_single", "ratio_single_p05", "ratio_single_median", "ratio_best_of_n",
        "truthful_single", "beats_static_best_single"]  # fmt: skip
rows = []
for ev in sorted((HERE / "runs").glob("evaluate_test_s*.json")):
    seed = ev.stem.rsplit("_s", 1)[1]
    d = json.loads(ev.read_text())
    with open(HERE / "runs" / f"metrics_validation_s{seed}.csv") as f:
        last = list(csv.DictReader(f))[-1]
    row = {"seed": seed, **{k: round(d[k], 4) for k in KEYS}}
    row.update(samples=int(last["samples"]), updates=int(last["updates"]),
               wall_s=round(float(last["wall_s"]), 1))  # fmt: skip
    rows.append(row)
r = [x["ratio_single"] for x in rows]
half = stats.t.ppf(0.975, len(r) - 1) * statistics.stdev(r) / len(r) ** 0.5
mean = {"seed": "mean"}
for k in [*KEYS, "samples", "updates", "wall_s"]:
    mean[k] = round(statistics.mean(x[k] for x in rows), 4)
rows.append({**mean, "ratio_single_ci95": round(half, 4)})
with open(HERE / "summary.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=[*rows[0], "ratio_single_ci95"])
    w.writeheader()
    w.writerows(rows)
print(open(HERE / "summary.csv").read())

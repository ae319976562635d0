"""paired*.log (lines "TAG ALGO WIDTH MS", three arms per repetition) -> the two CSVs beside
``paired/``: every measurement (paired_vs_d5f0a49.csv) and per batch, algorithm and arm the
median, min, max, updates/s and the speed-up against d5f0a49 of the same batch, both as a
ratio of medians and as the median of the per-repetition ratios (each repetition's three
processes ran back to back, so its ratio is the paired one).

    python docs/data/bench_rl/paired/summarise.py
"""

import csv
import statistics
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
rows = []
for log in sorted(HERE.glob("paired*.log")):
    count: dict[str, int] = defaultdict(int)
    for line in log.read_text().split("\n"):
        parts = line.split()
        if len(parts) != 4:
            continue
        code, algo, width, ms = parts
        rep = count[algo] // 3
        count[algo] += 1
        rows.append(dict(batch=log.stem, code=code, algo=algo, actor_hidden=width, rep=rep, ms=ms))
with open(HERE.parent / "paired_vs_d5f0a49.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["batch", "code", "algo", "actor_hidden", "ms_per_update"])
    for r in rows:
        w.writerow([r["batch"], r["code"], r["algo"], r["actor_hidden"], r["ms"]])
groups: dict[tuple, dict[int, float]] = defaultdict(dict)
for r in rows:
    groups[(r["batch"], r["algo"], r["code"])][r["rep"]] = float(r["ms"])
out = []
for (batch, algo, code), by_rep in groups.items():
    ms = list(by_rep.values())
    ref = groups[(batch, algo, "d5f0a49")]
    med = statistics.median(ms)
    paired = [ref[k] / v for k, v in by_rep.items() if k in ref]
    out.append(
        [batch, algo, code, round(med, 2), round(min(ms), 2), round(max(ms), 2), len(ms),
         round(1000 / med, 2), round(statistics.median(ref.values()) / med, 3),
         round(statistics.median(paired), 3)]
    )  # fmt: skip
with open(HERE.parent / "paired_summary.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(
        ["batch", "algo", "code", "median", "min", "max", "count", "updates_per_s_median",
         "speedup_vs_d5f0a49_same_batch", "speedup_median_of_paired_ratios"]
    )  # fmt: skip
    w.writerows(out)

"""Collects the in-process batches (batch*.log, lines printed by inproc.py) into
inproc.csv and prints, per batch, algorithm and arm, the ratios to d5f0a49 over the
repetitions.   python docs/data/bench_rl/inproc/summarise.py"""

import ast
import csv
import statistics
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).parent
rows = []
for log in sorted(HERE.glob("batch*.log")):
    for line in log.read_text().splitlines():
        if not line or line.startswith(("#", "after ")):
            continue
        algo, arm, width, rest = line.split(" ", 3)
        ms, tail = rest.split("}", 1)
        ms = ast.literal_eval(ms + "}")
        words = tail.split()
        rows.append(
            {
                "batch": log.stem,
                "algo": algo,
                "arm": arm,
                "actor_hidden": int(width),
                "d5f0a49_ms": ms["d5f0a49"],
                "new_ms": ms["new"],
                "ratio_of_medians": float(words[words.index("ratio") + 1]),
                "median_paired_ratio": float(words[words.index("median_paired") + 1]),
            }
        )
with open(HERE / "inproc.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
groups = defaultdict(list)
for r in rows:
    groups[r["batch"], r["algo"], r["arm"]].append(r)
for (batch, algo, arm), rs in groups.items():
    a = [r["ratio_of_medians"] for r in rs]
    p = [r["median_paired_ratio"] for r in rs]
    print(
        f"{batch} {algo:6s} {arm:15s} n={len(rs)} ratio {min(a):.3f}-{max(a):.3f} "
        f"(median {statistics.median(a):.3f}), paired {min(p):.3f}-{max(p):.3f} "
        f"(median {statistics.median(p):.3f})"
    )

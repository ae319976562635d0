"""Aggregation over seeds: summary table (CSV + Markdown) and learning-curve bands."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from dyncontract._io import write_text_atomic
from dyncontract.experiments.runner import finished_runs, load_eval
from dyncontract.experiments.spec import ALL_METHODS

SUMMARY_COLUMNS = [
    "method",
    "seeds",
    "profit_mean",
    "optimality_ratio_mean",
    "optimality_ratio_ci95",
    "optimality_ratio_p05",
    "feasible_rate",
    "beats_static_rate",
    "steps",
    "train_wall_s",
]


def ci95(x: np.ndarray) -> float:
    """Half-width of the 95 % t confidence interval of the mean (NaN with one value)."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if x.size < 2:
        return math.nan
    return float(stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))


def collect(out: str | os.PathLike, experiment: str) -> pd.DataFrame:
    """One row per finished run (all kinds), from eval.json files."""
    rows = []
    for d in finished_runs(out, experiment):
        ev = load_eval(d)
        ev["run_dir"] = str(d)
        rows.append(ev)
    return pd.DataFrame(rows)


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds per method of the main comparison (ablation/F3 runs excluded)."""
    if runs.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    main = runs[runs["group"] == runs["method"]]
    out = []
    for m in [m for m in ALL_METHODS if m in set(main["method"])]:
        g = main[main["method"] == m]
        row: dict[str, Any] = {"method": m, "seeds": int(len(g))}
        for col in (
            "profit_mean",
            "optimality_ratio_mean",
            "optimality_ratio_p05",
            "feasible_rate",
            "beats_static_rate",
            "steps",
            "train_wall_s",
        ):
            v = pd.to_numeric(g.get(col, pd.Series(dtype=float)), errors="coerce")
            row[col] = float(v.mean()) if v.notna().any() else math.nan
        row["optimality_ratio_ci95"] = ci95(
            pd.to_numeric(g["optimality_ratio_mean"], errors="coerce").to_numpy()
        )
        out.append(row)
    return pd.DataFrame(out, columns=SUMMARY_COLUMNS)


def _fmt(v: Any, col: str) -> str:
    if isinstance(v, float) and math.isnan(v):
        return "n/a"
    if col in ("seeds", "steps"):
        return f"{int(v):,}"
    if col == "train_wall_s":
        return f"{v:.1f}"
    if col == "profit_mean":
        return f"{v:.4f}"
    if col == "optimality_ratio_ci95":
        return f"±{v:.4f}"
    return f"{v:.4f}"


def summary_markdown(summary: pd.DataFrame, title: str = "") -> str:
    heads = {
        "method": "method",
        "seeds": "seeds",
        "profit_mean": "profit / ES",
        "optimality_ratio_mean": "opt. ratio",
        "optimality_ratio_ci95": "95 % CI",
        "optimality_ratio_p05": "ratio p05",
        "feasible_rate": "feasible",
        "beats_static_rate": "beats static",
        "steps": "env steps",
        "train_wall_s": "wall s",
    }
    lines = []
    if title:
        lines += [f"# {title}", ""]
    lines.append("| " + " | ".join(heads[c] for c in SUMMARY_COLUMNS) + " |")
    lines.append("|" + "---|" * len(SUMMARY_COLUMNS))
    for _, r in summary.iterrows():
        cells = [str(r["method"])] + [_fmt(r[c], c) for c in SUMMARY_COLUMNS[1:]]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "profit / ES: mean expected CS profit per ES on the held-out market states (feasible "
        "contracts); opt. ratio: profit / exact dynamic optimum per state, an infeasible contract "
        "counting 0; 95 % CI over seeds (t); complete_info is an upper bound (not incentive "
        "compatible), so its feasible rate is n/a.",
    ]
    return "\n".join(lines) + "\n"


def write_summary(out: str | os.PathLike, experiment: str) -> tuple[pd.DataFrame, Path]:
    root = Path(out) / experiment
    runs = collect(out, experiment)
    summary = summarize(runs)
    write_text_atomic(root / "summary.csv", summary.to_csv(index=False))
    write_text_atomic(root / "summary.md", summary_markdown(summary, f"Summary: {experiment}"))
    return summary, root / "summary.md"


def curves(runs: pd.DataFrame, x: str, y: str, points: int = 60) -> dict[str, pd.DataFrame]:
    """Per method: mean and 95 % band of ``y`` over seeds on a common grid of ``x``.

    Each seed's curve is linearly interpolated on the grid (no extrapolation past its last
    evaluation).
    """
    out: dict[str, pd.DataFrame] = {}
    if runs.empty:
        return out
    main = runs[runs["group"] == runs["method"]]
    for m in [m for m in ALL_METHODS if m in set(main["method"])]:
        series = []
        for d in main[main["method"] == m]["run_dir"]:
            p = Path(d) / "metrics.csv"
            if not p.exists():
                continue
            df = pd.read_csv(p)
            if x not in df or y not in df or len(df) < 2:
                continue
            df = df[[x, y]].dropna()
            if len(df) >= 2:
                series.append(df)
        if not series:
            continue
        hi = max(s[x].max() for s in series)
        lo = min(s[x].min() for s in series)
        grid = np.linspace(lo, hi, points)
        vals = np.full((len(series), points), np.nan)
        for j, s in enumerate(series):
            xs, ys = s[x].to_numpy(float), s[y].to_numpy(float)
            inside = (grid >= xs.min()) & (grid <= xs.max())
            vals[j, inside] = np.interp(grid[inside], xs, ys)
        mean = np.nanmean(vals, axis=0)
        n = np.sum(np.isfinite(vals), axis=0)
        sd = np.nanstd(vals, axis=0, ddof=1) if len(series) > 1 else np.zeros(points)
        tq = np.array([stats.t.ppf(0.975, k - 1) if k > 1 else 0.0 for k in n])
        half = np.where(n > 1, tq * sd / np.sqrt(np.maximum(n, 1)), 0.0)
        out[m] = pd.DataFrame({x: grid, "mean": mean, "lo": mean - half, "hi": mean + half})
    return out

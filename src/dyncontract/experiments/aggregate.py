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

#: Columns of summary.csv (means over seeds of each run's final evaluation).
SUMMARY_COLUMNS = [
    "method",
    "seeds",
    "ratio_single",
    "ratio_single_ci95",
    "ratio_single_p05",
    "ratio_single_median",
    "ratio_best_of_n",
    "feasible_single",
    "beats_static_best",
    "profit_single",
    "samples",
    "updates",
    "wall_s",
    "split",
]
#: summary column -> the eval.json key it averages
_SOURCE = {
    "ratio_single": "ratio_single",
    "ratio_single_p05": "ratio_single_p05",
    "ratio_single_median": "ratio_single_median",
    "ratio_best_of_n": "ratio_best_of_n",
    "feasible_single": "feasible_single",
    "beats_static_best": "beats_static_best_single",
    "profit_single": "profit_single",
    "samples": "samples",
    "updates": "updates",
    "wall_s": "train_wall_s",
}


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


def summarize(runs: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Mean over seeds per method of the main comparison (ablation/F3 runs excluded)."""
    if runs.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    main = runs[runs["group"] == runs["method"]]
    out = []
    for m in [m for m in ALL_METHODS if m in set(main["method"])]:
        g = main[main["method"] == m]
        row: dict[str, Any] = {"method": m, "seeds": int(len(g)), "split": split}
        for col, key in _SOURCE.items():
            v = pd.to_numeric(g.get(key, pd.Series(dtype=float)), errors="coerce")
            row[col] = float(v.mean()) if v.notna().any() else math.nan
        row["ratio_single_ci95"] = ci95(
            pd.to_numeric(g.get("ratio_single", pd.Series(dtype=float)), errors="coerce").to_numpy()
        )
        out.append(row)
    return pd.DataFrame(out, columns=SUMMARY_COLUMNS)


def _fmt(v: Any, col: str) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, float) and math.isnan(v):
        return "n/a"
    if col in ("seeds", "samples", "updates"):
        return f"{int(v):,}"
    if col == "wall_s":
        return f"{v:.1f}"
    if col == "ratio_single_ci95":
        return f"±{v:.4f}"
    return f"{v:.4f}"


#: Markdown headings of the summary columns.
HEADINGS = {
    "method": "method",
    "seeds": "seeds",
    "ratio_single": "ratio (single)",
    "ratio_single_ci95": "95 % CI",
    "ratio_single_p05": "p05",
    "ratio_single_median": "median",
    "ratio_best_of_n": "ratio (best of 16)",
    "feasible_single": "feasible",
    "beats_static_best": "beats static_best",
    "profit_single": "profit / ES",
    "samples": "samples",
    "updates": "updates",
    "wall_s": "wall s",
    "split": "states",
}

SUMMARY_NOTE = (
    "ratio: profit / exact dynamic optimum per held-out state, averaged over all states; an "
    "infeasible contract earns ratio 0 and profit 0. single: one action per state (the "
    "method's own deterministic output) — the primary number; best of 16: the single action "
    "and 15 of the method's own samples, the most profitable feasible one deployed. 95 % CI "
    "over seeds (t). beats static_best: share of states where the contract is feasible and "
    "earns more than the best static contract. complete_info is an upper bound (not incentive "
    "compatible), so its feasibility is n/a. Menu-mode rows (*_menu, direct_smooth, cma): "
    "the ESs choose from the proposed menu, every menu's profit counts, and feasible is the "
    "share of states where every type takes its own item and nobody declines (truthful)."
)


def summary_markdown(summary: pd.DataFrame, title: str = "") -> str:
    lines = []
    if title:
        lines += [f"# {title}", ""]
    lines.append("| " + " | ".join(HEADINGS[c] for c in SUMMARY_COLUMNS) + " |")
    lines.append("|" + "---|" * len(SUMMARY_COLUMNS))
    for _, r in summary.iterrows():
        cells = [str(r["method"])] + [_fmt(r[c], c) for c in SUMMARY_COLUMNS[1:]]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", SUMMARY_NOTE]
    return "\n".join(lines) + "\n"


def write_summary(out: str | os.PathLike, experiment: str) -> tuple[pd.DataFrame, Path]:
    """summary.csv / summary.md and time_to_threshold.csv of ``OUT/<experiment>``."""
    root = Path(out) / experiment
    runs = collect(out, experiment)
    summary = summarize(runs)
    write_text_atomic(root / "summary.csv", summary.to_csv(index=False))
    write_text_atomic(root / "summary.md", summary_markdown(summary, f"Summary: {experiment}"))
    write_text_atomic(root / "time_to_threshold.csv", time_to_threshold(runs).to_csv(index=False))
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


THRESHOLDS = (0.99, 0.995)


def time_to_threshold(
    runs: pd.DataFrame, thresholds: tuple[float, ...] = THRESHOLDS
) -> pd.DataFrame:
    """Per learning method and threshold: how many seeds' ``ratio_single`` curves reached it,
    and the median wall seconds and samples at the first evaluation that did."""
    cols = ["method", "threshold", "seeds", "seeds_reached", "wall_s_median", "samples_median"]
    out = []
    if runs.empty:
        return pd.DataFrame(columns=cols)
    main = runs[runs["group"] == runs["method"]]
    for m in [m for m in ALL_METHODS if m in set(main["method"])]:
        frames = []
        for d in main[main["method"] == m]["run_dir"]:
            p = Path(d) / "metrics.csv"
            if p.exists():
                frames.append(pd.read_csv(p))
        if not frames or any("ratio_single" not in f or len(f) < 2 for f in frames):
            continue  # methods that do not learn have one row
        for thr in thresholds:
            hits = [f[f["ratio_single"] >= thr].head(1) for f in frames]
            hits = [h for h in hits if not h.empty]
            wall = [float(h["wall_s"].iloc[0]) for h in hits]
            samples = [float(h["step"].iloc[0]) for h in hits]
            out.append(
                {
                    "method": m,
                    "threshold": thr,
                    "seeds": len(frames),
                    "seeds_reached": len(hits),
                    "wall_s_median": float(np.median(wall)) if wall else math.nan,
                    "samples_median": float(np.median(samples)) if samples else math.nan,
                }
            )
    return pd.DataFrame(out, columns=cols)

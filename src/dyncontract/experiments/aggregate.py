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
    curves_df = sample_curves(runs)
    if not curves_df.empty:  # the sample-efficiency curves on test states (model-free runs)
        write_text_atomic(root / "curves.csv", curves_df.to_csv(index=False))
    est = estimate_table(runs)
    if not est.empty:
        write_text_atomic(root / "estimate_solve.csv", est.to_csv(index=False))
    return summary, root / "summary.md"


def curves(
    runs: pd.DataFrame, x: str, y: str, points: int = 60, log_x: bool = False
) -> dict[str, pd.DataFrame]:
    """Per method: mean and 95 % band of ``y`` over seeds on a common grid of ``x``
    (log-spaced with ``log_x``, for a log axis).

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
        if log_x and hi > 0:
            grid = np.geomspace(max(lo, hi * 1e-6, 1e-9), hi, points)
        else:
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


#: the sample-efficiency curve of the model-free benchmark: each run's metrics rows scored
#: on the test states (``MethodContext.test_curve``)
CURVE_Y = "test_ratio_single"
#: estimate_solve's diagnostics per curve point (means over seeds; the largest θ error too)
ESTIMATE_COLUMNS = ("test_ratio_plugin", "margin", "theta_rel_err_max", "theta_rel_err_mean")


def _metrics_frames(runs: pd.DataFrame) -> list[tuple[str, int, pd.DataFrame]]:
    """(method, seed, metrics) of every main-comparison run that scored the test states
    along the way."""
    out: list[tuple[str, int, pd.DataFrame]] = []
    if runs.empty:
        return out
    main = runs[runs["group"] == runs["method"]]
    for _, r in main.iterrows():
        p = Path(r["run_dir"]) / "metrics.csv"
        if p.exists():
            df = pd.read_csv(p)
            if CURVE_Y in df and df[CURVE_Y].notna().any():
                out.append((str(r["method"]), int(r["seed"]), df))
    return out


def sample_curves(runs: pd.DataFrame) -> pd.DataFrame:
    """Ratio on the test states vs samples: per method and sample count, the mean, 95 % t
    half-width and number of seeds, and the mean wall seconds, over the seeds that reported
    that sample count (a method's seeds report the same counts: budgets are in samples)."""
    cols = ["method", "samples", "seeds", "ratio", "ratio_ci95", "wall_s"]
    rows = []
    for method, seed, df in _metrics_frames(runs):
        d = df[["samples", "wall_s", CURVE_Y]].dropna()
        rows += [
            {"method": method, "seed": seed, "samples": int(s), "wall_s": w, "ratio": y}
            for s, w, y in d.itertuples(index=False)
        ]
    if not rows:
        return pd.DataFrame(columns=cols)
    long = pd.DataFrame(rows)
    order = {m: i for i, m in enumerate(ALL_METHODS)}
    out = []
    for (m, s), g in long.groupby(["method", "samples"]):
        y = g["ratio"].to_numpy(float)
        out.append(
            {
                "method": m,
                "samples": int(s),
                "seeds": int(len(g)),
                "ratio": float(y.mean()),
                "ratio_ci95": ci95(y),
                "wall_s": float(g["wall_s"].mean()),
            }
        )
    df = pd.DataFrame(out, columns=cols)
    df["_o"] = df["method"].map(order)
    return df.sort_values(["_o", "samples"]).drop(columns="_o").reset_index(drop=True)


def estimate_table(runs: pd.DataFrame) -> pd.DataFrame:
    """estimate_solve at each curve budget: samples, the test ratio (mean, 95 % CI), the plain
    plug-in's ratio (margin 0), the margins chosen, and the relative error of θ̂ (mean over
    seeds of the largest and of the mean |θ̂_k − θ_k| / θ_k; ``theta_rel_err_max_worst``: the
    largest over seeds)."""
    frames = [(s, df) for m, s, df in _metrics_frames(runs) if m == "estimate_solve"]
    if not frames:
        return pd.DataFrame()
    long = pd.concat([df.assign(seed=s) for s, df in frames], ignore_index=True)
    out = []
    for s, g in long.groupby("samples"):
        y = g[CURVE_Y].to_numpy(float)
        row: dict[str, Any] = {
            "samples": int(s),
            "seeds": int(len(g)),
            "ratio": float(y.mean()),
            "ratio_ci95": ci95(y),
        }
        for c in ESTIMATE_COLUMNS:
            if c in g:
                row[c] = float(g[c].mean())
        if "margin" in g:
            row["margins"] = " ".join(f"{v:g}" for v in g.sort_values("seed")["margin"])
        if "theta_rel_err_max" in g:
            row["theta_rel_err_max_worst"] = float(g["theta_rel_err_max"].max())
        row["wall_s"] = float(g["wall_s"].mean())
        out.append(row)
    return pd.DataFrame(out).sort_values("samples").reset_index(drop=True)

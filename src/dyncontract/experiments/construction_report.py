"""Tables, the calibration and figures F6–F8 of the construct experiment.

From the run folders of :mod:`dyncontract.experiments.construction`:

* ``sweep.csv`` — one row per sweep construction: workload T, ES count N, data split, seed,
  success rate and mean episode length after period 1 (work T from scratch) and period 2;
* ``calibration.json`` — the fits of the model's per-ES valuation to the measured value
  (:func:`fit_valuation`), and ``calibrated-<level>.yaml``, a config with the fitted alpha and
  beta that ``solve``, ``train``, ``simulate`` and ``construct`` accept;
* ``compare.csv`` / ``compare_summary.csv`` — the contracts' constructions, per seed and
  aggregated (mean and 95 % t-interval over seeds);
* figures ``F6_quality_vs_workload``, ``F7_realised_vs_predicted``, ``F8_latency`` (PNG + PDF).

**The mapping from quality to value** (docs/calibration.md). The CS values a period's agent
of success rate q at V q. Without any ES work it would have the untrained agent, of success
rate q0 (the sweep's T = 0 point, same seed). The model's G(T) is the value of one ES's work
(G(0) = 0), so it is fitted to the value the work adds, shared equally by the N ESs that did
it: ``y(T) = V (q1(T) - q0) / N``, with q1 the success rate after one period of T Gcycles
per ES. The fit uses the scenario's N; the other N show how far the additive form carries.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import math
import platform
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dyncontract._io import atomic_write, write_json_atomic, write_text_atomic

FIGURES = ("F6_quality_vs_workload", "F7_realised_vs_predicted", "F8_latency")


# ----- collecting ------------------------------------------------------------------------------


def _reports(root: Path, part: str) -> list[dict[str, Any]]:
    out = []
    for p in sorted((root / part).glob("*/report.json")):
        out.append(json.loads(p.read_text()))
    return out


def sweep_rows(root: Path) -> list[dict[str, Any]]:
    rows = []
    for r in _reports(root, "sweep"):
        job = r.get("job", {})
        p1, p2 = r["periods"]
        rows.append(
            {
                "workload": float(job["workload"]),
                "n_es": int(job["n_es"]),
                "split": job["split"],
                "seed": int(r["seed"]),
                "q1": p1["success_rate"],
                "q2": p2["success_rate"],
                "length1": p1["mean_episode_length"],
                "length2": p2["mean_episode_length"],
                "steps_per_es": p1["steps_contracted"] / max(1, r["n_es"]),
                "missions": p1["eval_missions"],
                "wall_s": r["measured"]["wall_s"],
                "es_cpu_train_s": r["measured"]["es_cpu_train_s"],
                "gcycles_per_step": r["gcycles_per_step"],
            }
        )
    rows.sort(key=lambda x: (x["split"], x["n_es"], x["workload"], x["seed"]))
    return rows


def _csv(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def t_interval(x: Sequence[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95 % t-interval (0 for one value)."""
    from scipy import stats

    a = np.asarray(x, dtype=float)
    if a.size < 2:
        return float(a.mean()) if a.size else math.nan, 0.0
    half = stats.t.ppf(0.975, a.size - 1) * a.std(ddof=1) / math.sqrt(a.size)
    return float(a.mean()), float(half)


# ----- the calibration -------------------------------------------------------------------------


def _log_model(T: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    return alpha * np.log1p(beta * T)


def _exp_model(T: np.ndarray, a: float, b: float) -> np.ndarray:
    return a * (1.0 - np.exp(-b * T))


MODELS: dict[str, tuple[Callable[..., np.ndarray], tuple[str, str], str]] = {
    "log": (_log_model, ("alpha", "beta"), "alpha ln(1 + beta T)"),
    "saturating_exp": (_exp_model, ("a", "b"), "a (1 - exp(-b T))"),
}


#: a fit whose rate (beta or b) times the largest workload is below this saw no saturation:
#: over the sweep the curve is a straight line, and only the product of its two parameters is
#: identified
MIN_CURVATURE = 1e-3


def fit_curve(name: str, T: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Least squares fit of model ``name`` to (T, y): parameters with 95 % intervals (from
    the covariance of the estimate, t with n - 2 degrees of freedom), residuals, RMSE, R^2.
    ``identified`` is False when the data show no saturation (rate × max T below
    :data:`MIN_CURVATURE`, the rate pushed to its bound) or the covariance is not finite: the
    parameters are then not estimated separately, and their intervals are NaN. So are they
    when at most two workloads are above 0 (an exact fit, not a zero-width interval)."""
    from scipy import optimize, stats

    f, names, formula = MODELS[name]
    T = np.asarray(T, float)
    y = np.asarray(y, float)
    scale = max(float(np.max(np.abs(y))), 1e-9)
    tmax = max(float(T.max()), 1e-9)
    p0 = (scale / math.log1p(1.0), 1.0 / tmax) if name == "log" else (scale, 3.0 / tmax)
    popt, pcov = optimize.curve_fit(
        f, T, y, p0=p0, bounds=([0.0, 1e-9], [np.inf, np.inf]), maxfev=20000
    )
    resid = y - f(T, *popt)
    n = y.size
    dof = max(1, n - 2)
    tq = stats.t.ppf(0.975, dof)
    se = np.sqrt(np.clip(np.diag(pcov), 0.0, np.inf))
    ss_res = float(np.sum(resid**2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    identified = bool(popt[1] * tmax >= MIN_CURVATURE and np.all(np.isfinite(pcov)))
    if not identified or np.count_nonzero(T) <= 2:  # both curves pass through (0, 0): two
        se = np.full_like(se, np.nan)  # points at T > 0 are fitted exactly, with no interval
    return {
        "model": name,
        "formula": formula,
        "identified": identified,
        "params": {k: float(v) for k, v in zip(names, popt, strict=True)},
        "ci95": {
            k: [float(v - tq * s), float(v + tq * s)]
            for k, v, s in zip(names, popt, se, strict=True)
        },
        "rmse": math.sqrt(ss_res / n),
        "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else math.nan,
        "n_points": int(n),
        "residuals": [float(r) for r in resid],
    }


def value_points(
    rows: list[dict[str, Any]], V: float, n_es: int, split: str = "non-iid"
) -> tuple[np.ndarray, np.ndarray]:
    """(T, y) with y = V (q1(T) - q0) / N per seed, q0 the seed's T = 0 success rate."""
    q0 = {
        r["seed"]: r["q1"]
        for r in rows
        if r["n_es"] == n_es and r["split"] == split and r["workload"] == 0.0
    }
    T, y = [], []
    for r in rows:
        if r["n_es"] == n_es and r["split"] == split and r["seed"] in q0:
            T.append(r["workload"])
            y.append(V * (r["q1"] - q0[r["seed"]]) / n_es)
    return np.asarray(T), np.asarray(y)


def fit_valuation(rows: list[dict[str, Any]], V: float, n_es_values: Sequence[int]) -> dict:
    """Both models fitted for every N of the sweep (see the module docstring)."""
    fits: dict[str, Any] = {}
    for n in n_es_values:
        T, y = value_points(rows, V, n)
        if T.size >= 3 and np.ptp(T) > 0:
            fits[str(n)] = {
                "T": T.tolist(),
                "y": y.tolist(),
                **{m: fit_curve(m, T, y) for m in MODELS},
            }
    return fits


def _git_revision() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def calibrated_yaml(
    fit: dict[str, Any], V: float, levels: list[str], provenance: dict[str, Any]
) -> str:
    """A config (YAML) with the fitted alpha, beta and the V they were fitted with."""
    import yaml

    p = fit["log"]["params"]
    body = {
        "scenario": {"alpha": round(p["alpha"], 6), "beta": round(p["beta"], 6)},
        "construction": {"levels": list(levels), "value_per_quality": round(V, 6)},
    }
    head = "\n".join(f"# {k}: {v}" for k, v in provenance.items())
    return (
        "# The model's valuation G(T) = alpha ln(1 + beta T) fitted to measured construction\n"
        "# (docs/calibration.md): per-ES value added, V (q1(T) - q0) / N, least squares.\n"
        f"{head}\n" + yaml.safe_dump(body, sort_keys=False)
    )


# ----- the comparison ---------------------------------------------------------------------------


def compare_rows(root: Path, q0: dict[int, float]) -> list[dict[str, Any]]:
    rows = []
    for r in _reports(root, "compare"):
        p1, p2 = r["periods"]
        t = r["totals"]
        V, d = r["value_per_quality"], r["discount"]
        z = q0.get(int(r["seed"]), math.nan)
        # per period, undiscounted: the value the period's agent adds over the untrained one
        added_p = [V * (p["success_rate"] - z) - p["payments"] for p in (p1, p2)]
        added = added_p[0] + d * added_p[1]
        dep = r.get("deployment") or {}
        rows.append(
            {
                "method": r["contract_source"],
                "seed": int(r["seed"]),
                "q1": p1["success_rate"],
                "q2": p2["success_rate"],
                "payments": t["payments"],
                "realised_profit": t["realised_profit"],
                "realised_value_added": added,
                "predicted_profit": t["predicted_profit"],
                "realised_value_added_p1": added_p[0],
                "realised_value_added_p2": added_p[1],
                "predicted_profit_p1": p1["predicted_profit"],
                "predicted_profit_p2": p2["predicted_profit"],
                "expected_profit_model": r["expected_profit_model"],
                "mean_es_utility": t["mean_es_utility"],
                "deviations": t["deviations"],
                "declines": t["declines"],
                "workload_done": p1["workload_done_gcycles"] + p2["workload_done_gcycles"],
                "edge_episode_ms": dep.get("edge_episode_ms_mean"),
                "cloud_episode_ms": dep.get("cloud_episode_ms_mean"),
                "step_ms_p50": dep.get("step_ms_p50"),
                "step_ms_p95": dep.get("step_ms_p95"),
                "wall_s": r["measured"]["wall_s"],
            }
        )
    rows.sort(key=lambda x: (x["method"], x["seed"]))
    return rows


SUMMARY_COLUMNS = (
    "q1", "q2", "payments", "realised_profit", "realised_value_added", "predicted_profit",
    "realised_value_added_p1", "predicted_profit_p1", "realised_value_added_p2",
    "predicted_profit_p2", "expected_profit_model", "mean_es_utility", "deviations", "declines",
)  # fmt: skip


def compare_summary(
    rows: list[dict[str, Any]], order: Sequence[str], baseline: str = "exact"
) -> list[dict[str, Any]]:
    """Mean and 95 % t-interval over seeds per contract; and, paired by seed (the same market
    draw and data for every contract), each contract's realised and predicted profit minus
    ``baseline``'s."""
    base = {r["seed"]: r for r in rows if r["method"] == baseline}
    out = []
    for m in order:
        rs = [r for r in rows if r["method"] == m]
        if not rs:
            continue
        row: dict[str, Any] = {"method": m, "seeds": len(rs)}
        for c in SUMMARY_COLUMNS:
            mean, half = t_interval([r[c] for r in rs])
            row[c] = mean
            row[f"{c}_ci95"] = half
        pred = row["predicted_profit"]
        row["gap_value_added_vs_predicted"] = (
            (row["realised_value_added"] - pred) / abs(pred) if pred else math.nan
        )
        for c in ("realised_value_added", "predicted_profit"):
            diff = [r[c] - base[r["seed"]][c] for r in rs if r["seed"] in base]
            mean, half = t_interval(diff) if diff else (math.nan, math.nan)
            row[f"{c}_minus_{baseline}"] = mean
            row[f"{c}_minus_{baseline}_ci95"] = half
        out.append(row)
    return out


# ----- figures -------------------------------------------------------------------------------


def _save(fig: Any, out: Path, name: str) -> list[Path]:
    from dyncontract.experiments.figures import NO_DATE

    paths = []
    for ext in ("png", "pdf"):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=130, metadata=NO_DATE[ext])
        p = out / f"{name}.{ext}"
        atomic_write(p, lambda fh, b=buf.getvalue(): fh.write(b), mode="wb")
        paths.append(p)
    return paths


def figure_f6(rows: list[dict[str, Any]], cal: dict[str, Any], V: float, out: Path) -> list[Path]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:purple"]
    ns = sorted({r["n_es"] for r in rows if r["split"] == "non-iid"})
    for j, n in enumerate(ns):
        col = colours[j % len(colours)]
        rs = [r for r in rows if r["n_es"] == n and r["split"] == "non-iid"]
        Ts = sorted({r["workload"] for r in rs})
        m = [t_interval([r["q1"] for r in rs if r["workload"] == T]) for T in Ts]
        m2 = [t_interval([r["q2"] for r in rs if r["workload"] == T]) for T in Ts]
        ax1.errorbar(Ts, [a for a, _ in m], [h for _, h in m], color=col, marker="o",
                     capsize=3, label=f"N = {n}, after period 1 (T)")  # fmt: skip
        ax1.errorbar(Ts, [a for a, _ in m2], [h for _, h in m2], color=col, marker="s",
                     ls=":", capsize=3, label=f"N = {n}, after period 2 (2T)")  # fmt: skip
        if str(n) in cal:
            c = cal[str(n)]
            T = np.asarray(c["T"])
            ax2.scatter(T, c["y"], color=col, s=14, label=f"N = {n}: measured")
            grid = np.linspace(0, T.max(), 200)
            for name, ls in (("log", "-"), ("saturating_exp", "--")):
                f, _, formula = MODELS[name]
                ax2.plot(grid, f(grid, *c[name]["params"].values()), color=col, ls=ls,
                         label=f"N = {n}: {formula} (R² {c[name]['r2']:.2f})")  # fmt: skip
    iid = [r for r in rows if r["split"] == "iid"]
    for j, T in enumerate(sorted({r["workload"] for r in iid})):
        mean, half = t_interval([r["q1"] for r in iid if r["workload"] == T])
        label = f"N = {iid[0]['n_es']}, IID data, period 1" if j == 0 else None
        ax1.errorbar([T], [mean], [half], color="black", marker="D", capsize=3, ls="none",
                     label=label)  # fmt: skip
    ax1.set_xlabel("workload per ES and period T (Gcycles)")
    ax1.set_ylabel("success rate on held-out missions")
    ax1.set_ylim(0, 1.02)
    ax1.set_title("Measured quality vs workload (mean, 95 % CI over seeds)")
    ax1.legend(fontsize=7)
    ax2.set_xlabel("workload per ES T (Gcycles)")
    ax2.set_ylabel("value added per ES, V (q1 - q0) / N")
    ax2.set_title(f"The model's G(T) fitted (V = {V:.0f})")
    ax2.legend(fontsize=7)
    return _save(fig, out, FIGURES[0])


def figure_f7(rows: list[dict[str, Any]], out: Path) -> list[Path]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    methods = list(dict.fromkeys(r["method"] for r in rows))
    markers = "osD^vP*X"
    lo, hi = math.inf, -math.inf
    for j, m in enumerate(methods):
        rs = [r for r in rows if r["method"] == m]
        x = [r["predicted_profit"] for r in rs]
        y = [r["realised_value_added"] for r in rs]
        ax.scatter(x, y, marker=markers[j % len(markers)], s=40, label=m)
        lo, hi = min(lo, *x, *y), max(hi, *x, *y)
    if math.isfinite(lo):
        ax.plot([lo, hi], [lo, hi], color="gray", lw=0.8, ls="--", label="realised = predicted")
    ax.set_xlabel("predicted CS profit (calibrated model, the run's picks)")
    ax.set_ylabel("realised CS profit, V (q - q0) - payments")
    ax.set_title("Contracts judged by the agents they buy (one point per seed)")
    ax.legend(fontsize=8)
    return _save(fig, out, FIGURES[1])


def figure_f8(rows: list[dict[str, Any]], out: Path) -> list[Path]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    methods = [m for m in dict.fromkeys(r["method"] for r in rows)]
    x = np.arange(len(methods))
    for k, (key, col, lab) in enumerate(
        (("edge_episode_ms", "tab:green", "edge"), ("cloud_episode_ms", "tab:red", "cloud"))
    ):
        stats = [
            t_interval([r[key] for r in rows if r["method"] == m and r[key] is not None])
            for m in methods
        ]
        ax.bar(x + (k - 0.5) * 0.38, [s[0] for s in stats], 0.38, yerr=[s[1] for s in stats],
               color=col, capsize=3, label=lab)  # fmt: skip
    ax.set_xticks(x, methods, rotation=20)
    ax.set_ylabel("per-episode latency of the deployed agent (ms)")
    ax.set_title("Edge vs cloud serving (measured inference + round trip per step)")
    ax.legend()
    return _save(fig, out, FIGURES[2])


# ----- the whole report ------------------------------------------------------------------------


def build(exp: Any, root: Path, command: str | None = None) -> dict[str, Any]:
    """Write the tables, the calibration and the figures of a construct experiment."""
    from dyncontract.config import build_config, nest

    root = Path(root)
    fig_dir = root / "figures"
    lines: list[str] = []
    written: list[Path] = []
    rows = sweep_rows(root)
    base = build_config({}, nest(exp.config))
    sc = base.scenario_obj()
    from dyncontract.framework.construction.construct import value_per_quality

    V = value_per_quality(base.construction, sc, sc.n_es)
    cal: dict[str, Any] = {}
    if rows:
        write_text_atomic(root / "sweep.csv", _csv(rows))
        ns = sorted({r["n_es"] for r in rows})
        cal = fit_valuation(rows, V, ns)
        prov = json.loads((root / "provenance.json").read_text())
        levels = list(base.construction.levels)
        info = {
            "V": V,
            "mapping": "y(T) = V (q1(T) - q0) / N per seed; q1 after one period of T per ES",
            "fits": cal,
            "gcycles_per_step": prov["gcycles_per_step"],
        }
        write_json_atomic(root / "calibration.json", info)
        key = str(sc.n_es) if str(sc.n_es) in cal else (str(ns[-1]) if cal else None)
        if key is not None and not cal[key]["log"].get("identified", True):
            lg = cal[key]["log"]
            lines.append(
                f"calibration (N = {key}): not identified — the log fit found no saturation "
                f"over workloads up to {max(cal[key]['T']):g} (beta -> 0; only alpha * beta = "
                f"{lg['params']['alpha'] * lg['params']['beta']:.3g} is estimated): no "
                "calibrated config written; sweep larger workloads"
            )
            key = None
        if key is not None:
            level = levels[0].removeprefix("BabyAI-").removesuffix("-v0")
            provenance = {
                "command": (command or "dyncontract reproduce --spec <the experiment>")
                + " (its sweep)",
                "fitted on": f"N = {key} ESs, {len(cal[key]['T'])} points",
                "git revision": _git_revision(),
                "machine": f"{platform.node()} ({platform.machine()}), "
                f"{prov['gcycles_per_step']:.4f} Gcycles per step",
                "date": datetime.date.today().isoformat(),
            }
            yml = calibrated_yaml(cal[key], V, levels, provenance)
            p = root / f"calibrated-{level}.yaml"
            write_text_atomic(p, yml)
            written.append(p)
            lg = cal[key]["log"]

            def ci(k: str, lg: dict[str, Any] = lg) -> str:
                lo, hi = lg["ci95"][k]
                return "(no interval)" if math.isnan(lo) else f"[{lo:.3f}, {hi:.3f}]"

            lines.append(
                f"calibration (N = {key}): alpha = {lg['params']['alpha']:.3f} {ci('alpha')}, "
                f"beta = {lg['params']['beta']:.3f} {ci('beta')}, "
                f"R^2 {lg['r2']:.3f}; saturating exp R^2 {cal[key]['saturating_exp']['r2']:.3f}"
            )
        written += figure_f6(rows, cal, V, fig_dir)
    # the untrained agent of the same seed: the quality the CS holds without any work (its
    # weights depend on the seed only, not on N: the T = 0 runs of every N agree bit for bit)
    q0 = {r["seed"]: r["q1"] for r in rows if r["workload"] == 0.0 and r["split"] == "non-iid"}
    comp = compare_rows(root, q0)
    if comp:
        order = list(exp.compare.methods) if exp.compare is not None else []
        summ = compare_summary(comp, order or sorted({r["method"] for r in comp}))
        write_text_atomic(root / "compare.csv", _csv(comp))
        write_text_atomic(root / "compare_summary.csv", _csv(summ))
        written += figure_f7(comp, fig_dir)
        written += figure_f8(comp, fig_dir)
        for s in summ:
            lines.append(
                f"{s['method']:>14}: q2 {s['q2']:.3f}, payments {s['payments']:.1f}, realised "
                f"{s['realised_value_added']:.1f} ± {s['realised_value_added_ci95']:.1f} "
                f"(value added), predicted {s['predicted_profit']:.1f}, "
                f"deviations {s['deviations']:.1f}, declines {s['declines']:.1f}"
            )
    lines.append(f"construct: tables and figures in {root}/")
    return {"lines": lines, "written": written}


# ----- committed data: export, the results page, figures redrawn ----------------------------

#: Files of a construct experiment copied to docs/data by ``reproduce --export``.
EXPORTED = (
    "sweep.csv", "calibration.json", "compare.csv", "compare_summary.csv", "provenance.json",
)  # fmt: skip


def export(root: Path, dest: Path) -> list[Path]:
    """Copy the construct experiment's tables (and its calibrated config) to ``dest``."""
    import shutil

    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for name in (*EXPORTED, *(p.name for p in root.glob("calibrated-*.yaml"))):
        if (root / name).exists():
            shutil.copyfile(root / name, dest / name)
            out.append(dest / name)
    learned = root / "learned"
    for p in sorted(learned.glob("*/train.json")) + sorted(learned.glob("*/contract.json")):
        target = dest / "learned" / p.parent.name / p.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, target)
        out.append(target)
    return out


def _pm(mean: float, half: float, fmt: str = "{:.3f}") -> str:
    return f"{fmt.format(mean)} ± {fmt.format(half)}"


def results_section(folder: Path) -> list[str]:
    """The construct experiment's section of docs/results.md (from committed data)."""
    import pandas as pd

    lines = ["## Real federated construction: quality vs workload, calibration, contracts", ""]
    prov = folder / "provenance.json"
    if prov.exists():
        p = json.loads(prov.read_text())
        if "command" in p:
            lines += [f"Command: `{p['command']}` (git {str(p.get('git_revision'))[:10]}).", ""]
    sweep = folder / "sweep.csv"
    if sweep.exists():
        df = pd.read_csv(sweep)
        lines += [
            "Success rate of the integrated agent on 500 held-out test missions, every ES doing "
            "T Gcycles per period (mean ± 95 % t-interval over seeds; period 2 = 2T in all):",
            "",
            "| data | N | T | seeds | after period 1 | after period 2 | episode length (p1) |",
            "|---|---|---|---|---|---|---|",
        ]
        for (split, n, T), g in df.groupby(["split", "n_es", "workload"]):
            lines.append(
                f"| {split} | {n} | {T:g} | {len(g)} | {_pm(*t_interval(g['q1']))} | "
                f"{_pm(*t_interval(g['q2']))} | {_pm(*t_interval(g['length1']), '{:.1f}')} |"
            )
        lines.append("")
    cal = folder / "calibration.json"
    if cal.exists():
        c = json.loads(cal.read_text())
        lines += [
            f"Calibration: {c['mapping']}; V = {c['V']:.2f}; "
            f"{c['gcycles_per_step']:.4f} Gcycles per training step.",
            "",
            "| N | model | parameters (95 % interval) | RMSE | R² |",
            "|---|---|---|---|---|",
        ]
        for n, fits in c["fits"].items():
            for m in MODELS:
                f = fits[m]
                ps = ", ".join(
                    f"{k} = {v:.3f} [{f['ci95'][k][0]:.3f}, {f['ci95'][k][1]:.3f}]"
                    for k, v in f["params"].items()
                )
                lines.append(f"| {n} | {f['formula']} | {ps} | {f['rmse']:.3f} | {f['r2']:.3f} |")
        lines.append("")
    summ = folder / "compare_summary.csv"
    if summ.exists():
        df = pd.read_csv(summ)
        lines += [
            "Contracts on the calibrated scenario, built for real (mean ± 95 % t-interval over "
            "seeds; profits discounted over both periods; realised = V (q − q0) − payments, "
            "the value the construction added; predicted = the calibrated model for the same "
            "picks; expected = the calibrated model's expected profit over type draws, the "
            "ranking the contracts were designed by):",
            "",
            "| contract | seeds | success p1 | success p2 | payments | realised profit | "
            "predicted | gap | expected | ES utility | deviations | declines |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for _, r in df.iterrows():
            lines.append(
                f"| {r['method']} | {r['seeds']} | {_pm(r['q1'], r['q1_ci95'])} | "
                f"{_pm(r['q2'], r['q2_ci95'])} | "
                f"{_pm(r['payments'], r['payments_ci95'], '{:.1f}')} | "
                f"{_pm(r['realised_value_added'], r['realised_value_added_ci95'], '{:.1f}')} | "
                f"{_pm(r['predicted_profit'], r['predicted_profit_ci95'], '{:.1f}')} | "
                f"{100 * r['gap_value_added_vs_predicted']:+.1f} % | "
                f"{r['expected_profit_model']:.2f} | "
                f"{_pm(r['mean_es_utility'], r['mean_es_utility_ci95'], '{:.2f}')} | "
                f"{r['deviations']:.1f} | {r['declines']:.1f} |"
            )
        lines += [
            "",
            "Per period (undiscounted; realised = V (q_t − q0) − payments_t) and, paired by "
            "seed (the same market draw and data for every contract), each contract minus the "
            "exact contract:",
            "",
            "| contract | realised p1 | predicted p1 | realised p2 | predicted p2 | "
            "realised − exact | predicted − exact |",
            "|---|---|---|---|---|---|---|",
        ]
        for _, r in df.iterrows():
            cells = [
                _pm(r[c], r[f"{c}_ci95"], "{:.1f}")
                for c in (
                    "realised_value_added_p1", "predicted_profit_p1",
                    "realised_value_added_p2", "predicted_profit_p2",
                    "realised_value_added_minus_exact", "predicted_profit_minus_exact",
                )
            ]  # fmt: skip
            lines.append(f"| {r['method']} | " + " | ".join(cells) + " |")
        lines.append("")
    bench = folder / "bench_overhead.json"
    if bench.exists():
        b = json.loads(bench.read_text())
        lines += [
            f"Flower's overhead (`{b['command']}`, load average before "
            f"{b['load_average_before'][0]:.2f}):",
            "",
            "| seed | wall (s) | ESs' CPU (s) | (wall − CPU) / wall | idle or overhead share | "
            "success p1, p2 |",
            "|---|---|---|---|---|---|",
        ]
        for r in b["runs"]:
            lines.append(
                f"| {r['seed']} | {r['wall_s']:.1f} | {r['es_cpu_s']:.1f} | "
                f"{r['overhead_fraction']:.3f} | {r['idle_or_overhead_fraction']:.3f} | "
                f"{r['success_rate'][0]:.3f}, {r['success_rate'][1]:.3f} |"
            )
        lines.append("")
    return lines


def figures_from_data(folder: Path, out_dir: Path) -> list[Path]:
    """F6–F8 redrawn from committed data (``dyncontract results``)."""
    import pandas as pd

    written: list[Path] = []
    sweep, cal = folder / "sweep.csv", folder / "calibration.json"
    if sweep.exists() and cal.exists():
        rows = pd.read_csv(sweep).to_dict("records")
        c = json.loads(cal.read_text())
        written += figure_f6(rows, c["fits"], c["V"], out_dir)
    comp = folder / "compare.csv"
    if comp.exists():
        rows = pd.read_csv(comp).to_dict("records")
        rows = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
                for r in rows]  # fmt: skip
        written += figure_f7(rows, out_dir)
        written += figure_f8(rows, out_dir)
    return written

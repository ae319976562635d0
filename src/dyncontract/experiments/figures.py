"""Figures F1–F5 (matplotlib, PNG + PDF) from the run directories of an experiment."""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from dyncontract.experiments.aggregate import curves  # noqa: E402
from dyncontract.model.contract import Contract, utilities  # noqa: E402
from dyncontract.model.economics import cost  # noqa: E402
from dyncontract.model.scenario import Scenario  # noqa: E402

COLORS = {
    "edmsac": "tab:red",
    "dmsac": "tab:orange",
    "gsac": "tab:pink",
    "sac": "tab:blue",
    "td3": "tab:green",
    "ppo": "tab:purple",
    "direct": "tab:olive",
    "supervised": "tab:cyan",
    "random": "tab:gray",
    "greedy": "tab:brown",
    "direct_smooth": "tab:olive",
    "cma": "tab:green",
    "cma_free": "tab:green",
    "static_free": "tab:brown",
    "estimate_solve": "black",
}
#: F1's panels: the learning methods of each mode (the curves are on validation states)
MODES = {
    "structured mode": ("edmsac", "dmsac", "gsac", "sac", "td3", "ppo", "direct", "supervised"),
    "menu mode (rent payments)": (
        "edmsac_menu", "dmsac_menu", "gsac_menu", "sac_menu", "direct_smooth",
    ),
    "model-free menu mode": ("edmsac_free", "dmsac_free", "gsac_free", "sac_free", "static_free"),
}  # fmt: skip
#: methods with learning curves on validation states (per_state, cma, cma_free and
#: estimate_solve answer the test states themselves: not plotted with them)
LEARNING = tuple(m for ms in MODES.values() for m in ms)
#: a seed band is drawn only where it is narrower than this (ratio units): wide bands hide
#: the other curves, and the means say enough there
READABLE_BAND = 0.02


def color(method: str) -> str:
    """A method's colour in every figure (mode suffixes share the learner's colour)."""
    base = method.removesuffix("_menu").removesuffix("_free")
    return COLORS.get(method, COLORS.get(base, "gray"))


#: savefig metadata per format: PDFs carry no creation date, so redrawing changes no bytes
NO_DATE: dict[str, dict[str, None] | None] = {"png": None, "pdf": {"CreationDate": None}}


def save(fig: plt.Figure, path_stem: Path) -> list[Path]:
    """Write ``stem.png`` and ``stem.pdf`` atomically (no creation date in the PDF: the same
    figure gives the same bytes)."""
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    outs = []
    for ext in ("png", "pdf"):
        final = path_stem.with_suffix(f".{ext}")
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp")
        os.close(fd)
        try:
            fig.savefig(tmp, format=ext, dpi=150, bbox_inches="tight", metadata=NO_DATE[ext])
            os.replace(tmp, final)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        outs.append(final)
    plt.close(fig)
    return outs


def _ref(
    reference: dict[str, float], key: str, label: str = "best static contract", ls: str = "--"
) -> list[tuple[str, float, str]]:
    """A reference line (label, level, line style) when ``reference`` has ``key``."""
    return [(label, reference[key], ls)] if key in reference else []


def _ratio_floor(values: list[np.ndarray]) -> float:
    """A lower y limit that shows where the curves end up, not their first evaluations: the
    lowest mean over each curve's second half, less a margin, in [0, 0.98]."""
    tails = [v[len(v) // 2 :] for v in values if np.isfinite(v).any()]
    if not tails:
        return 0.9
    lo = min(float(np.nanmin(t)) for t in tails if np.isfinite(t).any())
    return float(np.clip(lo - 0.1 * (1.0 - lo) - 0.002, 0.0, 0.98))


def _curve(ax: plt.Axes, c: pd.DataFrame, x: str, m: str) -> None:
    """A mean curve with its seed band where the band is readable."""
    col = color(m)
    ax.plot(c[x], c["mean"], color=col, label=m, lw=1.6)
    narrow = (c["hi"] - c["lo"]) <= 2 * READABLE_BAND
    lo = c["lo"].where(narrow)
    hi = c["hi"].where(narrow)
    ax.fill_between(c[x], lo, hi, color=col, alpha=0.15, lw=0)


def f1_learning_curves(runs: pd.DataFrame, reference: dict[str, float], stem: Path) -> list[Path]:
    """Who learns what, how fast: optimality ratio on the validation states vs samples (top)
    and vs wall time (bottom), both on a log axis, one column per mode; mean over seeds, the
    95 % band only where it is readable, the exact optimum and the best static contract."""
    present = {m for m in runs.get("method", pd.Series(dtype=str))} if not runs.empty else set()
    modes = [(k, ms) for k, ms in MODES.items() if present & set(ms)] or list(MODES.items())[:1]
    fig, axes = plt.subplots(
        2, len(modes), figsize=(5.2 * len(modes), 7.5), squeeze=False, sharey="col"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for j, (title, methods) in enumerate(modes):
            sub = runs[runs["method"].isin(methods)] if not runs.empty else runs
            means: list[np.ndarray] = []
            for i, (x, xl) in enumerate((("samples", "samples"), ("wall_s", "wall time (s)"))):
                ax = axes[i, j]
                cs = curves(sub, "step" if x == "samples" else x, "ratio_single", log_x=True)
                for m in [m for m in methods if m in cs]:
                    c = cs[m].rename(columns={"step": "samples"})
                    _curve(ax, c, x, m)
                    means.append(c["mean"].to_numpy())
                ax.axhline(1.0, color="black", lw=1, label="exact dynamic optimum")
                for label, level, ls in _ref(reference, "static_ratio"):
                    ax.axhline(level, color="black", lw=1, ls=ls, label=label)
                ax.set_xscale("log")
                ax.set_xlabel(xl + " (log)")
                ax.set_ylabel("optimality ratio (single)")
                ax.grid(alpha=0.3, which="both")
                if i == 0:
                    ax.set_title(title)
            axes[0, j].set_ylim(_ratio_floor(means), 1.005)
            axes[1, j].legend(
                *axes[0, j].get_legend_handles_labels(), fontsize=8, ncol=2, frameon=False,
                loc="upper center", bbox_to_anchor=(0.5, -0.22),
            )  # fmt: skip
    fig.suptitle(
        "F1: who learns what, how fast — ratio on the validation states, mean over seeds, "
        "95 % band where narrower than "
        f"±{READABLE_BAND}\n(y axis cut below the curves' second halves; samples and wall "
        "time on log axes)"
    )
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    return save(fig, stem)


MODEL_FREE_METHODS = (
    "edmsac_free", "dmsac_free", "gsac_free", "sac_free", "cma_free", "static_free",
    "estimate_solve",
)  # fmt: skip


def menu_free_curves(
    curves_df: pd.DataFrame, references: dict[str, float], stem: Path
) -> list[Path]:
    """The model-free benchmark: ratio on the test states vs samples (log axis) of every
    model-free method (mean over seeds), with the references that know the model as
    horizontal lines; left the whole range, right the last budgets, cut just below the
    lowest final mean. Methods evaluated at a few budgets (markers) carry their 95 % interval
    over the seeds as error bars, whatever its width; dense curves a band where readable."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.2))
    styles = {"cma_free": "--", "static_free": "-.", "estimate_solve": "-"}
    present = [m for m in MODEL_FREE_METHODS if m in set(curves_df.get("method", []))]
    finals = [
        float(curves_df[curves_df["method"] == m].sort_values("samples")["ratio"].iloc[-1])
        for m in present
    ]
    zoom_lo = float(np.clip(np.floor(100 * (min(finals, default=0.95) - 0.01)) / 100, 0.5, 0.98))
    for ax, zoom in ((axes[0], False), (axes[1], True)):
        for m in present:
            d = curves_df[curves_df["method"] == m].sort_values("samples")
            col = color(m)
            if len(d) <= 12:  # a few budgets: markers and the seed interval as error bars
                ax.errorbar(d["samples"], d["ratio"], yerr=d["ratio_ci95"].fillna(0.0),
                            color=col, ls=styles.get(m, "-"), marker="o", ms=4, lw=1.6,
                            capsize=3, label=m)  # fmt: skip
                continue
            ax.plot(d["samples"], d["ratio"], color=col, ls=styles.get(m, "-"), lw=1.6, label=m)
            half = d["ratio_ci95"].where(d["ratio_ci95"] <= READABLE_BAND)
            ax.fill_between(d["samples"], d["ratio"] - half, d["ratio"] + half, color=col,
                            alpha=0.15, lw=0)  # fmt: skip
        for key, label, ls in (
            ("exact", "exact optimum", "-"),
            ("direct_smooth", "direct_smooth (knows the model)", ":"),
            ("static_best", "static_best (knows the model)", "--"),
        ):
            if key in references:
                ax.axhline(references[key], color="gray", lw=1.2, ls=ls, label=label)
        ax.set_xscale("log")
        ax.set_xlabel("samples: menus posted, each to a population of sampled ESs (log)")
        ax.set_ylabel("optimality ratio (single), test states")
        ax.grid(alpha=0.3, which="both")
        if zoom:
            ax.set_xlim(5e4, 2e6)
            ax.set_ylim(zoom_lo, 1.002)
            ax.set_title(f"zoom: the last budgets, ratio ≥ {zoom_lo:.2f}")
        else:
            ymin = float(np.nanmin(curves_df["ratio"])) if not curves_df.empty else 0.0
            ax.set_ylim(max(-0.1, ymin - 0.05), 1.02)
            ax.set_title("all sample budgets")
    handles = dict(zip(*reversed(axes[0].get_legend_handles_labels()), strict=True))
    order = [*present, *(k for k in handles if k not in present)]  # methods first, as listed
    fig.legend(
        [handles[k] for k in order], order, fontsize=9, ncol=5, frameon=False,
        loc="lower center",
    )  # fmt: skip
    seeds = int(curves_df["seeds"].max()) if not curves_df.empty else 0
    fig.suptitle(
        "Model-free menu mode: the CS knows neither θ nor the costs and sees sampled outcomes "
        f"(mean over {seeds} seeds; error bars: 95 % interval over the seeds)"
    )
    fig.tight_layout(rect=(0, 0.12, 1, 0.94))
    return save(fig, stem)


def f2_optimal_contract(sc: Scenario, c: Contract, stem: Path) -> list[Path]:
    """Workloads and rewards per type (Lemma 1) and each type's utility for each item."""
    K = sc.K
    types = np.arange(1, K + 1)
    fig, axes = plt.subplots(2, 3, figsize=(14, 8))
    ax = axes[0, 0]
    ax.plot(types, c.T1, "o-", label="workload T¹ (Gcycles)")
    ax.set_xlabel("reported type k (θ_k)")
    ax.set_ylabel("workload T¹ (Gcycles)")
    ax2 = ax.twinx()
    ax2.plot(types, c.R1, "s--", color="tab:red", label="reward R¹")
    ax2.set_ylabel("reward R¹", color="tab:red")
    ax.set_title("period 1")
    ax.set_xticks(types, [f"{t:g}" for t in sc.theta])
    cmap = plt.get_cmap("viridis")
    for k in range(K):
        col = cmap(k / max(K - 1, 1))
        axes[0, 1].plot(types, c.T2[k], "o-", color=col, label=f"history θ¹={sc.theta[k]:g}")
        axes[0, 2].plot(types, c.R2[k], "s-", color=col, label=f"history θ¹={sc.theta[k]:g}")
    for a, lab in ((axes[0, 1], "workload T² (Gcycles)"), (axes[0, 2], "reward R²")):
        a.set_xlabel("period-2 report i (θ_i)")
        a.set_ylabel(lab)
        a.set_xticks(types, [f"{t:g}" for t in sc.theta])
        a.set_title("period 2, per period-1 history")
        a.grid(alpha=0.3)
    axes[0, 2].legend(fontsize=8)
    # utilities: type (row) taking item (column); the truthful item must be a row maximum
    u1 = c.R1[None, :] - cost(sc.theta[:, None], c.T1[None, :], sc)
    mid = K // 2
    u2 = c.R2[mid][None, :] - cost(sc.theta[:, None], c.T2[mid][None, :], sc)
    V = utilities(c, sc).V
    for a, U, title in (
        (axes[1, 0], u1, "period-1 utility R¹_l − C(θ_k, T¹_l)"),
        (axes[1, 1], u2, f"period-2 utility after history θ¹={sc.theta[mid]:g}"),
    ):
        im = a.imshow(U, cmap="RdBu_r", vmin=-np.abs(U).max(), vmax=np.abs(U).max())
        a.set_xlabel("item taken (reported type)")
        a.set_ylabel("true type")
        a.set_xticks(range(K), [f"{t:g}" for t in sc.theta])
        a.set_yticks(range(K), [f"{t:g}" for t in sc.theta])
        for k in range(K):
            a.add_patch(plt.Rectangle((k - 0.5, k - 0.5), 1, 1, fill=False, ec="k", lw=2))
        a.set_title(title, fontsize=10)
        fig.colorbar(im, ax=a, fraction=0.046)
    axes[1, 2].bar(types, V, color="tab:green")
    axes[1, 2].axhline(0, color="k", lw=0.8)
    axes[1, 2].set_xticks(types, [f"{t:g}" for t in sc.theta])
    axes[1, 2].set_xlabel("true period-1 type θ_k")
    axes[1, 2].set_ylabel("expected two-period utility V_k")
    axes[1, 2].set_title("information rent (IR: V ≥ 0)")
    fig.suptitle("F2: the optimal dynamic contract (boxes: truthful items; IC ⇔ box is a row max)")
    fig.tight_layout()
    return save(fig, stem)


def f3_sweeps(data: pd.DataFrame, stem: Path) -> list[Path]:
    """CS profit vs K, persistence, energy price, discount."""
    params = [
        ("K", "number of types K"),
        ("persistence", "persistence ρ"),
        ("energy_price", "energy price ξ"),
        ("discount", "discount δ"),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    style = {
        "exact_dynamic": dict(color="black", marker="o", ls="-"),
        "static": dict(color="tab:gray", marker="s", ls="--"),
        "complete_info": dict(color="tab:cyan", marker="^", ls=":"),
        "edmsac": dict(color="tab:red", marker="x", ls="none", ms=9, mew=2),
    }
    for ax, (p, label) in zip(axes.ravel(), params, strict=True):
        d = data[data["param"] == p]
        for m, st in style.items():
            dm = d[d["method"] == m].sort_values("value")
            if not dm.empty:
                ax.plot(dm["value"], dm["profit"], label=m, **st)
        ax.set_xlabel(label)
        ax.set_ylabel("expected CS profit per ES")
        ax.grid(alpha=0.3)
    handles, labels = [], []
    for a in axes.ravel():
        for h, lab in zip(*a.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="lower center", ncol=4, frameon=False)
    fig.suptitle("F3: CS profit vs scenario parameters (others at the default scenario)")
    fig.tight_layout(rect=(0, 0.06, 1, 0.96))
    return save(fig, stem)


def f4_ablations(runs: pd.DataFrame, stem: Path) -> list[Path]:
    """Final optimality ratio vs pruning target and vs number of denoising steps."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, param, label in (
        (axes[0], "prune_target", "pruning target (fraction of hidden neurons masked)"),
        (axes[1], "diffusion_steps", "denoising steps N"),
    ):
        if not runs.empty and "param" in runs:
            d = runs[runs.get("param") == param]
            if not d.empty:
                g = d.groupby("value")["ratio_single"]
                mean, sd = g.mean(), g.std(ddof=1).fillna(0.0)
                ax.errorbar(
                    mean.index.astype(float),
                    mean.values,
                    yerr=sd.values,
                    marker="o",
                    color="tab:red",
                    capsize=3,
                    label="EDMSAC",
                )
        ax.axhline(1.0, color="black", lw=1, label="exact dynamic optimum")
        ax.set_xlabel(label)
        ax.set_ylabel("final optimality ratio")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("F4: ablations (mean ± sd over seeds)")
    fig.tight_layout()
    return save(fig, stem)


def f5_cost(cost_rows: pd.DataFrame, stem: Path) -> list[Path]:
    """Wall time per update and denoising latency: EDMSAC masked / compacted vs DMSAC."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    if not cost_rows.empty:
        upd = cost_rows.dropna(subset=["ms_per_update"])
        axes[0].bar(upd["label"], upd["ms_per_update"], color=[color(m) for m in upd["method"]])
        lat = cost_rows.dropna(subset=["denoise_ms_per_1k"])
        axes[1].bar(
            lat["label"],
            lat["denoise_ms_per_1k"],
            color=[color(m) for m in lat["method"]],
        )
    axes[0].set_ylabel("training wall time / gradient updates (ms)")
    axes[1].set_ylabel("denoising latency (ms per 1000 states)")
    for a in axes:
        a.tick_params(axis="x", rotation=15)
        a.grid(alpha=0.3, axis="y")
    fig.suptitle("F5: cost of training and of generating contracts (CPU)")
    fig.tight_layout()
    return save(fig, stem)

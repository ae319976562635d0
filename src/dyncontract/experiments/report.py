"""After the runs: summary table, F3 data, and the five figures of an experiment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dyncontract._io import write_text_atomic
from dyncontract.env import HeldOutSet
from dyncontract.experiments import figures as F
from dyncontract.experiments.aggregate import collect, write_summary
from dyncontract.experiments.runner import heldout_cache
from dyncontract.experiments.spec import ExperimentSpec
from dyncontract.model.scenario import DEFAULT_PERSISTENCE, Scenario
from dyncontract.solvers.exact import solve_dynamic
from dyncontract.solvers.reference import complete_info, static_contract


def _scenario_for(base: Scenario, param: str, value: float) -> Scenario:
    if param == "K":
        K = int(value)
        theta = [1.0 + 2.0 * j / (K - 1) for j in range(K)]
        return base.replace(theta=theta, prior=[1.0 / K] * K, persistence=DEFAULT_PERSISTENCE)
    if param == "persistence":
        return base.replace(persistence=float(value))
    if param == "energy_price":
        return base.replace(energy_price=float(value))
    if param == "discount":
        return base.replace(discount=float(value))
    raise ValueError(param)


def f3_data(spec: ExperimentSpec, out: str | os.PathLike, runs: pd.DataFrame) -> pd.DataFrame:
    """Profit of exact dynamic / static / complete-information (and EDMSAC where a trained
    policy covers the point) for each grid value; others at the default scenario."""
    from dyncontract.experiments.composition import policy_profit

    cfg = spec.base_config()
    base = cfg.scenario_obj()
    rows: list[dict[str, Any]] = []
    main_edmsac = []
    if not runs.empty:
        sel = runs[(runs["group"] == "edmsac") & (runs["method"] == "edmsac")]
        main_edmsac = list(sel["run_dir"])
    grid = spec.f3
    for param, values in (
        ("K", grid.K),
        ("persistence", grid.persistence),
        ("energy_price", grid.energy_price),
        ("discount", grid.discount),
    ):
        for v in values:
            sc = _scenario_for(base, param, v)
            rows.append(
                dict(param=param, value=v, method="exact_dynamic", profit=solve_dynamic(sc).profit)
            )
            rows.append(
                dict(param=param, value=v, method="static", profit=static_contract(sc).profit)
            )
            rows.append(
                dict(param=param, value=v, method="complete_info", profit=complete_info(sc).profit)
            )
            run_dirs: list[str] = []
            if param in ("persistence", "energy_price"):
                run_dirs = main_edmsac
            elif not runs.empty:
                label = f"f3-{param}-{int(v) if param == 'K' else format(v, 'g')}"
                run_dirs = list(runs[runs["group"] == label]["run_dir"])
            vals = [policy_profit(Path(d), sc) for d in run_dirs]
            vals = [x for x in vals if x is not None and np.isfinite(x)]
            if vals:
                rows.append(
                    dict(param=param, value=v, method="edmsac", profit=float(np.mean(vals)))
                )
    return pd.DataFrame(rows)


def cost_rows(runs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    if runs.empty:
        return pd.DataFrame(columns=["label", "method", "ms_per_update", "denoise_ms_per_1k"])
    for m in ("edmsac", "dmsac"):
        g = runs[(runs["group"] == m) & (runs["method"] == m)]
        if g.empty:
            continue
        ms_upd = pd.to_numeric(g.get("ms_per_update"), errors="coerce").mean()
        timings = [d for d in g.get("denoise_ms_per_1k_states", []) if isinstance(d, dict)]

        def mean_of(key: str, timings: list[dict] = timings) -> float:
            vals = [d[key] for d in timings if d.get(key) is not None]
            return float(np.mean(vals)) if vals else np.nan

        variants = (
            [("EDMSAC (masked)", ms_upd, "dense"), ("EDMSAC (compacted)", np.nan, "compact")]
            if m == "edmsac"
            else [("DMSAC (dense)", ms_upd, "dense")]
        )
        for label, ms, width in variants:
            rows.append(
                dict(label=label, method=m, ms_per_update=ms, denoise_ms_per_1k=mean_of(width))
            )
    return pd.DataFrame(rows)


def build_report(spec: ExperimentSpec, out: str | os.PathLike) -> dict[str, Any]:
    """Summary + figures for ``OUT/<experiment>``; returns paths and the summary frame."""
    root = Path(out) / spec.name
    fig_dir = root / "figures"
    summary, md = write_summary(out, spec.name)
    runs = collect(out, spec.name)
    cfg = spec.base_config()
    base = cfg.scenario_obj()
    held = HeldOutSet.build(base, cfg.env, cache_dir=heldout_cache(out, spec.name))
    static = held.static_best_profit if held.static_best_profit is not None else held.static_profit
    ref = {  # the learning curves are on validation states: so are their reference lines
        "optimal_profit": float(np.mean(held.optimal_profit)),
        "static_profit": float(np.mean(static)),
        "static_ratio": float(np.mean(static / held.optimal_profit)),
    }
    figs: list[Path] = []
    figs += F.f1_learning_curves(runs, ref, fig_dir / "f1_learning_curves")
    opt = solve_dynamic(base)
    figs += F.f2_optimal_contract(base, opt.contract, fig_dir / "f2_optimal_contract")
    f3 = f3_data(spec, out, runs)
    write_text_atomic(root / "f3.csv", f3.to_csv(index=False))
    figs += F.f3_sweeps(f3, fig_dir / "f3_profit_sweeps")
    abl = runs[runs["group"].str.startswith("ablation-")] if not runs.empty else runs
    figs += F.f4_ablations(abl, fig_dir / "f4_ablations")
    costs = cost_rows(runs)
    write_text_atomic(root / "cost.csv", costs.to_csv(index=False))
    figs += F.f5_cost(costs, fig_dir / "f5_cost")
    return {"summary": summary, "summary_md": md, "figures": figs, "reference": ref}

"""`dyncontract simulate`: the federated AI agent construction framework under a contract."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dyncontract._io import write_json_atomic
from dyncontract.cli._common import (
    ConfigOpt,
    InputError,
    JsonOpt,
    SetOpt,
    check_output_path,
    fmt_table,
    get_config,
    handles_input_errors,
    load_contract,
)
from dyncontract.framework.config import MAX_N_ES
from dyncontract.framework.simulator import SimulationResult, simulate
from dyncontract.solvers.exact import OPTIMAL, solve_dynamic

ContractOpt = Annotated[
    Path | None,
    typer.Option(
        "--contract", help="Contract JSON {T1, R1, T2, R2} (default: solve the optimal one)."
    ),
]
# --n-es and --seed are parsed here, not by typer, so that bad values give one-line errors.
NesOpt = Annotated[
    str | None,
    typer.Option("--n-es", help="Simulated ESs (default: framework.n_es, 10000).", metavar="N"),
]
SeedOpt = Annotated[
    str | None,
    typer.Option("--seed", help="Random seed (default: framework.seed, 0).", metavar="S"),
]
PlotOpt = Annotated[
    Path | None, typer.Option("--plot", help="Write the figure (PNG) here.", metavar="OUT.png")
]


def _parse_int(raw: str | None, name: str, lo: int, hi: int | None = None) -> int | None:
    if raw is None:
        return None
    try:
        v = int(raw.strip())
    except ValueError:
        raise InputError(f"{name}: must be an integer, got {raw!r}") from None
    if v < lo or (hi is not None and v > hi):
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise InputError(f"{name}: must be {rng}, got {v}")
    return v


def summary_text(res: SimulationResult) -> str:
    s = res.summary
    lines = [
        f"Simulated {s['n_es']} ESs (seed {s['seed']}, participation {s['participation']}) "
        f"in {s['simulate_seconds']:.3f} s",
        f"contract feasible (check): {s['contract_feasible']}",
        f"CS profit per ES: realised {s['realized_profit_per_es']:.6f} "
        f"(SE {s['realized_profit_se'] or float('nan'):.6f}), "
        f"expected {s['expected_profit_per_es']:.6f}, "
        f"lost to deviations/declines {s['profit_lost_per_es']:.6f}",
        f"deviations: {s['deviations']} (period 1: {s['deviations_by_period']['1']}, "
        f"period 2: {s['deviations_by_period']['2']}); declined: {s['declined']} "
        f"(period 1: {s['declined_by_period']['1']}, period 2: {s['declined_by_period']['2']})",
    ]
    rows = []
    for k, t in enumerate(s["theta"]):
        u = s["es_utility"][k]
        e = s["energy_j_mean_by_type"][k]
        rows.append(
            [
                f"theta_{k + 1}={t:g}",
                s["es_count_by_type"][k],
                float("nan") if u is None else float(u),
                float(s["es_utility_expected"][k]),
                float("nan") if e is None else float(e),
            ]
        )
    lines.append(fmt_table(["type", "ESs", "utility", "promised V", "energy (J)"], rows))
    for row in s["deviation_table"][:10]:
        where = "" if row["history"] is None else f" after report {row['history'] + 1}"
        what = "declines" if row["report"] is None else f"reports {row['report'] + 1}"
        lines.append(
            f"  period {row['period']}{where}: type {row['true_type'] + 1} {what} "
            f"({row['count']} ESs, CS profit change {row['cs_profit_change']:.4f})"
        )
    lat = s["latency_ms"]
    edge = lat["edge"]
    edge_txt = (
        "n/a (no agent deployed)"
        if edge["p50"] is None
        else (f"p50 {edge['p50']:.1f}, p95 {edge['p95']:.1f}")
    )
    lines.append(
        f"latency (ms): edge {edge_txt}; cloud p50 {lat['cloud']['p50']:.1f}, "
        f"p95 {lat['cloud']['p95']:.1f}"
    )
    raw = s["raw_bytes_uploaded"]
    lines.append(
        f"raw data leaving the edge (bytes): federated {raw['federated']}, "
        f"centralised {raw['centralized']:.4g}; energy total {s['energy_j_total']:.6g} J"
    )
    return "\n".join(lines)


@handles_input_errors
def simulate_cmd(
    config: ConfigOpt = None,
    set_: SetOpt = None,
    contract: ContractOpt = None,
    n_es: NesOpt = None,
    seed: SeedOpt = None,
    json_out: JsonOpt = None,
    plot: PlotOpt = None,
) -> None:
    """Simulate edge servers building agent modules under a contract (Monte Carlo)."""
    check_output_path(json_out)
    check_output_path(plot, "--plot")
    if plot is not None and plot.suffix.lower() != ".png":
        raise InputError(f"--plot: must be a .png file, got {str(plot)!r}")
    n = _parse_int(n_es, "--n-es", 1, MAX_N_ES)
    s = _parse_int(seed, "--seed", 0)
    cfg = get_config(config, set_)
    sc = cfg.scenario_obj()
    if contract is not None:
        c = load_contract(contract, sc)
        source = str(contract)
    else:
        res = solve_dynamic(sc)
        if res.contract is None or res.status != OPTIMAL:
            typer.echo(f"error: solver status {res.status}: no optimal contract", err=True)
            raise typer.Exit(1)
        c = res.contract
        source = "optimal"
    out = simulate(c, sc, cfg.framework, n_es=n, seed=s)
    out.summary["contract_source"] = source
    out.summary["contract"] = c.to_dict()
    typer.echo(summary_text(out))
    png = None
    if plot is not None:
        from dyncontract.framework.plot import render_png

        png = render_png(out)  # rendered before anything is written
    if json_out is not None:
        write_json_atomic(json_out, out.summary)
        typer.echo(f"wrote {json_out}")
    if png is not None and plot is not None:
        from dyncontract.framework.plot import write_png

        write_png(plot, png)
        typer.echo(f"wrote {plot}")

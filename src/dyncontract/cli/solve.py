"""`dyncontract solve` and `dyncontract check`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
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
from dyncontract.model.contract import Contract, utilities
from dyncontract.model.feasibility import DEFAULT_TOL, check_feasibility
from dyncontract.model.scenario import Scenario
from dyncontract.solvers.exact import OPTIMAL
from dyncontract.solvers.reference import solve_references


def contract_tables(c: Contract, sc: Scenario) -> str:
    u = utilities(c, sc)
    rows1 = [
        [
            f"theta_{k + 1}={sc.theta[k]:g}",
            float(c.T1[k]),
            float(c.R1[k]),
            float(u.U1[k]),
            float(u.V[k]),
        ]
        for k in range(sc.K)
    ]
    out = ["Period 1 (item per reported type)", fmt_table(["type", "T1", "R1", "U1", "V"], rows1)]
    out.append("")
    out.append("Period 2 (T2 / R2: row = period-1 report k, column = period-2 report i)")
    heads = ["k \\ i"] + [f"{i + 1}" for i in range(sc.K)]
    out.append("T2")
    out.append(fmt_table(heads, [[f"{k + 1}"] + [float(x) for x in c.T2[k]] for k in range(sc.K)]))
    out.append("R2")
    out.append(fmt_table(heads, [[f"{k + 1}"] + [float(x) for x in c.R2[k]] for k in range(sc.K)]))
    return "\n".join(out)


@handles_input_errors
def solve(
    config: ConfigOpt = None,
    set_: SetOpt = None,
    json_out: JsonOpt = None,
    full: Annotated[
        bool, typer.Option("--full", help="Solve the full K^3 program instead of the reduced one.")
    ] = False,
    tol: Annotated[float, typer.Option(help="Feasibility tolerance.")] = DEFAULT_TOL,
) -> None:
    """Solve the optimal dynamic contract and the reference contracts for a scenario."""
    check_output_path(json_out)
    cfg = get_config(config, set_)
    sc = cfg.scenario_obj()
    refs = solve_references(sc, reduced=not full)
    dyn = refs.dynamic
    if dyn.contract is None:
        typer.echo(f"solver status: {dyn.status} (no solution)", err=True)
        raise typer.Exit(1)
    rep = check_feasibility(dyn.contract, sc, tol=tol)
    profits = refs.profits()
    statuses = {
        "dynamic": refs.dynamic.status,
        "static": refs.static.status,
        "static_redesign": refs.static_redesign.status,
        "complete_info": refs.complete_info.status,
    }
    typer.echo(
        f"Scenario: K={sc.K}, participation={sc.participation}, discount={sc.discount:g}, "
        f"N={sc.n_es} ESs"
    )
    typer.echo(
        f"Optimal dynamic contract ({dyn.program}, status {dyn.status}, {dyn.solve_seconds:.3f} s)"
    )
    typer.echo(contract_tables(dyn.contract, sc))
    typer.echo("")
    rows = []
    for name, pr in profits.items():
        gap = (pr / profits["dynamic"] - 1) * 100 if profits["dynamic"] else float("nan")
        rows.append([name, pr, pr * sc.n_es, f"{gap:+.3f}%", statuses[name]])
    typer.echo("CS expected profit")
    typer.echo(
        fmt_table(["contract", "per ES", f"total (N={sc.n_es})", "vs dynamic", "status"], rows)
    )
    typer.echo(f"\nfeasible: {rep.feasible} (max violation {rep.max_violation:.3g}, tol {tol:g})")
    if json_out is not None:
        write_json_atomic(
            json_out,
            {
                "status": dyn.status,
                "program": dyn.program,
                "profit": profits,
                "total_profit": {k: v * sc.n_es for k, v in profits.items()},
                "statuses": statuses,
                "contract": dyn.contract.to_dict(),
                "feasibility": {"feasible": rep.feasible, "max_violation": rep.max_violation},
                "solve_seconds": dyn.solve_seconds,
                "scenario": cfg.scenario.model_dump(mode="json"),
            },
        )
        typer.echo(f"wrote {json_out}")
    if dyn.status != OPTIMAL:
        typer.echo(f"warning: solver status is {dyn.status}, not optimal", err=True)
        raise typer.Exit(1)


@handles_input_errors
def check(
    contract: Annotated[Path, typer.Argument(help="Contract JSON: {T1, R1, T2, R2}.")],
    config: ConfigOpt = None,
    set_: SetOpt = None,
    tol: Annotated[float, typer.Option(help="Feasibility tolerance.")] = DEFAULT_TOL,
    json_out: JsonOpt = None,
    limit: Annotated[int, typer.Option(help="Print at most this many violations.")] = 30,
) -> None:
    """Feasibility report of a contract: exit 0 feasible, 1 infeasible, 2 malformed input."""
    check_output_path(json_out)
    if not np.isfinite(tol) or tol < 0:
        raise InputError(f"--tol: must be a finite number >= 0, got {tol}")
    cfg = get_config(config, set_)
    sc = cfg.scenario_obj()
    c = load_contract(contract, sc)
    rep = check_feasibility(c, sc, tol=tol)
    from dyncontract.model.contract import expected_profit

    typer.echo(
        f"contract {contract}: K={c.K}, expected CS profit per ES {expected_profit(c, sc):.6f}"
    )
    if rep.feasible:
        typer.echo(f"FEASIBLE (max violation {rep.max_violation:.3g} <= tol {tol:g})")
    else:
        counts = ", ".join(f"{k}: {v}" for k, v in rep.by_constraint().items())
        typer.echo(
            f"INFEASIBLE: {len(rep.violations)} violated constraints ({counts}); "
            f"max violation {rep.max_violation:.6g}"
        )
        for v in rep.violations[:limit]:
            typer.echo(f"  {v.describe()}")
        if len(rep.violations) > limit:
            typer.echo(f"  ... and {len(rep.violations) - limit} more (--limit)")
    if json_out is not None:
        write_json_atomic(json_out, rep.to_dict())
    raise typer.Exit(0 if rep.feasible else 1)

"""`dyncontract construct`: edge servers build a BabyAI agent on Flower under a contract."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer

from dyncontract.cli._common import (
    ConfigOpt,
    InputError,
    SetOpt,
    check_output_path,
    fmt_table,
    get_config,
    handles_input_errors,
    load_contract,
)
from dyncontract.config import dump_config
from dyncontract.framework.construction.config import MAX_CONSTRUCT_ES
from dyncontract.solvers.reference import NAMED

#: Contracts ``--method`` can solve for the scenario (complete_info: the CS knows every type
#: and assigns each ES its type's first-best item; it is the not-implementable upper bound).
METHODS = NAMED


def method_contract(method: str, sc: Any) -> Any:
    """The contract of a solver method; exit 1 when the solver does not report optimal."""
    from dyncontract.solvers.exact import OPTIMAL
    from dyncontract.solvers.reference import solve_named

    res = solve_named(method, sc)
    if res.contract is None or res.status != OPTIMAL:
        typer.echo(f"error: {method}: solver status {res.status}: no optimal contract", err=True)
        raise typer.Exit(1)
    return res.contract


def _int(raw: str | None, name: str, lo: int, hi: int) -> int | None:
    if raw is None:
        return None
    try:
        v = int(raw.strip())
    except ValueError:
        raise InputError(f"{name}: must be an integer, got {raw!r}") from None
    if not lo <= v <= hi:
        raise InputError(f"{name}: must be in [{lo}, {hi}], got {v}")
    return v


def _needs_extra() -> None:
    try:
        import flwr  # noqa: F401
        import minigrid  # noqa: F401
    except ImportError as exc:
        raise InputError(
            f"construct: needs the 'construct' extra ({exc.name} is missing): "
            "pip install -e '.[construct]'"
        ) from None


class _Bar:
    """The progress bar: references, rounds, evaluations and the deployment."""

    def __init__(self, total: int, quiet: bool) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, disable=quiet, unit="step", dynamic_ncols=True)

    def __call__(self, event: str, info: dict[str, Any]) -> None:
        if event == "round":
            fails = len(info["failures"])
            self.bar.set_description(
                f"period {info['period']} round {info['round']}"
                + (f" ({fails} ES failed)" if fails else "")
            )
        elif event == "evaluation":
            self.bar.set_postfix(success=f"{info['success_rate']:.3f}")
        else:
            self.bar.set_description(f"evaluating {info.get('name', event)}")
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def summary_text(report: dict[str, Any]) -> str:
    """What ``dyncontract construct`` prints at the end."""
    lines = [
        f"Construction: {report['n_es']} ESs, seed {report['seed']}, "
        f"{', '.join(report['levels'])}, {report['gcycles_per_step']:.4f} Gcycles per step",
    ]
    rows = []
    for p in report["periods"]:
        rows.append(
            [
                f"period {p['period']}",
                p["success_rate"],
                p["mean_episode_length"],
                f"{p['participants']}/{report['n_es']}",
                p["completed"],
                p["workload_done_gcycles"],
                p["payments"],
                p["realised_profit"],
                p["predicted_profit"],
            ]
        )
    for name, ref in report["references"].items():
        rows.append([name, ref["success_rate"], ref["mean_length"], "", "", "", "", "", ""])
    lines.append(
        fmt_table(
            [
                "agent",
                "success",
                "ep. length",
                "took item",
                "completed",
                "Gcycles done",
                "payments",
                "realised",
                "predicted",
            ],  # fmt: skip
            rows,
            floatfmt="{:.3f}",
        )
    )
    t = report["totals"]
    lines.append(
        f"CS profit (discounted, both periods): realised {t['realised_profit']:.3f}, "
        f"predicted by the model for these picks {t['predicted_profit']:.3f}, "
        f"model's expectation {report['expected_profit_model']:.3f}; "
        f"V = {report['value_per_quality']:.3f} per unit of success rate"
    )
    lines.append(
        f"ESs: mean discounted utility {t['mean_es_utility']:.4f}; "
        f"deviations {t['deviations']}, declines {t['declines']}"
    )
    failed = [(p["period"], p["failed_es"]) for p in report["periods"] if p["failed_es"]]
    for period, es in failed:
        lines.append(f"period {period}: ESs {es} failed and were not paid for that period")
    dep = report.get("deployment") or {}
    if dep:
        lines.append(
            f"deployed agent, per step: inference p50 {dep['step_ms_p50']:.2f} ms, "
            f"p95 {dep['step_ms_p95']:.2f} ms; per episode (mean {dep['episode_steps_mean']:.1f} "
            f"steps): edge {dep['edge_episode_ms_mean']:.1f} ms, "
            f"cloud {dep['cloud_episode_ms_mean']:.1f} ms"
        )
    m = report["measured"]
    lines.append(
        f"wall {m['wall_s']:.1f} s; ESs' CPU {m['es_cpu_s']:.1f} s "
        f"(training {m['es_cpu_train_s']:.1f}, data {m['es_cpu_data_s']:.1f})"
    )
    return "\n".join(lines)


def _export(
    path: Path, cfg: Any, c: Any, source: str, n: int, assignment: str, workload: float | None
) -> None:
    from dyncontract._io import write_text_atomic
    from dyncontract.framework.construction import calibration
    from dyncontract.framework.construction.construct import Bundle

    g, rec = calibration.gcycles_per_step(cfg.construction, log=typer.echo)
    bundle = Bundle(
        scenario=cfg.scenario,
        framework=cfg.framework,
        construction=cfg.construction,
        contract=json.loads(json.dumps(c.to_dict())),
        contract_source=source,
        n_es=n,
        assignment=assignment,
        workload=workload,
        gcycles_per_step=g,
        calibration=rec,
    )
    write_text_atomic(path, bundle.model_dump_json(indent=2) + "\n")
    typer.echo(
        f"wrote {path}: run it with flwr run (SuperLink + {n} SuperNodes with partition-id "
        f"0..{n - 1}; docs/construction.md)"
    )


@handles_input_errors
def construct_cmd(
    out: Annotated[
        Path | None, typer.Option("--out", help="Run folder to write (must not exist).")
    ] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    contract: Annotated[
        Path | None, typer.Option("--contract", help="Contract JSON {T1, R1, T2, R2}.")
    ] = None,
    method: Annotated[
        str | None,
        typer.Option(
            "--method", help=f"Solve the contract: {' | '.join(METHODS)} (default exact)."
        ),
    ] = None,
    n_es: Annotated[
        str | None, typer.Option("--n-es", help="ESs (default scenario.n_es).", metavar="N")
    ] = None,
    seed: Annotated[
        str | None, typer.Option("--seed", help="Seed (default construction.seed).", metavar="S")
    ] = None,
    runtime: Annotated[
        str | None, typer.Option("--runtime", help="simulation (Ray) | inprocess.")
    ] = None,
    workload: Annotated[
        float | None,
        typer.Option(
            "--workload",
            help="Every ES does T Gcycles in both periods, nobody is paid (quality vs workload).",
            metavar="T",
        ),
    ] = None,
    export: Annotated[
        Path | None,
        typer.Option(
            "--export",
            help="Write the construction as a bundle for Flower's deployment runtime "
            "(flwr run; docs/construction.md) instead of running it.",
            metavar="FILE.json",
        ),
    ] = None,
    calibrate: Annotated[
        bool,
        typer.Option("--calibrate", help="Measure the Gcycles of one training step and record it."),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Edge servers build the modules of a BabyAI agent on Flower under a contract."""
    extra: dict[str, Any] = {}
    if seed is not None:
        extra.setdefault("construction", {})["seed"] = _int(seed, "--seed", 0, 2**31 - 1)
    if runtime is not None:
        if runtime not in ("simulation", "inprocess"):
            raise InputError(f"--runtime: must be simulation or inprocess, got {runtime!r}")
        extra.setdefault("construction", {})["runtime"] = runtime
    cfg = get_config(config, set_, extra)
    ccfg = cfg.construction
    _needs_extra()
    from dyncontract.framework.construction.data import check_levels

    try:
        check_levels(ccfg.levels)
    except ValueError as exc:
        raise InputError(f"construction.levels: {exc}") from None

    if calibrate:
        from dyncontract.framework.construction import calibration

        rec = calibration.calibrate(ccfg)
        path = calibration.save(rec)
        typer.echo(
            f"{rec['gcycles_per_step']:.5f} Gcycles per training step "
            f"({rec['cpu_s_per_step'] * 1e3:.2f} ms of CPU x {rec['cpu_ghz']:.3f} GHz from "
            f"{rec['cpu_ghz_source']}); recorded in {path}"
        )
        if out is None:
            return
    if out is None and export is None:
        raise InputError("--out: required (the run folder to write)")
    if out is not None and export is not None:
        raise InputError("--out/--export: give one of them, not both")
    if export is not None:
        check_output_path(export, "--export")
    if out is not None and out.exists():
        raise InputError(f"--out: {out} already exists")
    if out is not None and out.parent.exists() and not out.parent.is_dir():
        raise InputError(f"--out: {out.parent} is not a directory")
    if contract is not None and method is not None:
        raise InputError("--contract/--method: give one of them, not both")
    if method is not None and method not in METHODS:
        raise InputError(f"--method: must be one of {', '.join(METHODS)}, got {method!r}")
    sc = cfg.scenario_obj()
    n = _int(n_es, "--n-es", 1, MAX_CONSTRUCT_ES) or ccfg.n_es or sc.n_es
    if n > MAX_CONSTRUCT_ES:
        raise InputError(
            f"--n-es: the scenario's n_es = {n} exceeds {MAX_CONSTRUCT_ES}: give --n-es"
        )
    if workload is not None and not (math.isfinite(workload) and 0 <= workload <= sc.t_max):
        raise InputError(f"--workload: must be in [0, T_max = {sc.t_max:g}], got {workload}")
    for f in ccfg.faults:
        if f.es >= n:
            raise InputError(f"construction.faults: ES {f.es} does not exist (n_es = {n})")
        if f.round > ccfg.rounds_per_period:
            raise InputError(
                f"construction.faults: round {f.round} > rounds_per_period "
                f"= {ccfg.rounds_per_period}"
            )
    if contract is not None:
        c = load_contract(contract, sc)
        for name in ("T1", "T2"):
            arr = getattr(c, name)
            import numpy as np

            bad = np.argwhere((arr > sc.t_max * (1 + 1e-9)) | (arr < 0))
            if bad.size:
                idx = ",".join(str(int(i)) for i in bad[0])
                raise InputError(
                    f"contract: {name}[{idx}] = {arr[tuple(bad[0])]:g} is outside "
                    f"[0, T_max = {sc.t_max:g}] (no ES can build it within the period)"
                )
        source, assignment = str(contract), "self_selection"
    else:
        source = method or "exact"
        c = method_contract(source, sc)
        assignment = "enforced" if source == "complete_info" else "self_selection"

    if export is not None:
        _export(export, cfg, c, source, n, assignment, workload)
        return
    assert out is not None
    from dyncontract.framework.construction.construct import construct
    from dyncontract.framework.construction.report import write_run

    total = 3 * ccfg.references + 2 * ccfg.rounds_per_period + 2
    bar = _Bar(total, quiet)
    try:
        res = construct(c, sc, ccfg, cfg.framework, n, assignment, progress=bar, workload=workload)
    finally:
        bar.close()
    res.report["contract_source"] = source
    typer.echo(summary_text(res.report))
    write_run(out, res, json.loads(json.dumps(c.to_dict())), dump_config(cfg))
    typer.echo(f"wrote {out}/ (report.json, es.csv, periods.csv, construction.png, agents)")

"""`dyncontract reproduce`: run an experiment preset end to end (runs, summary, figures)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from dyncontract._io import write_json_atomic
from dyncontract.cli._common import InputError, handles_input_errors


@handles_input_errors
def reproduce(
    preset: Annotated[
        str, typer.Option(help="Experiment preset: smoke | quick | paper (configs/experiments/).")
    ] = "quick",
    spec: Annotated[
        Path | None, typer.Option("--spec", help="An experiment YAML instead of a preset.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("results"),
    backend: Annotated[str, typer.Option(help="local (process pool) or ray.")] = "local",
    workers: Annotated[int, typer.Option(help="Parallel runs (processes / Ray CPUs).")] = 2,
    address: Annotated[
        str | None, typer.Option(help="Ray cluster address (default: start a local Ray).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
    export: Annotated[
        Path | None,
        typer.Option(
            "--export", help="Also copy the tables + provenance here (e.g. docs/data/quick)."
        ),
    ] = None,
) -> None:
    """Run every method of an experiment, then write summary.csv/.md and figures F1–F5.

    Re-running with the same --out resumes: finished runs are skipped.
    """
    from dyncontract.experiments.report import build_report
    from dyncontract.experiments.runner import execute
    from dyncontract.experiments.spec import load_spec

    if backend not in ("local", "ray"):
        raise InputError(f"--backend: must be local or ray, got {backend!r}")
    if workers < 1:
        raise InputError(f"--workers: must be >= 1, got {workers}")
    if address is not None and backend != "ray":
        raise InputError("--address: only used with --backend ray")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out: {out} exists and is not a directory")
    exp = load_spec(spec if spec is not None else preset)
    failed: list[dict] = []
    if exp.methods:
        try:
            results = execute(
                exp, out, backend, workers, address, progress=not quiet, log=typer.echo
            )
        except ValueError as exc:  # backend problems (e.g. Ray missing) are input errors
            if str(exc).startswith("--backend"):
                raise InputError(str(exc)) from None
            raise
        failed = [r for r in results if r["status"] == "failed"]
        rep = build_report(exp, out)
        typer.echo("")
        typer.echo(rep["summary_md"].read_text())
        typer.echo(f"summary: {rep['summary_md']} (and summary.csv)")
        typer.echo(
            f"figures: {rep['figures'][0].parent}/ ({len(rep['figures'])} files: F1–F5, PNG + PDF)"
        )
    if exp.construction is not None:
        failed += _construct(exp, out, workers, quiet)
    if export is not None and exp.construction is not None:
        from dyncontract.experiments import construction_report
        from dyncontract.experiments.results_doc import provenance

        root = Path(out) / exp.name / "construct"
        for p in construction_report.export(root, export):
            typer.echo(f"exported {p}")
        prov = json.loads((root / "provenance.json").read_text())
        write_json_atomic(export / "provenance.json", {**provenance(_command_line()), **prov})
    if export is not None and exp.methods:
        from dyncontract.experiments.results_doc import export as export_tables

        dst = export_tables(Path(out) / exp.name, export, _command_line())
        typer.echo(f"exported: {dst}/ (then: dyncontract results)")
    if failed:
        for r in failed:
            name = r.get("task") or r.get("job")
            typer.echo(f"failed: {name}: {r['error']}", err=True)
        raise typer.Exit(1)


def _command_line() -> str:
    """The command as the user typed it (for provenance)."""
    return "dyncontract " + shlex.join(sys.argv[1:])


def _construct(exp, out: Path, workers: int, quiet: bool) -> list[dict]:
    """The construct experiment: constructions, then its tables and figures F6-F8."""
    from dyncontract.experiments import construction, construction_report

    _needs_construct_extra()
    results = construction.execute(
        exp.construction, out, exp.name, workers, progress=not quiet, log=typer.echo
    )
    rep = construction_report.build(
        exp.construction, Path(out) / exp.name / "construct", command=_command_line()
    )
    for line in rep["lines"]:
        typer.echo(line)
    return [r for r in results if r["status"] == "failed"]


def _needs_construct_extra() -> None:
    try:
        import flwr  # noqa: F401
        import minigrid  # noqa: F401
    except ImportError as exc:
        raise InputError(
            f"reproduce: the construct experiment needs the 'construct' extra ({exc.name} is "
            "missing): pip install -e '.[construct]'"
        ) from None


@handles_input_errors
def results(
    data: Annotated[Path, typer.Option("--data", help="Folder of exported data.")] = Path(
        "docs/data"
    ),
    out: Annotated[Path, typer.Option("--out", help="The page to write.")] = Path(
        "docs/results.md"
    ),
) -> None:
    """Regenerate docs/results.md (and the figures drawn from data, next to it under
    figures/) from the committed data under docs/data/."""
    from dyncontract.experiments.results_doc import figures_from_data, render

    if not data.is_dir():
        raise InputError(f"--data: {data} is not a directory")
    typer.echo(f"wrote {render(data, out)}")
    for fig in figures_from_data(data, out.parent / "figures"):
        typer.echo(f"wrote {fig}")

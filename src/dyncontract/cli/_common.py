"""Shared CLI plumbing: one-line errors (exit 2 bad input, 1 runtime failure), config options,
printing.

Every command is wrapped in :func:`handles_input_errors`: input errors become
``error: <field>: <why>`` and exit code 2; any other exception (a solver or torch failing on
valid input) becomes ``error: <command>: <why> (<type>)`` and exit code 1. Set
``DYNCONTRACT_DEBUG=1`` to get the traceback instead.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import click
import typer

from dyncontract.config import ConfigError, DyncontractConfig, load_config, merge, parse_set
from dyncontract.model.contract import ContractFormatError
from dyncontract.rl.rundir import RunError

F = TypeVar("F", bound=Callable[..., Any])

#: Exceptions that mean "bad input": one line on stderr, exit code 2, nothing written.
INPUT_ERRORS: tuple[type[BaseException], ...] = (ConfigError, ContractFormatError, RunError)


class InputError(ValueError):
    """Bad command-line input detected by a command itself (one-line message)."""


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


#: Exceptions that carry an exit code or a usage message of their own.
_PASS_THROUGH: tuple[type[BaseException], ...] = (
    typer.Exit,
    typer.Abort,
    click.exceptions.Exit,
    click.exceptions.Abort,
    click.ClickException,
)

#: Longest "why" of a runtime failure (the first line of the exception, cut).
_MAX_WHY = 300


def first_line(exc: BaseException) -> str:
    """The first non-empty line of ``str(exc)`` (the type name when there is none)."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__


def describe_failure(exc: BaseException) -> str:
    """``why (ExceptionType)`` on one line, cut to a readable length."""
    why = first_line(exc)
    if len(why) > _MAX_WHY:
        why = why[: _MAX_WHY - 3] + "..."
    name = type(exc).__name__
    return why if why == name else f"{why} ({name})"


def handles_input_errors(fn: F) -> F:
    """Turn exceptions raised inside a command into one line on stderr: input errors exit 2,
    any other exception (a runtime failure) exits 1. ``DYNCONTRACT_DEBUG=1`` re-raises."""
    command = fn.__name__.removesuffix("_cmd")

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except _PASS_THROUGH:
            raise  # typer.Exit (exit codes chosen by the command) and click's usage errors
        except (*INPUT_ERRORS, InputError) as exc:
            fail(first_line(exc))
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        except Exception as exc:  # a solver, torch or the OS failing on valid input
            if os.environ.get("DYNCONTRACT_DEBUG"):
                raise
            fail(f"{command}: {describe_failure(exc)}", code=1)

    return wrapper  # type: ignore[return-value]


ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML config (default: built-in default scenario)."),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a config value: section.key=value (repeatable)."),
]
JsonOpt = Annotated[Path | None, typer.Option("--json", help="Write the result as JSON here.")]


def get_config(
    config: Path | None, set_: list[str] | None, extra: dict[str, Any] | None = None
) -> DyncontractConfig:
    """The config of a command: ``--config`` file, ``--set`` strings (parsed here, at the
    edge, into a nested dict) and the command's own options (``extra``, nested), merged."""
    return load_config(config, merge(parse_set(set_), extra or {}))


def check_output_path(path: Path | None, name: str = "--json") -> None:
    """Fail early (before any work) if an output file cannot be written."""
    if path is None:
        return
    if path.exists() and path.is_dir():
        raise InputError(f"{name}: {path} is a directory")
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise InputError(f"{name}: {parent} is not a directory")


#: Largest |entry| of a contract file (workloads in Gcycles, rewards in model units): with the
#: scenario ranges, costs and values stay finite below it.
CONTRACT_MAX_ABS = 1e12


def load_contract(path: Path, sc: Any) -> Any:
    """A contract file checked against the scenario ``sc``: K types, every entry finite with
    |x| <= CONTRACT_MAX_ABS and workloads T > -1/beta (where the value ln(1 + beta T) is
    defined); anything else is an input error (exit 2). Workloads outside [0, T_max] are
    left to the feasibility check (``bounds``)."""
    import numpy as np

    from dyncontract.model.contract import Contract

    try:
        c = Contract.load(path)
    except UnicodeDecodeError:
        raise InputError(f"{path}: not valid JSON (not UTF-8 text)") from None
    if c.K != sc.K:
        raise InputError(f"contract: has K={c.K} types, the scenario has K={sc.K}")
    for name in ("T1", "R1", "T2", "R2"):
        arr = getattr(c, name)
        bad = np.argwhere(np.abs(arr) > CONTRACT_MAX_ABS)
        if bad.size:
            idx = ",".join(str(int(i)) for i in bad[0])
            raise InputError(
                f"contract: {name}[{idx}] = {arr[tuple(bad[0])]:g} is outside "
                f"[-{CONTRACT_MAX_ABS:g}, {CONTRACT_MAX_ABS:g}]"
            )
        if name.startswith("T"):
            low = np.argwhere(arr <= -1.0 / sc.beta)
            if low.size:
                idx = ",".join(str(int(i)) for i in low[0])
                raise InputError(
                    f"contract: {name}[{idx}] = {arr[tuple(low[0])]:g}: workloads must be > "
                    f"-1/beta = {-1.0 / sc.beta:g} (the value ln(1 + beta T) is undefined)"
                )
    return c


def fmt_table(headers: list[str], rows: list[list[Any]], floatfmt: str = "{:.4f}") -> str:
    """A plain aligned text table."""

    def cell(x: Any) -> str:
        if isinstance(x, float):
            return floatfmt.format(x)
        return str(x)

    body = [[cell(x) for x in r] for r in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))
    sep = "  ".join("-" * w for w in widths)
    out = [line, sep] + [
        "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in body
    ]
    return "\n".join(out)

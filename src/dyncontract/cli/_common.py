"""Shared CLI plumbing: one-line errors with exit code 2, config options, printing."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

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


def handles_input_errors(fn: F) -> F:
    """Turn input errors raised inside a command into a one-line message and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (*INPUT_ERRORS, InputError) as exc:
            fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None

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

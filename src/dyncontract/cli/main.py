"""The ``dyncontract`` command line."""

from __future__ import annotations

import typer

from dyncontract.cli import construct as _construct
from dyncontract.cli import reproduce as _reproduce
from dyncontract.cli import simulate as _simulate
from dyncontract.cli import solve as _solve
from dyncontract.cli import train as _train

app = typer.Typer(
    name="dyncontract",
    help="Two-period dynamic contracts for federated AI agent construction.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.command("solve")(_solve.solve)
app.command("check")(_solve.check)
app.command("simulate")(_simulate.simulate_cmd)
app.command("construct")(_construct.construct_cmd)
app.command("train")(_train.train)
app.command("evaluate")(_train.evaluate)
app.command("reproduce")(_reproduce.reproduce)
app.command("results")(_reproduce.results)


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()

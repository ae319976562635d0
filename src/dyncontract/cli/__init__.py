"""CLI layer (typer): see :mod:`dyncontract.cli.main`."""

"""``accord resources``: the resources capability from a terminal."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Resource mobilisation: stock ledger, needs and offers, allocation plans, early warning.", no_args_is_help=True
)

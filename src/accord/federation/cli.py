"""``accord federation``: the federation capability from a terminal."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Federation: instance identity, signed data packages, push and pull, the global hub and pool.",
    no_args_is_help=True,
)

"""``accord healthcode``: the healthcode capability from a terminal."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Health codes: published status rules, signed QR credentials, trust lists, offline verification.",
    no_args_is_help=True,
)

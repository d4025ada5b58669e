"""``accord tracing``: the tracing capability from a terminal."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Case and contact tracing: persons, cases, contacts, follow-up tasks, transmission chains.",
    no_args_is_help=True,
)

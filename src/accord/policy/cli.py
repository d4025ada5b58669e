"""``accord policy``: the policy capability from a terminal."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Interventions: measures registry, directives down the tree, risk areas, scenarios.", no_args_is_help=True
)

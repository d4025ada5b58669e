"""``accord users``: users and API tokens."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from accord import clikit
from accord.auth import service

app = typer.Typer(help="Users, roles, scopes and API tokens.", no_args_is_help=True)


@app.command()
def add(
    username: str,
    role: Annotated[str, typer.Option(help="reporter, coordinator, analyst or admin")],
    scope: Annotated[str | None, typer.Option(help="jurisdiction code whose subtree the user acts on")] = None,
    name: Annotated[str | None, typer.Option(help="display name")] = None,
) -> None:
    """Add a user."""
    with clikit.session_scope() as session:
        service.add_user(session, username, role, scope, name)
    clikit.console.print(f"added {username} ({role}{' of ' + scope if scope else ''})")


@app.command()
def token(username: str, label: Annotated[str | None, typer.Option(help="what the token is for")] = None) -> None:
    """Issue an API token (shown once; only its hash is stored)."""
    with clikit.session_scope() as session:
        value = service.issue_token(session, username, label)
    print(value)


@app.command()
def revoke(username: str) -> None:
    """Revoke every token of a user."""
    with clikit.session_scope() as session:
        n = service.revoke_tokens(session, username)
    clikit.console.print(f"revoked {n} token(s)")


@app.command("list")
def list_() -> None:
    """List users."""
    with clikit.session_scope() as session:
        users = service.list_users(session)
        table = Table("username", "role", "scope id", "active")
        for u in users:
            table.add_row(u.username, u.role, str(u.scope_id or "all"), str(u.active))
    clikit.console.print(table)

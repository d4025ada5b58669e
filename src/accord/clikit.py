"""What every CLI command shares: settings, a migrated database, one transaction, one-sentence errors.

The database, migrations and settings are imported when a command first needs them, not with this module:
commands that need no database (the offline health-code verifier) start without them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from accord.errors import AccordError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from accord.auth.roles import Actor
    from accord.settings import Settings

console = Console()
err = Console(stderr=True)

EXIT_CODES = {404: 3, 401: 4, 403: 4, 409: 5, 413: 6}


def settings() -> Settings:
    from accord.settings import InsecureSettings, get_settings

    try:
        return get_settings()
    except (InsecureSettings, ValueError) as exc:
        fail(str(exc).splitlines()[-1] if str(exc) else "invalid settings")
        raise  # unreachable


@contextmanager
def session_scope(*, migrate_first: bool = True) -> Iterator[Session]:
    from accord import migrate
    from accord.db import engine_from_settings, session_factory, transaction

    s = settings()
    engine = engine_from_settings(s)
    try:
        if migrate_first:
            migrate.upgrade(engine)
        with transaction(session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


def actor_from(session: Session, username: str | None) -> Actor:
    from accord.auth.roles import SYSTEM

    if not username:
        return SYSTEM
    from accord.auth import service as auth

    return auth.actor_for(session, username)


def fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def handle(exc: AccordError) -> int:
    err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    for p in exc.problems[1:10]:
        err.print(f"  - {p.sentence()}", highlight=False, soft_wrap=True)
    if len(exc.problems) > 10:
        err.print(f"  ... and {len(exc.problems) - 10} more", highlight=False)
    return EXIT_CODES.get(exc.status, 1)


def read_file(path: Path, limit: int) -> bytes:
    if not path.exists():
        fail(f"{path}: no such file")
    if path.stat().st_size > limit:
        fail(f"{path}: {path.stat().st_size:,} bytes is over the limit of {limit:,} bytes (ACCORD_MAX_UPLOAD_BYTES)", 6)
    return path.read_bytes()


def parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"'{value}' is not a date (use YYYY-MM-DD)")
        raise


def run(app: typer.Typer) -> None:
    try:
        app()
    except AccordError as exc:
        sys.exit(handle(exc))

"""Checks every resources use case shares: the actor's role, and places and days as a user names them.

Use cases run inside the caller's transaction (the CLI's ``clikit.session_scope``, the API's request session): an
error anywhere rolls the whole call back.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.auth.roles import Actor, Role
from accord.errors import AccordError, Forbidden, Problem
from accord.places.model import Jurisdiction

MAX_HORIZON_DAYS = 120


def require_role(actor: Actor, roles: frozenset[Role], what: str) -> None:
    if not actor.can(roles):
        raise Forbidden(f"{actor.username} may not {what} (role {actor.role or 'public'})")


def place_named(session: Session, code: str, *, field: str = "jurisdiction") -> Jurisdiction:
    j = session.scalar(select(Jurisdiction).where(Jurisdiction.code == code.strip()))
    if j is None:
        raise AccordError("unknown jurisdiction", [Problem(f"no jurisdiction with code '{code}'", field=field)])
    return j


def parse_day(value: date | str | None, default: date, field: str) -> date:
    if value is None or value == "":
        return default
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise AccordError("invalid date", [Problem(f"'{value}' is not a date (YYYY-MM-DD)", field=field)]) from None

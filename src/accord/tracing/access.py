"""Who may touch personal data, and the trail every touch leaves. Each tracing use case runs inside the
caller's transaction.

Scope: personal data (even pseudonymous) is read and written only by tracers, coordinators and admins whose
subtree holds the person's residence; everyone else gets 403. Every read of personal data and every write goes
to the audit log (``accord.auth.service.audit``) with the jurisdiction it concerns, so the data-protection
officer of a jurisdiction can see who touched what in their subtree, when, and why (:func:`audit_log`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.auth import service as auth
from accord.auth.model import AuditEntry, User
from accord.auth.roles import Actor, Role
from accord.errors import Forbidden
from accord.places import service as places
from accord.places.model import JurisdictionClosure

#: roles that may see and change personal data of their subtree
PERSONAL = frozenset({Role.TRACER, Role.COORDINATOR, Role.ADMIN})
#: roles that may read the audit of personal data of their subtree
AUDIT_READERS = frozenset({Role.DPO, Role.ADMIN})


def allow(session: Session, actor: Actor, jid: int, what: str, roles: frozenset[Role] = PERSONAL) -> None:
    if not actor.can(roles):
        raise Forbidden(f"{actor.username} may not {what} (role {actor.role or 'public'})")
    if actor.unrestricted or (actor.scope_id is not None and places.is_within(session, actor.scope_id, jid)):
        return
    # the code is only looked up for the refusal: the common, allowed path costs one indexed query
    auth.require_scope(session, actor, jid, places.code_of(session, jid) or str(jid), what)


def audit(session: Session, actor: Actor, action: str, target: str | None, jid: int | None, **detail: Any) -> None:
    auth.audit(session, actor.user_id, action, target, {"jurisdiction_id": jid, "by": actor.username, **detail})


def audit_log(session: Session, actor: Actor, root_code: str, limit: int = 200, offset: int = 0) -> pd.DataFrame:
    """Audit entries of tracing (reads of personal data and every write) that concern the DPO's subtree."""
    root = places.get(session, root_code)
    allow(session, actor, root.id, "read the audit of personal data", AUDIT_READERS)
    within = set(
        session.scalars(select(JurisdictionClosure.descendant_id).where(JurisdictionClosure.ancestor_id == root.id))
    )
    rows = session.execute(
        select(AuditEntry, User.username)
        .outerjoin(User, User.id == AuditEntry.user_id)
        .where(AuditEntry.action.like("tracing.%"))
        .order_by(AuditEntry.id.desc())
    )
    out = []
    for entry, username in rows:
        detail = entry.detail or {}
        jid = detail.get("jurisdiction_id")
        if jid is not None and jid not in within:
            continue
        if jid is None and not actor.unrestricted:
            continue
        out.append(
            {
                "id": entry.id,
                "at": entry.at,
                "who": username or detail.get("by") or "system",
                "action": entry.action,
                "target": entry.target,
                "why": detail.get("why") or detail.get("reason") or "",
                "detail": {k: v for k, v in detail.items() if k not in ("jurisdiction_id", "by", "why", "reason")},
            }
        )
        if len(out) >= offset + limit:
            break
    audit(session, actor, "tracing.audit.read", root_code, root.id)
    return pd.DataFrame(out[offset:], columns=["id", "at", "who", "action", "target", "why", "detail"])

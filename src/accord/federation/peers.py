"""Links to other instances: parents (this instance reports to them) and children (members reporting here),
their public keys and key rotations, and each member's status (current, stale or silent).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accord.db import utcnow
from accord.errors import AccordError, Conflict, Forbidden, NotFound, Problem
from accord.federation import keys, package
from accord.federation.identity import active_key_row
from accord.federation.model import InboxEntry, Peer, PeerKey
from accord.places import service as places


def accept_rotation(session: Session, statement: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """A child's rotation statement: verified with its current key, the new key is added and the old retired."""
    now = now or utcnow()
    try:
        member, old_id = str(statement["member"]), str(statement["old_key_id"])
        new_public, issued, signature = (
            str(statement["new_public_key"]),
            str(statement["issued_at"]),
            str(statement["signature"]),
        )
    except KeyError as exc:
        raise AccordError("invalid key rotation", [Problem(f"missing field {exc}", field=str(exc))]) from exc
    peer = peer_of(session, member, "child")
    old = session.scalar(select(PeerKey).where(PeerKey.peer_id == peer.id, PeerKey.key_id == old_id))
    if old is None or old.retired_at is not None:
        raise Forbidden(f"key {old_id} is not a current key of '{member}'")
    keys.load_public(new_public, field="new_public_key")
    message = keys.rotation_statement(member, old_id, new_public, issued)
    if not keys.verify(keys.load_public(old.public_key), message, signature):
        raise Forbidden(f"the rotation statement of '{member}' is not signed by its key {old_id}")
    old.retired_at = datetime.fromisoformat(issued)
    new_id = keys.key_id(new_public)
    if session.scalar(select(PeerKey).where(PeerKey.peer_id == peer.id, PeerKey.key_id == new_id)) is None:
        session.add(PeerKey(peer_id=peer.id, key_id=new_id, public_key=new_public, added_at=now))
    session.flush()
    return {"member": member, "retired": old_id, "active": new_id}


def add_peer(
    session: Session,
    code: str,
    role: str,
    *,
    public_key: str | None = None,
    url: str | None = None,
    name: str = "",
    config: dict[str, Any] | None = None,
    vulnerability: float = 0.0,
    level: str = "country",
    now: datetime | None = None,
) -> Peer:
    """Register a parent (this instance reports to it) or a child (it reports to this one).

    A child must be, or becomes, a jurisdiction directly below this instance's own: a hub registering a country
    adds the country under its world root."""
    now = now or utcnow()
    if role not in ("parent", "child"):
        raise AccordError("invalid peer", [Problem("role must be 'parent' or 'child'", field="role")])
    if not 0.0 <= vulnerability <= 1.0:
        raise AccordError("invalid peer", [Problem("vulnerability must be between 0 and 1", field="vulnerability")])
    link = package.LinkConfig.from_dict(config)
    if role == "child":
        _ensure_child_place(session, code, name, level)
    peer = session.scalar(select(Peer).where(Peer.code == code, Peer.role == role))
    if peer is None:
        peer = Peer(code=code, role=role, registered_at=now, last_sequence=0)
        session.add(peer)
    peer.name, peer.url, peer.vulnerability = name or peer.name or code, url or peer.url, vulnerability
    peer.config = link.as_dict() if role == "parent" else None
    session.flush()
    if public_key:
        keys.load_public(public_key)
        kid = keys.key_id(public_key)
        if session.scalar(select(PeerKey).where(PeerKey.peer_id == peer.id, PeerKey.key_id == kid)) is None:
            session.add(PeerKey(peer_id=peer.id, key_id=kid, public_key=public_key, added_at=now))
            session.flush()
    return peer


def _ensure_child_place(session: Session, code: str, name: str, level: str) -> None:
    me = active_key_row(session)
    assert me is not None
    index = places.load_index(session)
    if code in index.by_code:
        node = places.get(session, code)
        parent = places.get(session, me.jurisdiction)
        if node.parent_id != parent.id:
            raise Conflict(f"'{code}' is not directly below '{me.jurisdiction}' in this instance's places")
        return
    frame = pd.DataFrame(
        [{"code": code, "name": name or code, "local_name": "", "level": level, "parent_code": me.jurisdiction}]
    )
    frame["population"] = None
    places.import_places(session, frame)


def peer_of(session: Session, code: str, role: str) -> Peer:
    peer = session.scalar(select(Peer).where(Peer.code == code, Peer.role == role))
    if peer is None:
        raise NotFound(f"no {role} instance '{code}' is registered here")
    return peer


def parent(session: Session, code: str | None = None) -> Peer:
    if code:
        return peer_of(session, code, "parent")
    rows = list(session.scalars(select(Peer).where(Peer.role == "parent")))
    if len(rows) != 1:
        raise NotFound("name the parent instance (none or several are registered)")
    return rows[0]


def peers(session: Session, role: str | None = None) -> list[Peer]:
    q = select(Peer).order_by(Peer.role, Peer.code)
    return list(session.scalars(q.where(Peer.role == role) if role else q))


def peer_keys(session: Session, peer: Peer) -> list[PeerKey]:
    return list(session.scalars(select(PeerKey).where(PeerKey.peer_id == peer.id).order_by(PeerKey.id)))


def member_status(session: Session, now: datetime, silent_after_hours: float) -> pd.DataFrame:
    """Every member: last package, held and refused packages, and whether it is current, stale or silent."""
    members = peers(session, "child")
    counts = session.execute(
        select(InboxEntry.sender, InboxEntry.status, func.count()).group_by(InboxEntry.sender, InboxEntry.status)
    ).all()
    by = {(s, st): n for s, st, n in counts}
    cutoff = now - timedelta(hours=silent_after_hours)
    rows = []
    for m in members:
        if m.last_received_at is None:
            state = "silent"
        elif m.last_received_at < cutoff:
            state = "stale"
        else:
            state = "current"
        rows.append(
            {
                "member": m.code,
                "name": m.name,
                "state": state,
                "last_sequence": m.last_sequence,
                "last_received_at": m.last_received_at.isoformat() if m.last_received_at else "",
                "hours_since": round((now - m.last_received_at).total_seconds() / 3600, 1)
                if m.last_received_at
                else None,
                "applied": by.get((m.code, "applied"), 0),
                "held": by.get((m.code, "held"), 0),
                "refused": by.get((m.code, "refused"), 0),
                "vulnerability": m.vulnerability,
                "keys": len([k for k in peer_keys(session, m) if k.retired_at is None]),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "member",
            "name",
            "state",
            "last_sequence",
            "last_received_at",
            "hours_since",
            "applied",
            "held",
            "refused",
            "vulnerability",
            "keys",
        ],
    )

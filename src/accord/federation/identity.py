"""This instance's identity: the jurisdiction it speaks for and its signing key, created once and rotated
(the rotation statement, signed by the old key, tells parents to trust the new one).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.db import utcnow
from accord.errors import Conflict, NotFound
from accord.federation import keys
from accord.federation.model import InstanceKey
from accord.places import service as places


def init_identity(session: Session, jurisdiction: str, kek: bytes, now: datetime | None = None) -> InstanceKey:
    """Give this instance its signing key and the jurisdiction it speaks for (idempotent for the same one)."""
    node = places.get(session, jurisdiction)
    current = active_key_row(session, required=False)
    if current is not None:
        if current.jurisdiction != node.code:
            raise Conflict(
                f"this instance already speaks for '{current.jurisdiction}'; it cannot also speak for '{node.code}'"
            )
        return current
    return _new_key(session, node.code, kek, now or utcnow())


def _new_key(session: Session, jurisdiction: str, kek: bytes, now: datetime) -> InstanceKey:
    private = keys.generate()
    public = keys.public_text(private)
    row = InstanceKey(
        jurisdiction=jurisdiction,
        key_id=keys.key_id(public),
        public_key=public,
        private_key=keys.encrypt_private(private, kek),
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def active_key_row(session: Session, *, required: bool = True) -> InstanceKey | None:
    row = session.scalar(select(InstanceKey).where(InstanceKey.retired_at.is_(None)).order_by(InstanceKey.id.desc()))
    if row is None and required:
        raise NotFound("this instance has no signing key yet; run 'accord federation init JURISDICTION'")
    return row


def signing_key(session: Session, kek: bytes) -> tuple[InstanceKey, Ed25519PrivateKey]:
    row = active_key_row(session)
    assert row is not None
    return row, keys.decrypt_private(row.private_key, kek)


def identity(session: Session) -> dict[str, Any]:
    row = active_key_row(session)
    assert row is not None
    return {
        "jurisdiction": row.jurisdiction,
        "key_id": row.key_id,
        "public_key": row.public_key,
        "algorithm": keys.ALGORITHM,
        "since": row.created_at.isoformat(),
    }


def rotate_key(session: Session, kek: bytes, now: datetime | None = None) -> dict[str, Any]:
    """Retire the active key for a new one; returns the rotation statement, signed by the old key, that tells
    parents to trust the new key from now on (send it with ``announce_rotation``)."""
    now = now or utcnow()
    old, old_private = signing_key(session, kek)
    old.retired_at = now
    session.flush()
    new = _new_key(session, old.jurisdiction, kek, now)
    issued = now.isoformat()
    statement = keys.rotation_statement(old.jurisdiction, old.key_id, new.public_key, issued)
    return {
        "member": old.jurisdiction,
        "old_key_id": old.key_id,
        "new_public_key": new.public_key,
        "issued_at": issued,
        "signature": keys.sign(old_private, statement),
    }

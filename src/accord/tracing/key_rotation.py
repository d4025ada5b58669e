"""Rotating the personal-data key: every identity re-encrypted and every identifier re-hashed under the new
key, all or nothing.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.auth import service as auth
from accord.errors import AccordError, Conflict, Problem
from accord.surveillance import store
from accord.tracing import crypto
from accord.tracing.model import Identity
from accord.tracing.rawsql import cursor_sql


def rotate_key(session: Session, old: crypto.Keyring, new: crypto.Keyring, batch: int = 5_000) -> int:
    """Re-encrypt every identity under ``new`` and recompute the identifier hashes with its HMAC key, in the
    caller's transaction (all or nothing). Records not under ``old`` are refused. Returns the records moved."""
    if old.key_id == new.key_id:
        raise AccordError("nothing to rotate", [Problem("the old and the new key are the same", field="key")])
    stray = session.scalar(select(Identity.key_id).where(Identity.key_id.notin_([old.key_id, new.key_id])).limit(1))
    if stray is not None:
        raise Conflict(f"some identities are under key {stray}, neither the old ({old.key_id}) nor the new key")
    name = store.dialect(session)
    cur = store.raw_cursor(session)
    rows = store.read_frame(
        session,
        "SELECT i.person_id, p.ref, i.ciphertext FROM tracing_identity i JOIN tracing_person p ON p.id = i.person_id "
        "WHERE i.key_id = :k",
        {"k": old.key_id},
    )
    moved = 0
    for start in range(0, len(rows), batch):
        part = rows.iloc[start : start + batch]
        updates, hashes = [], []
        for pid, ref, blob in part.itertuples(index=False):
            fields = old.decrypt(ref, blob)
            updates.append((new.encrypt(ref, fields), new.key_id, int(pid)))
            hashes += [(int(pid), k, d) for k, d in new.identifier_digests(fields)]
        cur.executemany(
            cursor_sql(name, "UPDATE tracing_identity SET ciphertext = ?, key_id = ? WHERE person_id = ?"), updates
        )
        ids = ",".join(str(int(p)) for p in part["person_id"])
        cur.execute(f"DELETE FROM tracing_identifier WHERE person_id IN ({ids})")
        store.insert_rows(session, "tracing_identifier", ["person_id", "kind", "digest"], hashes)
        moved += len(part)
    auth.audit(session, None, "tracing.key.rotate", new.key_id, {"from": old.key_id, "records": moved})
    session.expire_all()
    return moved

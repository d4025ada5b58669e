"""Packages in: verified (receiver, sender, key, signature, clock, scope), ordered on each member's hash
chain (early ones held until their turn), applied, and every outcome logged in the inbox; who may read it.

Receiving runs its own transactions (``sessions``): a package is applied whole in one transaction, and a
refusal is logged in the inbox in a second one after the first rolled back, so nothing is ever half applied
and every refusal is on record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from accord.auth.roles import APPROVERS, Actor
from accord.db import transaction, utcnow
from accord.errors import AccordError, Forbidden
from accord.federation import access, keys, package
from accord.federation.apply import Checked, apply_package
from accord.federation.identity import active_key_row
from accord.federation.model import InboxEntry, Peer, PeerKey
from accord.federation.peers import peers
from accord.places import service as places


def receive(
    sessions: sessionmaker[Session],
    payload: bytes,
    *,
    max_skew_seconds: float,
    now: datetime | None = None,
    expected_sender: str | None = None,
) -> dict[str, Any]:
    """Verify a package and apply it (or hold it until its predecessors arrive); every outcome is logged
    (repeated refusals of one package, and its replays, as one entry with a count).

    ``expected_sender``: the member that delivered it (the authenticated uploader, or the member pulled from);
    a package signed by another member is refused even if its own signature verifies."""
    now = now or utcnow()
    sender, pid, seq = expected_sender or "?", None, None
    try:
        with transaction(sessions) as session:
            opened = package.open_payload(payload)
            sender, pid, seq = str(opened.manifest["sender"]), opened.id, int(opened.manifest["sequence"])
            if expected_sender is not None and sender != expected_sender:
                sender = expected_sender
                raise package.refusal(
                    package.WRONG_SENDER,
                    f"the package is signed as '{opened.manifest['sender']}' but was delivered by "
                    f"'{expected_sender}': a member delivers only its own packages",
                    field="sender",
                    status=403,
                )
            result = _receive(session, opened, payload, now, max_skew_seconds)
    except AccordError as exc:
        with transaction(sessions) as session:
            _log(session, pid, sender, seq, "refused", exc, now)
        raise
    if result["status"] == "applied":
        result["then_applied"] = _apply_held(sessions, sender, max_skew_seconds, now)
    return result


def _receive(
    session: Session, opened: package.Opened, payload: bytes, now: datetime, max_skew_seconds: float
) -> dict[str, Any]:
    peer, frame, place_frame = _verified(session, opened, now, max_skew_seconds)
    waiting = _out_of_turn(session, opened, peer, payload, now)
    if waiting is not None:
        return waiting
    seq = int(opened.manifest["sequence"])
    summary = apply_package(session, Checked(opened, peer.id, frame, place_frame), peer, now)
    peer.last_sequence, peer.last_package_id, peer.last_received_at = seq, opened.id, now
    entry = _log(session, opened.id, peer.code, seq, "applied", None, now, summary=summary)
    entry.submission_id = int(summary["submission_id"])
    return {"package_id": opened.id, "status": "applied", "sequence": seq, "result": summary}


def _verified(
    session: Session, opened: package.Opened, now: datetime, max_skew_seconds: float
) -> tuple[Peer, pd.DataFrame, pd.DataFrame]:
    """The sending member and the package's rows and places, once the package is addressed here, signed by a
    current key of a registered member, fresh, and about the member's own subtree only."""
    manifest = opened.manifest
    sender = str(manifest["sender"])
    me = active_key_row(session)
    assert me is not None
    if manifest["receiver"] != me.jurisdiction:
        raise package.refusal(
            package.WRONG_RECEIVER,
            f"the package is addressed to '{manifest['receiver']}', not '{me.jurisdiction}'",
            field="receiver",
        )
    peer, key = _sender_key(session, manifest, sender)
    package.verify(opened, keys.load_public(key.public_key))
    package.check_clock(manifest, now, max_skew_seconds)
    if manifest["subtree"] != sender:
        raise package.refusal(
            package.WRONG_SCOPE,
            f"'{sender}' may send data only for its own jurisdiction, not for '{manifest['subtree']}'",
            field="subtree",
            status=403,
        )
    frame, place_frame = package.read_data(opened.data), package.read_places(opened.places)
    if len(frame) != manifest["rows"]:
        raise package.refusal(
            package.MALFORMED,
            f"the manifest says {manifest['rows']} rows, data.parquet holds {len(frame)}",
            field="rows",
        )
    package.check_scope(frame, place_frame, sender)
    return peer, frame, place_frame


def _sender_key(session: Session, manifest: dict[str, Any], sender: str) -> tuple[Peer, PeerKey]:
    """The registered member and the key the package names, which was not retired before the package was cut."""
    peer = session.scalar(select(Peer).where(Peer.code == sender, Peer.role == "child"))
    if peer is None:
        raise package.refusal(
            package.UNKNOWN_SENDER, f"'{sender}' is not a registered member", field="sender", status=403
        )
    key = session.scalar(select(PeerKey).where(PeerKey.peer_id == peer.id, PeerKey.key_id == manifest["key_id"]))
    created = datetime.fromisoformat(str(manifest["created_at"]))
    if key is None:
        raise package.refusal(
            package.UNKNOWN_KEY,
            f"key {manifest['key_id']} is not registered for '{sender}'",
            field="key_id",
            status=403,
        )
    if key.retired_at is not None and created > key.retired_at:
        raise package.refusal(
            package.UNKNOWN_KEY,
            f"key {key.key_id} of '{sender}' was retired on {key.retired_at.isoformat()}, before this package was cut",
            field="key_id",
            status=403,
        )
    return peer, key


def _out_of_turn(
    session: Session, opened: package.Opened, peer: Peer, payload: bytes, now: datetime
) -> dict[str, Any] | None:
    """The answer for a package that is not the next link of the member's hash chain: a replay (logged, nothing
    changes) or an early package (held until its turn); a reused sequence or a broken chain is refused. None
    when the package continues the chain exactly where the last applied one left it."""
    manifest, sender = opened.manifest, peer.code
    if applied_entry(session, opened.id) is not None:
        _log(
            session,
            opened.id,
            sender,
            int(manifest["sequence"]),
            "replay",
            None,
            now,
            message="already applied; nothing changed",
        )
        return {"package_id": opened.id, "status": "replay", "sequence": manifest["sequence"]}
    seq = int(manifest["sequence"])
    if seq <= peer.last_sequence:
        raise package.refusal(
            package.OUT_OF_ORDER,
            f"sequence {seq} of '{sender}' was already used by another "
            f"package (last applied: {peer.last_sequence}); a replayed or forked package",
            field="sequence",
            status=409,
        )
    if seq > peer.last_sequence + 1:
        held = session.scalar(select(InboxEntry).where(InboxEntry.package_id == opened.id, InboxEntry.status == "held"))
        if held is None:
            _log(
                session,
                opened.id,
                sender,
                seq,
                "held",
                None,
                now,
                payload=payload,
                message=f"waiting for sequence {peer.last_sequence + 1} (this is {seq})",
            )
        return {"package_id": opened.id, "status": "held", "sequence": seq, "waiting_for": peer.last_sequence + 1}
    if manifest["previous_id"] != peer.last_package_id:
        raise package.refusal(
            package.OUT_OF_ORDER,
            f"previous_id does not continue the chain of '{sender}' (expected {str(peer.last_package_id)[:12]})",
            field="previous_id",
            status=409,
        )
    return None


def _apply_held(sessions: sessionmaker[Session], sender: str, max_skew_seconds: float, now: datetime) -> list[str]:
    """Held packages whose turn has come, applied in order (each in its own transaction)."""
    applied: list[str] = []
    while True:
        with transaction(sessions) as session:
            peer = session.scalar(select(Peer).where(Peer.code == sender, Peer.role == "child"))
            if peer is None:
                return applied
            entry = session.scalar(
                select(InboxEntry).where(
                    InboxEntry.sender == sender,
                    InboxEntry.status == "held",
                    InboxEntry.sequence == peer.last_sequence + 1,
                )
            )
            if entry is None or entry.payload is None:
                return applied
            payload, entry_id = entry.payload, entry.id
        try:
            result = receive(sessions, payload, max_skew_seconds=max_skew_seconds, now=now)
        except AccordError:
            result = {"status": "refused"}
        with transaction(sessions) as session:
            held = session.get(InboxEntry, entry_id)
            if held is not None:
                held.status, held.payload = ("released" if result["status"] == "applied" else "dropped"), None
        if result["status"] != "applied":
            return applied
        applied.append(str(result["package_id"]))
        applied.extend(result.get("then_applied", []))
        return applied


def applied_entry(session: Session, package_id: str) -> InboxEntry | None:
    return session.scalar(
        select(InboxEntry).where(InboxEntry.package_id == package_id, InboxEntry.status == "applied").limit(1)
    )


def _log(
    session: Session,
    package_id: str | None,
    sender: str,
    sequence: int | None,
    status: str,
    error: AccordError | None,
    now: datetime,
    *,
    message: str = "",
    summary: dict[str, Any] | None = None,
    payload: bytes | None = None,
) -> InboxEntry:
    if status in ("refused", "replay"):  # repeats add to a count, not an entry
        return access.log_refusal(
            session,
            sender,
            error or AccordError(status),
            now,
            keys.FederationSettings().refusal_log_seconds,
            package_id=package_id,
            sequence=sequence,
            status=status,
            message=None if error is not None else message,
        )
    code = error.problems[0].code if error is not None and error.problems else ("rejected" if error else "")
    entry = InboxEntry(
        package_id=package_id,
        sender=sender[:64],
        sequence=sequence,
        status=status,
        code=code,
        message=str(error) if error is not None else message,
        received_at=now,
        summary=summary,
        payload=payload,
    )
    session.add(entry)
    session.flush()
    return entry


def inbox(
    session: Session, sender: str | None = None, limit: int = 200, senders: set[str] | None = None
) -> list[InboxEntry]:
    """Newest first; ``senders`` (when given) limits it to those members' entries (see ``inbox_scope``)."""
    q = select(InboxEntry).order_by(InboxEntry.id.desc()).limit(limit)
    if sender:
        q = q.where(InboxEntry.sender == sender)
    if senders is not None:
        q = q.where(InboxEntry.sender.in_(sorted(senders)))
    return list(session.scalars(q))


def attempts(entry: InboxEntry) -> int:
    """How many times a logged refusal or replay happened (repeats add to one entry, see ``access``)."""
    if entry.status not in ("refused", "replay") or not entry.summary:
        return 1
    value = entry.summary.get("attempts", 1)
    return int(value) if isinstance(value, int | str) else 1


def inbox_scope(session: Session, actor: Actor) -> set[str] | None:
    """Which members' inbox entries ``actor`` may read: all (None) for an admin of the whole tree and for
    coordinators and admins whose scope includes the jurisdiction this instance speaks for; a coordinator
    scoped to a member (or to a node above members but below the root) reads only those members' entries;
    anyone else, nothing (403). Entries of unregistered senders ('?') are read at the root only."""
    if not actor.can(APPROVERS):
        raise Forbidden(f"{actor.username} may not read the federation inbox (coordinators and admins only)")
    if actor.unrestricted:
        return None
    me = active_key_row(session, required=False)
    if actor.scope_id is None or me is None:
        raise Forbidden(f"{actor.username} may not read the federation inbox of this instance")
    index = places.load_index(session)
    root = index.by_code.get(me.jurisdiction)
    if root is not None and places.is_within(session, actor.scope_id, root):
        return None
    members = {
        p.code
        for p in peers(session, "child")
        if p.code in index.by_code and places.is_within(session, actor.scope_id, index.by_code[p.code])
    }
    if not members:
        raise Forbidden(
            f"{actor.username} may not read the federation inbox: it is read at '{me.jurisdiction}' and, for "
            "their own member only, by a member's coordinators"
        )
    return members

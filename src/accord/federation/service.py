"""Use cases of federation: identity and keys, peers, cutting packages, receiving them, member status.

Receiving runs its own transactions (``sessions``): a package is applied whole in one transaction, and a
refusal is logged in the inbox in a second one after the first rolled back, so nothing is ever half applied
and every refusal is on record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pandas as pd
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from accord.auth.roles import APPROVERS, SYSTEM, Actor, Role
from accord.db import db_timestamp, transaction, utcnow
from accord.errors import AccordError, Conflict, Forbidden, NotFound, Problem
from accord.federation import access, keys, package, transport
from accord.federation.model import (
    InboxEntry,
    InstanceKey,
    OutPackage,
    Peer,
    PeerKey,
    PoolBooking,
    Upload,
    UploadChunk,
)
from accord.places import service as places
from accord.surveillance import indicators as ind
from accord.surveillance import service as surveillance
from accord.surveillance import store
from accord.surveillance.model import ReportDay

#: at most this many chunks per upload (the start request lists their hashes)
MAX_CHUNKS = 10_000


# ----------------------------------------------------------------------------------------------- identity
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
    peer = _peer(session, member, "child")
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


# -------------------------------------------------------------------------------------------------- peers
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


def _peer(session: Session, code: str, role: str) -> Peer:
    peer = session.scalar(select(Peer).where(Peer.code == code, Peer.role == role))
    if peer is None:
        raise NotFound(f"no {role} instance '{code}' is registered here")
    return peer


def parent(session: Session, code: str | None = None) -> Peer:
    if code:
        return _peer(session, code, "parent")
    rows = list(session.scalars(select(Peer).where(Peer.role == "parent")))
    if len(rows) != 1:
        raise NotFound("name the parent instance (none or several are registered)")
    return rows[0]


def peers(session: Session, role: str | None = None) -> list[Peer]:
    q = select(Peer).order_by(Peer.role, Peer.code)
    return list(session.scalars(q.where(Peer.role == role) if role else q))


def peer_keys(session: Session, peer: Peer) -> list[PeerKey]:
    return list(session.scalars(select(PeerKey).where(PeerKey.peer_id == peer.id).order_by(PeerKey.id)))


# ------------------------------------------------------------------------------------------------- outbox
def upward_frames(
    session: Session, root: str, start: date, end: date, link: package.LinkConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows and places a link sends: figures at levels 0..depth below ``root`` (effective values: own report
    where there is one, else the children's sum), source reasons carried, small counts withheld."""
    indicators = list(link.indicators or ind.STORED_CODES)
    frame = surveillance.figures_at_level(
        session, root, None, indicators, start, end, view=link.view, max_distance=link.depth
    )
    index = places.load_index(session)
    depth_of = pd.Series(index.depth, index=index.ids)
    root_depth = int(depth_of[index.by_code[root]])
    rel_depth = (depth_of.reindex(frame["jurisdiction_id"]).to_numpy() - root_depth).astype(np.int64)
    frame = frame.assign(reason="")
    frame = package.select_upward(frame, rel_depth, link)
    frame = _source_reasons(session, frame, start, end)
    nodes = [j for j, _ in places.subtree(session, index.by_code[root], max_distance=link.depth)]
    code_of = dict(zip(index.ids.tolist(), index.codes.tolist(), strict=True))
    place_frame = pd.DataFrame(
        {
            "code": [j.code for j in nodes],
            "name": [j.name for j in nodes],
            "local_name": [j.local_name or "" for j in nodes],
            "level": [j.level for j in nodes],
            "parent_code": [code_of.get(j.parent_id, "") if j.code != root else "" for j in nodes],
            "population": [j.population for j in nodes],
        }
    )
    return frame, place_frame


def _source_reasons(session: Session, frame: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """Where a sent figure is the jurisdiction's own corrected report, carry the correction's reason."""
    if frame.empty:
        return frame
    name = store.dialect(session)
    jids = sorted(set(frame["jurisdiction_id"].astype(int)))
    parts = [
        store.read_frame(
            session,
            "SELECT o.jurisdiction_id, i.code AS indicator, o.date, o.disaggregation, o.revision, o.reason "
            "FROM observation o JOIN indicator i ON i.id = o.indicator_id WHERE o.reason IS NOT NULL "
            f"AND o.jurisdiction_id IN ({','.join(map(str, chunk))}) AND o.date BETWEEN :d0 AND :d1",
            {"d0": store.date_param(start, name), "d1": store.date_param(end, name)},
        )
        for chunk in store.in_chunks(jids)
    ]
    found = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if found.empty:
        return frame
    found["date"] = pd.to_datetime(found["date"])
    found["disaggregation"] = found["disaggregation"].astype(str)
    latest = found.sort_values("revision").drop_duplicates(
        ["jurisdiction_id", "indicator", "date", "disaggregation"], keep="last"
    )
    merged = frame.merge(
        latest.drop(columns="revision").rename(columns={"reason": "_src"}),
        on=["jurisdiction_id", "indicator", "date", "disaggregation"],
        how="left",
    )
    merged["reason"] = merged["_src"].fillna("").astype(str)
    return merged.drop(columns="_src")


def cut_package(
    session: Session, kek: bytes, start: date, end: date, *, parent_code: str | None = None, now: datetime | None = None
) -> tuple[OutPackage, bool]:
    """Cut the next package for a parent: returns it and whether it is new (unchanged data reuses the last one)."""
    now = now or utcnow()
    if end < start:
        raise AccordError("invalid period", [Problem(f"{end} is before {start}", field="end")])
    link_peer = parent(session, parent_code)
    link = package.LinkConfig.from_dict(link_peer.config)
    me, private = signing_key(session, kek)
    frame, place_frame = upward_frames(session, me.jurisdiction, start, end, link)
    if frame.empty:
        raise NotFound(
            f"nothing to send to '{link_peer.code}' for {start}..{end}: no {link.view} figures at levels "
            f"0..{link.depth} below '{me.jurisdiction}'"
        )
    rows_hash = hashlib.sha256(package.data_bytes(frame)).hexdigest()
    earlier = list(
        session.scalars(select(OutPackage).where(OutPackage.peer_id == link_peer.id).order_by(OutPackage.sequence))
    )
    indicators = sorted(link.indicators or ind.STORED_CODES)
    last = earlier[-1] if earlier else None
    if last is not None and last.rows_hash == rows_hash and _same_cover(last.manifest, start, end, indicators):
        return last, False
    revises = [p.id for p in earlier if _overlaps(p.manifest, start, end)]
    built = package.build(
        frame,
        place_frame,
        key=private,
        sender=me.jurisdiction,
        receiver=link_peer.code,
        subtree=me.jurisdiction,
        start=start,
        end=end,
        indicators=indicators,
        sequence=(last.sequence + 1) if last else 1,
        previous_id=last.id if last else None,
        revises=revises[-50:],
        created_at=now,
        link=link,
    )
    row = OutPackage(
        id=built.id,
        peer_id=link_peer.id,
        sequence=built.manifest["sequence"],
        previous_id=built.manifest["previous_id"],
        manifest=built.manifest,
        rows_hash=rows_hash,
        payload=built.payload,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row, True


def _same_cover(manifest: dict[str, Any], start: date, end: date, indicators: list[str]) -> bool:
    period = manifest["period"]
    return bool(
        period["start"] == start.isoformat()
        and period["end"] == end.isoformat()
        and manifest["indicators"] == indicators
    )


def _overlaps(manifest: dict[str, Any], start: date, end: date) -> bool:
    period = manifest["period"]
    return date.fromisoformat(period["start"]) <= end and date.fromisoformat(period["end"]) >= start


def undelivered(session: Session, parent_code: str | None = None) -> list[OutPackage]:
    link_peer = parent(session, parent_code)
    return list(
        session.scalars(
            select(OutPackage)
            .where(OutPackage.peer_id == link_peer.id, OutPackage.delivered_at.is_(None))
            .order_by(OutPackage.sequence)
        )
    )


def mark_delivered(session: Session, package_id: str, result: dict[str, Any], now: datetime | None = None) -> None:
    row = session.get(OutPackage, package_id)
    if row is None:
        raise NotFound(f"no package {package_id} in the outbox")
    row.delivered_at, row.result = now or utcnow(), result


def outbox(session: Session, receiver: str, after: int = 0) -> list[dict[str, Any]]:
    link_peer = _peer(session, receiver, "parent")
    rows = session.execute(
        select(OutPackage.id, OutPackage.sequence, OutPackage.manifest, func.length(OutPackage.payload))
        .where(OutPackage.peer_id == link_peer.id, OutPackage.sequence > after)
        .order_by(OutPackage.sequence)
    ).all()
    return [{"id": r[0], "sequence": r[1], "manifest": r[2], "size": int(r[3])} for r in rows]


def outbox_payload(session: Session, package_id: str, receiver: str | None = None) -> bytes:
    """A package's bytes; with ``receiver``, only if the package was cut for that parent (else: not found)."""
    row = session.get(OutPackage, package_id)
    if row is not None and receiver is not None:
        link_peer = session.scalar(select(Peer).where(Peer.code == receiver, Peer.role == "parent"))
        row = row if link_peer is not None and row.peer_id == link_peer.id else None
    if row is None:
        raise NotFound(f"no package {package_id} in the outbox" + (f" for '{receiver}'" if receiver else ""))
    return row.payload


# -------------------------------------------------------------------------------------------------- upload
@dataclass(frozen=True)
class UploadLimits:
    """How much a receiver takes: one package, one chunk, one member's unfinished uploads in all, and how long
    an untouched upload is kept."""

    max_package_bytes: int
    max_chunk_bytes: int
    max_open_bytes: int
    expiry_hours: float

    @classmethod
    def from_settings(cls, max_package_bytes: int, settings: keys.FederationSettings) -> UploadLimits:
        return cls(
            max_package_bytes, settings.max_chunk_bytes, settings.max_open_upload_bytes, settings.upload_expiry_hours
        )


def start_upload(
    sessions: sessionmaker[Session],
    *,
    package_id: str,
    sender: str,
    size: int,
    chunk_bytes: int,
    chunk_hashes: list[str],
    limits: UploadLimits,
    log_seconds: float = 3600.0,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Open (or resume) a content-addressed upload of ``sender`` (the authenticated member); says which chunks
    the receiver already holds. Abandoned uploads are dropped first (see ``expire_uploads``)."""
    now = now or utcnow()
    problems = _upload_problems(size, chunk_bytes, chunk_hashes, limits)
    if size > limits.max_package_bytes:
        raise AccordError("the package is too large", problems, status=413, kind="too-large")
    if problems:
        raise AccordError("the upload was not started", problems)
    with transaction(sessions) as session:
        expire_uploads(session, now, limits.expiry_hours)
        if session.scalar(select(Peer.id).where(Peer.code == sender, Peer.role == "child")) is None:
            raise Forbidden(f"'{sender}' is not a registered member")
        applied = _applied_entry(session, package_id)
        if applied is not None and applied.sender == sender:
            replay = AccordError("replay")
            access.log_refusal(
                session,
                sender,
                replay,
                now,
                log_seconds,
                package_id=package_id,
                sequence=applied.sequence,
                status="replay",
                message="already applied; nothing changed",
            )
            return {"package_id": package_id, "status": "applied", "have": [], "result": applied.summary}
        upload = _own_upload(session, package_id, sender, required=False)
        if upload is not None and (upload.chunk_hashes != chunk_hashes or upload.chunk_bytes != chunk_bytes):
            _drop_uploads(session, [package_id])  # the member's own upload, started again differently
            upload = None
        if upload is None:
            _make_room(session, sender, size, limits.max_open_bytes)
            session.add(
                Upload(
                    package_id=package_id,
                    sender=sender,
                    size=size,
                    chunk_bytes=chunk_bytes,
                    chunk_hashes=chunk_hashes,
                    started_at=now,
                    touched_at=now,
                )
            )
            have: list[int] = []
        else:
            upload.touched_at = now
            have = sorted(session.scalars(select(UploadChunk.idx).where(UploadChunk.package_id == package_id)))
    return {"package_id": package_id, "status": "open", "have": have}


def _upload_problems(size: int, chunk_bytes: int, chunk_hashes: list[str], limits: UploadLimits) -> list[Problem]:
    problems = []
    if not (0 < chunk_bytes <= limits.max_chunk_bytes):
        problems.append(Problem(f"chunk_bytes must be between 1 and {limits.max_chunk_bytes:,}", field="chunk_bytes"))
    if size <= 0 or size > limits.max_package_bytes:
        problems.append(Problem(f"size must be between 1 and {limits.max_package_bytes:,} bytes", field="size"))
    if len(chunk_hashes) > MAX_CHUNKS:
        problems.append(Problem(f"at most {MAX_CHUNKS:,} chunks: send larger ones", field="chunk_hashes"))
    elif len(chunk_hashes) != max(1, -(-size // max(chunk_bytes, 1))):
        problems.append(Problem("chunk_hashes does not match size / chunk_bytes", field="chunk_hashes"))
    return problems


def _own_upload(session: Session, package_id: str, sender: str, *, required: bool = True) -> Upload | None:
    """The upload of ``package_id`` if ``sender`` started it; another member's is not to be touched."""
    upload = session.get(Upload, package_id)
    if upload is None:
        if required:
            raise NotFound(f"no upload of package {package_id[:12]} is open; start it first")
        return None
    if upload.sender != sender:
        raise Forbidden(f"package {package_id[:12]} is being uploaded by another member; '{sender}' may not touch it")
    return upload


def _make_room(session: Session, sender: str, size: int, max_open_bytes: int) -> None:
    """A member's unfinished uploads hold at most ``max_open_bytes`` (declared sizes): its least recently
    touched ones give way to a new one (only its own: another member's are never touched)."""
    rows = list(
        session.scalars(
            select(Upload).where(Upload.sender == sender).order_by(func.coalesce(Upload.touched_at, Upload.started_at))
        )
    )
    held = sum(u.size for u in rows)
    dropped = []
    for u in rows:
        if held + size <= max_open_bytes:
            break
        dropped.append(u.package_id)
        held -= u.size
    _drop_uploads(session, dropped)


def _drop_uploads(session: Session, package_ids: list[str]) -> int:
    if not package_ids:
        return 0
    result = session.execute(delete(UploadChunk).where(UploadChunk.package_id.in_(package_ids)))
    session.execute(delete(Upload).where(Upload.package_id.in_(package_ids)))
    session.flush()
    return int(getattr(result, "rowcount", 0) or 0)


def expire_uploads(session: Session, now: datetime, expiry_hours: float) -> dict[str, int]:
    """Drop uploads that received nothing for ``expiry_hours`` (with their chunks), and the nonces of signed
    requests that would now be refused as stale anyway. Run by ``accord federation expire`` and at every
    upload start, so a receiver's store does not grow with abandoned uploads."""
    cutoff = now - timedelta(hours=expiry_hours)
    stale = list(
        session.scalars(select(Upload.package_id).where(func.coalesce(Upload.touched_at, Upload.started_at) < cutoff))
    )
    chunks = _drop_uploads(session, stale)
    return {"uploads": len(stale), "chunks": chunks, "nonces": access.forget_nonces(session, now)}


@dataclass(frozen=True)
class ChunkSlot:
    """What chunk ``idx`` of an open upload must be: its exact length and SHA-256."""

    length: int
    sha256: str


def chunk_slot(sessions: sessionmaker[Session], package_id: str, idx: int, sender: str) -> ChunkSlot:
    """Before any byte of a chunk is read: the upload is open, the member's own, and ``idx`` in range."""
    with transaction(sessions) as session:
        upload = _own_upload(session, package_id, sender)
        assert upload is not None
        if not 0 <= idx < len(upload.chunk_hashes):
            raise AccordError("invalid chunk", [Problem(f"chunk {idx} is out of range", field="idx")])
        length = min(upload.chunk_bytes, upload.size - idx * upload.chunk_bytes)
        return ChunkSlot(max(length, 0), upload.chunk_hashes[idx])


def put_chunk(
    sessions: sessionmaker[Session], package_id: str, idx: int, data: bytes, sender: str, now: datetime | None = None
) -> dict[str, Any]:
    """Store one chunk (read within its limit by the caller), committed before the answer goes out (the sender
    may commit the package right after)."""
    with transaction(sessions) as session:
        return _put_chunk(session, package_id, idx, data, sender, now or utcnow())


def _put_chunk(session: Session, package_id: str, idx: int, data: bytes, sender: str, now: datetime) -> dict[str, Any]:
    upload = _own_upload(session, package_id, sender)
    assert upload is not None
    if not 0 <= idx < len(upload.chunk_hashes):
        raise AccordError("invalid chunk", [Problem(f"chunk {idx} is out of range", field="idx")])
    if hashlib.sha256(data).hexdigest() != upload.chunk_hashes[idx]:
        raise AccordError(
            "invalid chunk", [Problem(f"chunk {idx} does not match its SHA-256 (cut short?)", field="body")]
        )
    if session.get(UploadChunk, (package_id, idx)) is None:
        session.add(UploadChunk(package_id=package_id, idx=idx, data=data))
    upload.touched_at = now
    return {"package_id": package_id, "idx": idx, "stored": len(data)}


def commit_upload(
    sessions: sessionmaker[Session],
    package_id: str,
    *,
    sender: str,
    max_skew_seconds: float,
    now: datetime | None = None,
) -> dict[str, Any]:
    """All chunks of the member's upload there: assemble, verify and apply the package (see ``receive``, which
    also refuses a package whose sender is not the uploading member); the upload is then dropped."""
    with transaction(sessions) as session:
        applied = _applied_entry(session, package_id)
        if applied is not None and applied.sender == sender:
            return {"package_id": package_id, "status": "replay", "result": applied.summary}
        upload = _own_upload(session, package_id, sender)
        assert upload is not None
        chunks = dict(
            session.execute(select(UploadChunk.idx, UploadChunk.data).where(UploadChunk.package_id == package_id)).all()
        )
        missing = [i for i in range(len(upload.chunk_hashes)) if i not in chunks]
        if missing:
            raise Conflict(
                f"package {package_id[:12]} is incomplete: {len(missing)} chunk(s) missing (first {missing[0]})"
            )
        payload = b"".join(chunks[i] for i in range(len(upload.chunk_hashes)))
    try:
        result = receive(sessions, payload, max_skew_seconds=max_skew_seconds, now=now, expected_sender=sender)
    finally:
        with transaction(sessions) as session:
            _drop_uploads(session, [package_id])
    return result


# ------------------------------------------------------------------------------------------------- receive
@dataclass
class _Checked:
    opened: package.Opened
    peer_id: int
    frame: pd.DataFrame
    places: pd.DataFrame


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
    # ordering: the hash chain must continue exactly where the last applied package left it
    if _applied_entry(session, opened.id) is not None:
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
    summary = _apply(session, _Checked(opened, peer.id, frame, place_frame), peer, now)
    peer.last_sequence, peer.last_package_id, peer.last_received_at = seq, opened.id, now
    entry = _log(session, opened.id, sender, seq, "applied", None, now, summary=summary)
    entry.submission_id = int(summary["submission_id"])
    return {"package_id": opened.id, "status": "applied", "sequence": seq, "result": summary}


def _apply(session: Session, checked: _Checked, peer: Peer, now: datetime) -> dict[str, Any]:
    manifest = checked.opened.manifest
    created = _create_member_places(session, checked.places, peer.code)
    frame = checked.frame.copy()
    if manifest["revises"]:
        frame["reason"] = frame["reason"].where(
            frame["reason"] != "", f"revision from {peer.code} (package {manifest['sequence']})"
        )
    member = places.get(session, peer.code)
    actor = Actor(None, f"federation:{peer.code}", Role.REPORTER, member.id)
    public = manifest["link"].get("view", "public") == "public" and len(frame) > 0
    # the member published these figures: their days are approved here before they are stored, so the one
    # roll-up of the submission also rolls up the public figures (a second pass would double the apply time)
    publish_after = public and _preapprove(session, frame, now)
    try:
        result = surveillance.submit(
            session,
            frame,
            actor=actor,
            source=f"federation:{peer.code}:{manifest['sequence']}",
            idempotency_key=f"federation:{checked.opened.id}",
            file=f"package {manifest['sequence']} of {peer.code}",
            now=now,
        )
    except Forbidden as exc:
        raise package.refusal(package.WRONG_SCOPE, str(exc), field="jurisdiction", status=403) from exc
    except AccordError as exc:
        problems = [Problem(p.message, p.file, p.line, p.field, package.REJECTED) for p in exc.problems] or [
            Problem(exc.title, code=package.REJECTED)
        ]
        raise AccordError(f"package refused (rejected by validation): {exc.title}", problems, total=exc.total) from exc
    if publish_after:
        _publish(session, frame, now)
    return {**result.as_dict(), "jurisdictions_created": created, "warnings": result.warnings[:20]}


def _create_member_places(session: Session, place_frame: pd.DataFrame, member: str) -> int:
    """Places of the member's subtree the hub does not know yet (the root is the member node itself)."""
    index = places.load_index(session)
    new = place_frame[(place_frame["code"] != member) & ~place_frame["code"].isin(list(index.by_code))]
    if new.empty:
        return 0
    new = new.assign(population=pd.to_numeric(new["population"]).astype(object).where(new["population"].notna(), None))
    return places.import_places(session, new.reset_index(drop=True), file="package places").created


def _preapprove(session: Session, frame: pd.DataFrame, now: datetime) -> bool:
    """Create the package's reporting days as approved. Returns True when some of them already existed
    unapproved (their earlier values must then be published after the submission, see ``_publish``)."""
    index = places.load_index(session)
    days = frame[["jurisdiction", "date"]].drop_duplicates()
    jids = days["jurisdiction"].map(index.by_code)
    if jids.isna().any():  # an unknown place: the submission names it in its refusal
        return False
    name = store.dialect(session)
    dates = pd.to_datetime(days["date"])
    d0, d1 = store.date_param(dates.min().date(), name), store.date_param(dates.max().date(), name)
    for chunk in store.in_chunks(sorted(set(jids.astype(int)))):
        waiting = store.read_frame(
            session,
            f"SELECT COUNT(*) AS n FROM report_day WHERE status <> 'approved' AND jurisdiction_id IN "
            f"({','.join(map(str, chunk))}) AND date BETWEEN :d0 AND :d1",
            {"d0": d0, "d1": d1},
        )
        if waiting["n"].astype(int).sum() > 0:
            return True
    ts = db_timestamp(now, name)
    n = len(days)
    rows = list(
        zip(
            store.py(jids.to_numpy(dtype=np.int64)),
            store.to_db_dates(dates, name),
            ["approved"] * n,
            [ts] * n,
            [ts] * n,
            [ts] * n,
            [True] * n,
            strict=True,
        )
    )
    store.upsert_rows(
        session,
        "report_day",
        ["jurisdiction_id", "date"],
        [
            "jurisdiction_id",
            "date",
            "status",
            "first_submitted_at",
            "last_submitted_at",
            "approved_at",
            "auto_published",
        ],
        rows,
        update=["status"],
    )
    return False


def _publish(session: Session, frame: pd.DataFrame, now: datetime) -> None:
    """The member published these figures: they are public at the hub too (approved days, rolled up)."""
    index = places.load_index(session)
    jids = sorted({index.by_code[c] for c in frame["jurisdiction"].unique()})
    days = pd.to_datetime(frame["date"])
    for chunk in store.in_chunks(jids):
        session.execute(
            update(ReportDay)
            .where(
                ReportDay.status != "approved",
                ReportDay.jurisdiction_id.in_(chunk),
                ReportDay.date >= days.min().date(),
                ReportDay.date <= days.max().date(),
            )
            .values(status="approved", approved_at=now, auto_published=True)
        )
    surveillance.publish_days(session, approved_at=now)


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


def _applied_entry(session: Session, package_id: str) -> InboxEntry | None:
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


# ------------------------------------------------------------------------------------------- member status
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


# --------------------------------------------------------------------------------------------- push, pull
def request_signer(session: Session, kek: bytes, receiver: str) -> transport.Signer:
    """Signs this instance's transport requests to the instance of ``receiver`` with the active key."""
    me, private = signing_key(session, kek)
    return transport.Signer(me.jurisdiction, receiver, me.key_id, private)


def _kek_from_settings() -> bytes:
    from accord.settings import get_settings

    return keys.FederationSettings().kek_bytes(str(get_settings().environment))


def push_pending(
    sessions: sessionmaker[Session],
    client: httpx.Client,
    *,
    parent_code: str | None = None,
    chunk_bytes: int = 4 * 1024 * 1024,
    retrying: transport.Retrying | None = None,
    progress: Callable[[int, int], None] | None = None,
    kek: bytes | None = None,
) -> list[dict[str, Any]]:
    """Deliver every undelivered package to the parent, in sequence order; stops at the first refusal. Every
    request is signed with this instance's key (``kek`` decrypts it; default: ACCORD_FEDERATION_KEK)."""
    with transaction(sessions) as session:
        link_peer = parent(session, parent_code)
        if not link_peer.url:
            raise AccordError(f"parent '{link_peer.code}' has no URL; register it with --url")
        url = link_peer.url
        pending = [(p.id, p.manifest) for p in undelivered(session, link_peer.code)]
        signer = request_signer(session, kek or _kek_from_settings(), link_peer.code) if pending else None
    results = []
    for pid, manifest in pending:
        with transaction(sessions) as session:
            payload = outbox_payload(session, pid)
        result = transport.push(
            client, url, manifest, payload, chunk_bytes=chunk_bytes, retrying=retrying, progress=progress, auth=signer
        )
        with transaction(sessions) as session:
            mark_delivered(session, pid, {k: v for k, v in result.items() if k != "result"})
        results.append(result)
    return results


def pull_member(
    sessions: sessionmaker[Session],
    client: httpx.Client,
    member: str,
    *,
    max_skew_seconds: float,
    retrying: transport.Retrying | None = None,
    kek: bytes | None = None,
) -> list[dict[str, Any]]:
    """Fetch a member's new packages from its outbox and receive them like pushed ones. The member serves its
    outbox only to its parent: every request is signed with this instance's key (``kek`` decrypts it)."""
    with transaction(sessions) as session:
        peer = _peer(session, member, "child")
        if not peer.url:
            raise AccordError(f"member '{member}' has no URL to pull from; register it with --url")
        url, after = peer.url, peer.last_sequence
        signer = request_signer(session, kek or _kek_from_settings(), member)
        receiver = signer.sender
    listed = transport.list_outbox(client, url, receiver, after, retrying, auth=signer)
    results = []
    for item in listed:
        payload = transport.fetch(client, url, str(item["id"]), int(item["size"]), retrying=retrying, auth=signer)
        results.append(receive(sessions, payload, max_skew_seconds=max_skew_seconds, expected_sender=member))
    return results


def announce_rotation(sessions: sessionmaker[Session], client: httpx.Client, statement: dict[str, Any]) -> list[str]:
    """Send a rotation statement to every parent with a URL; returns the parents that accepted it."""
    with transaction(sessions) as session:
        targets = [(p.code, p.url) for p in peers(session, "parent") if p.url]
    done = []
    for code, url in targets:
        transport.post_json(client, str(url).rstrip("/") + transport.API + "/keys/rotate", statement, "key rotation")
        done.append(code)
    return done


def send_signed(
    sessions: sessionmaker[Session],
    client: httpx.Client,
    kek: bytes,
    path: str,
    body: dict[str, Any],
    *,
    parent_code: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """POST ``body`` to the parent's federation API in an envelope signed with this instance's key."""
    from accord.federation import hub

    with transaction(sessions) as session:
        link_peer = parent(session, parent_code)
        if not link_peer.url:
            raise AccordError(f"parent '{link_peer.code}' has no URL; register it with --url")
        me, private = signing_key(session, kek)
        url = link_peer.url.rstrip("/") + transport.API + path
        envelope = hub.seal(body, me.jurisdiction, private, now)
    return transport.post_json(client, url, envelope, f"sending to {link_peer.code}")


# ------------------------------------------------------------------------------------ pool -> ledgers
def book_shipment(session: Session, shipment: dict[str, Any], me: str, hub_code: str, now: datetime) -> int | None:
    """Book one accepted pool shipment into this member's resource ledger; returns the ledger transaction id
    (None when it was booked before). Receiving: a donation (or, when sold, a receipt) into ``stock:ME`` on the
    arrival day; sending: units leave ``stock:ME`` on the departure day (booked as consumed here: they left)."""
    from accord.resources import movements
    from accord.resources.ledger import AccountKind

    if session.get(PoolBooking, (hub_code, int(shipment["id"]))) is not None:
        return None
    memo = f"international pool shipment {shipment['id']} ({shipment['origin']} -> {shipment['destination']})"
    common = {
        "resource": str(shipment["resource"]),
        "quantity": float(shipment["quantity"]),
        "unit": None,
        "memo": memo,
    }
    if shipment["destination"] == me:
        side = "destination"
        source_kind = AccountKind.DONATED if not shipment.get("price") else AccountKind.SUPPLY
        txn = movements.post_movement(
            session,
            SYSTEM,
            "donation" if source_kind is AccountKind.DONATED else "receipt",
            source=movements.Side(source_kind, me),
            target=movements.Side(AccountKind.STOCK, me),
            day=str(shipment["arrive_day"]),
            **common,  # type: ignore[arg-type]
        )
    elif shipment["origin"] == me:
        side = "origin"
        txn = movements.post_movement(
            session,
            SYSTEM,
            "consume",
            source=movements.Side(AccountKind.STOCK, me),
            target=movements.Side(AccountKind.CONSUMED, me),
            day=str(shipment["depart_day"]),
            **common,  # type: ignore[arg-type]
        )
    else:
        raise Forbidden(f"shipment {shipment['id']} is neither from nor to '{me}'")
    session.add(
        PoolBooking(hub=hub_code, shipment_id=int(shipment["id"]), side=side, transaction_id=txn.id, booked_at=now)
    )
    session.flush()
    return int(txn.id)


def book_accepted(
    sessions: sessionmaker[Session],
    client: httpx.Client,
    *,
    parent_code: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Fetch this member's accepted pool shipments from the hub and book each once (each in its own
    transaction: one that cannot be booked, e.g. for lack of stock, is reported and the others go on)."""
    now = now or utcnow()
    with transaction(sessions) as session:
        link_peer = parent(session, parent_code)
        me = active_key_row(session)
        assert me is not None
        url, hub_code, code = str(link_peer.url or "").rstrip("/"), link_peer.code, me.jurisdiction
    if not url:
        raise AccordError(f"parent '{hub_code}' has no URL; register it with --url")
    found = transport.get_json(
        client,
        url + transport.API + "/pool/shipments",
        "reading the pool's shipments",
        params={"member": code, "status": "accepted"},
    )
    booked, failed = [], []
    for shipment in found["data"]:
        try:
            with transaction(sessions) as session:
                txn = book_shipment(session, shipment, code, hub_code, now)
            if txn is not None:
                booked.append({"shipment": shipment["id"], "transaction": txn})
        except AccordError as exc:
            failed.append({"shipment": shipment["id"], "error": str(exc)})
    return {"booked": booked, "failed": failed}

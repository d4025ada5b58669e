"""Content-addressed uploads of packages from members: started (or resumed), filled chunk by chunk, then
committed (assembled and received whole); a member's unfinished uploads are bounded and abandoned ones expire.
Each step runs its own transaction (``sessions``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from accord.db import transaction, utcnow
from accord.errors import AccordError, Conflict, Forbidden, NotFound, Problem
from accord.federation import access, keys
from accord.federation.inbox import applied_entry, receive
from accord.federation.model import Peer, Upload, UploadChunk

#: at most this many chunks per upload (the start request lists their hashes)
MAX_CHUNKS = 10_000


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
        applied = applied_entry(session, package_id)
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
        have = _open_upload(session, package_id, sender, size, chunk_bytes, chunk_hashes, limits, now)
    return {"package_id": package_id, "status": "open", "have": have}


def _open_upload(
    session: Session,
    package_id: str,
    sender: str,
    size: int,
    chunk_bytes: int,
    chunk_hashes: list[str],
    limits: UploadLimits,
    now: datetime,
) -> list[int]:
    """Resume the member's upload of the package (the chunks already held), or start it afresh (none): an upload
    started again with other chunks replaces the old one, and a new one makes room among the member's own."""
    upload = _own_upload(session, package_id, sender, required=False)
    if upload is not None and (upload.chunk_hashes != chunk_hashes or upload.chunk_bytes != chunk_bytes):
        _drop_uploads(session, [package_id])  # the member's own upload, started again differently
        upload = None
    if upload is not None:
        upload.touched_at = now
        return sorted(session.scalars(select(UploadChunk.idx).where(UploadChunk.package_id == package_id)))
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
    return []


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
        applied = applied_entry(session, package_id)
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

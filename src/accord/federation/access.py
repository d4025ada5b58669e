"""Who may use the federation transport, and the rate-limited record of those refused.

Every transport request (upload start, chunk, commit; outbox list and download) is signed by the instance that
sends it (``accord.federation.httpsig``) and verified here against the key registered for that instance: a
member (``child``) for uploads, the parent for the outbox. A request is accepted once: its nonce is stored until
its signature time leaves the window. Refusals are logged in the inbox, but one entry per sender, kind and
``refusal_log_seconds`` (with a count), so a flood of bad requests cannot flood the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from accord.db import transaction, utcnow
from accord.errors import AccordError
from accord.federation import httpsig, keys
from accord.federation.model import InboxEntry, InstanceKey, Peer, PeerKey, RequestNonce

#: the sender recorded for a refusal whose claimed sender is not registered here (claims cost nothing to vary)
UNREGISTERED = "?"
ROLE_NAMES = {"child": "member", "parent": "parent"}


@dataclass(frozen=True)
class Caller:
    """An authenticated instance: the jurisdiction it speaks for and its role here (child or parent)."""

    code: str
    role: str
    claim: httpsig.Claim


@dataclass(frozen=True)
class Policy:
    window_seconds: float
    log_seconds: float

    @classmethod
    def from_settings(cls, settings: keys.FederationSettings) -> Policy:
        return cls(settings.request_window_seconds, settings.refusal_log_seconds)


def authenticate(
    sessions: sessionmaker[Session],
    role: str,
    *,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    policy: Policy,
    now: datetime | None = None,
) -> Caller:
    """Verify a signed request as coming from a registered ``role`` peer; 401 (logged, rate-limited) if not."""
    now = now or utcnow()
    claimed = headers.get(httpsig.FROM, "")
    try:
        claim = httpsig.read_claim(headers)
        with transaction(sessions) as session:
            _verify(session, claim, role, method, path, query, policy, now)
    except AccordError as exc:
        if exc.status == 401:
            with transaction(sessions) as session:
                log_refusal(session, _label(session, claimed, role), exc, now, policy.log_seconds)
        raise
    return Caller(claim.sender, role, claim)


def body_verified(sessions: sessionmaker[Session], caller: Caller, sha256: bytes, policy: Policy) -> None:
    """The body that arrived is the one that was signed (its Content-Digest); 401 (logged) if not."""
    if httpsig.digest_matches(caller.claim, sha256):
        return
    exc = httpsig.refusal(httpsig.DIGEST_MISMATCH, "the body does not match the signed Content-Digest")
    with transaction(sessions) as session:
        log_refusal(session, caller.code, exc, utcnow(), policy.log_seconds)
    raise exc


def _verify(
    session: Session,
    claim: httpsig.Claim,
    role: str,
    method: str,
    path: str,
    query: str,
    policy: Policy,
    now: datetime,
) -> None:
    httpsig.check_fresh(claim, now.timestamp(), policy.window_seconds)
    me = session.scalar(select(InstanceKey).where(InstanceKey.retired_at.is_(None)).order_by(InstanceKey.id.desc()))
    if me is None or claim.receiver != me.jurisdiction:
        here = me.jurisdiction if me else "no jurisdiction yet"
        raise httpsig.refusal(
            httpsig.WRONG_RECEIVER, f"the request is addressed to '{claim.receiver}', this instance is {here}"
        )
    peer = session.scalar(select(Peer).where(Peer.code == claim.sender, Peer.role == role))
    if peer is None:
        raise httpsig.refusal(
            httpsig.UNKNOWN_SENDER, f"'{claim.sender}' is not a registered {ROLE_NAMES[role]} of this instance"
        )
    key = session.scalar(
        select(PeerKey).where(PeerKey.peer_id == peer.id, PeerKey.key_id == claim.key_id, PeerKey.retired_at.is_(None))
    )
    if key is None:
        raise httpsig.refusal(httpsig.UNKNOWN_KEY, f"key {claim.key_id} is not a current key of '{claim.sender}'")
    if not httpsig.verify(keys.load_public(key.public_key), claim, method, path, query):
        raise httpsig.refusal(
            httpsig.BAD_REQUEST_SIGNATURE,
            f"the signature does not verify with key {claim.key_id} of '{claim.sender}' ({method} {path})",
        )
    # the nonce last: only a request that verified may use one up
    expires = datetime.fromtimestamp(claim.created, now.tzinfo) + timedelta(seconds=policy.window_seconds)
    try:  # the primary key decides, also between concurrent requests (the caller's transaction rolls back)
        session.add(RequestNonce(sender=claim.sender, nonce=claim.nonce, expires_at=expires))
        session.flush()
    except IntegrityError as exc:
        raise httpsig.refusal(
            httpsig.REPLAYED_REQUEST, f"nonce {claim.nonce} of '{claim.sender}' was used before: a replayed request"
        ) from exc
    forget_nonces(session, now)  # the store holds one window of requests, whoever cleans up otherwise


def _label(session: Session, claimed: str, role: str) -> str:
    known = session.scalar(select(Peer.id).where(Peer.code == claimed[:64], Peer.role == role))
    return claimed[:64] if known is not None else UNREGISTERED


def log_refusal(
    session: Session,
    sender: str,
    error: AccordError,
    now: datetime,
    log_seconds: float,
    *,
    package_id: str | None = None,
    sequence: int | None = None,
    status: str = "refused",
    message: str | None = None,
) -> InboxEntry:
    """Record a refusal (or a replay) in the inbox: the same sender, package, status and code within
    ``log_seconds`` of the entry's first attempt add to its count instead of adding an entry."""
    code = error.problems[0].code if error.problems else ("rejected" if status == "refused" else "")
    text = message if message is not None else str(error)
    since = now - timedelta(seconds=log_seconds)
    entry = session.scalar(
        select(InboxEntry)
        .where(
            InboxEntry.sender == sender[:64],
            InboxEntry.status == status,
            InboxEntry.code == code,
            InboxEntry.package_id.is_(None) if package_id is None else InboxEntry.package_id == package_id,
            InboxEntry.received_at >= since,
        )
        .order_by(InboxEntry.id.desc())
        .limit(1)
    )
    if entry is None:
        entry = InboxEntry(
            package_id=package_id,
            sender=sender[:64],
            sequence=sequence,
            status=status,
            code=code,
            message=text,
            received_at=now,
            summary=_attempts(None, now),
        )
        session.add(entry)
    else:
        entry.message, entry.summary = text, _attempts(entry.summary, now)
    session.flush()
    return entry


def _attempts(summary: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    """A new dict (so the JSON column sees the change): one more attempt, and when the last was."""
    n = int((summary or {}).get("attempts", 0)) + 1
    return {**(summary or {}), "attempts": n, "last_at": now.isoformat()}


def forget_nonces(session: Session, now: datetime) -> int:
    """Nonces whose requests would now be refused as stale anyway."""
    result = session.execute(delete(RequestNonce).where(RequestNonce.expires_at < now))
    return int(getattr(result, "rowcount", 0) or 0)

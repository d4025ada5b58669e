"""Talking to other instances over HTTP with this instance's key: packages pushed to the parent, pulled
from a member, key rotations announced, signed envelopes sent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from accord.db import transaction
from accord.errors import AccordError
from accord.federation import keys, transport
from accord.federation.identity import signing_key
from accord.federation.inbox import receive
from accord.federation.outbox import mark_delivered, outbox_payload, undelivered
from accord.federation.peers import parent, peer_of, peers


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
        peer = peer_of(session, member, "child")
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

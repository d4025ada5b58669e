"""The federation transport under attack: signed requests only, the outbox for its own parent only, bounded
streaming chunks, a member's uploads its own, abandoned uploads expiring, a rate-limited refusal log and an
inbox read only by those entitled (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from accord.app import create_app
from accord.auth import service as auth
from accord.db import transaction, utcnow
from accord.errors import AccordError
from accord.federation import httpsig, keys, outbox, package, peers, transport, uploads
from accord.federation.model import InboxEntry, Upload, UploadChunk
from accord.settings import Settings
from tests.conftest import create_pg_database, drop_pg_database

from .helpers import KEK, WORLD, country_tree, link, new_store, report, signer

P = "/api/v1/federation"
DAY = date(2026, 3, 1)
ROWS = [("AA-01-01", "2026-03-01", "new_confirmed", 5), ("AA-02-01", "2026-03-01", "new_confirmed", 2)]


@dataclass
class Fed:
    hub: sessionmaker[Session]
    aa: sessionmaker[Session]
    bb: sessionmaker[Session]
    hub_app: FastAPI
    hub_client: TestClient
    aa_client: TestClient
    urls: dict[str, str]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fed(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Fed]:
    """A hub with members AA and BB (each its own store); the hub's and AA's APIs through the ASGI client."""
    created = []

    def url(name: str) -> str:
        if request.param == "sqlite":
            return f"sqlite:///{tmp_path / f'{name}.db'}"
        db, u = create_pg_database(request.getfixturevalue("pg_admin"), migrated=True)
        created.append(db)
        return u

    urls = {name: url(name) for name in ("hub", "aa", "bb")}
    hub, aa, bb = (
        new_store(urls["hub"], WORLD),
        new_store(urls["aa"], country_tree("AA")),
        new_store(urls["bb"], country_tree("BB")),
    )
    link(hub, aa, "AA", "http://testserver")
    link(hub, bb, "BB", "http://testserver")
    hub_app = create_app(Settings(database_url=urls["hub"]))
    aa_app = create_app(Settings(database_url=urls["aa"]))
    with TestClient(hub_app) as hub_client, TestClient(aa_app) as aa_client:
        yield Fed(hub, aa, bb, hub_app, hub_client, aa_client, urls)
    for factory in (hub, aa, bb):
        factory.kw["bind"].dispose()
    for db in created:
        drop_pg_database(request.getfixturevalue("pg_admin"), db)


def cut(sessions: sessionmaker[Session], end: date = DAY) -> tuple[dict[str, Any], bytes]:
    with transaction(sessions) as s:
        row, _ = outbox.cut_package(s, KEK, DAY, end)
        return dict(row.manifest), row.payload


def start_body(manifest: dict[str, Any], payload: bytes, chunk: int = 256, **over: object) -> dict[str, Any]:
    return {
        "package_id": manifest["id"],
        "sender": manifest["sender"],
        "size": len(payload),
        "chunk_bytes": chunk,
        "chunk_hashes": package.chunk_hashes(payload, chunk),
        **over,
    }


def count(sessions: sessionmaker[Session], table: type) -> int:
    with transaction(sessions) as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def inbox(sessions: sessionmaker[Session]) -> list[tuple[str, str, str, int]]:
    with transaction(sessions) as s:
        rows = s.scalars(select(InboxEntry).order_by(InboxEntry.id))
        return [(e.sender, e.status, e.code, int((e.summary or {}).get("attempts", 1))) for e in rows]


def is_problem(r: Any, status: int) -> bool:
    if status == 401 and r.status_code == 401:  # a refused signature says so
        assert r.json()["type"] == "/problems/unauthorized", r.json()
    return bool(r.status_code == status and r.headers["content-type"].startswith("application/problem+json"))


# ------------------------------------------------------------------------------------------- finding 4
def test_outbox_serves_a_parent_only_its_own_packages_after_it_proves_who_it_is(fed: Fed) -> None:
    # AA chose to send its hub provisional figures too (view=all); they are not public at AA
    with transaction(fed.aa) as s:
        peers.parent(s).config = {"depth": 1, "view": "all"}
    report(fed.aa, ROWS, approve=False)
    manifest, payload = cut(fed.aa)
    sent = package.read_data(package.open_payload(payload).data)
    assert sorted(sent["value"]) == [2.0, 5.0, 7.0]  # the provisional figures are in this package
    public = fed.aa_client.get("/api/v1/series", params={"jurisdiction": "AA", "indicator": "new_confirmed"})
    assert [row["value"] for row in public.json()["data"] if row["value"] is not None] == []

    # anyone without a signature gets a problem document, not the package
    listed = fed.aa_client.get(P + "/outbox", params={"receiver": "WORLD"})
    assert is_problem(listed, 401) and "packages" not in listed.json()
    got = fed.aa_client.get(f"{P}/outbox/{manifest['id']}")
    assert is_problem(got, 401) and payload not in got.content

    # another registered parent of AA (a region, its own key) sees its own packages only, never WORLD's
    region_key = keys.generate()
    with transaction(fed.aa) as s:
        peers.add_peer(s, "REG", "parent", url="http://region", public_key=keys.public_text(region_key))
    region = transport.Signer("REG", "AA", keys.key_id(keys.public_text(region_key)), region_key)
    assert fed.aa_client.get(P + "/outbox", auth=region).json() == {"packages": []}
    assert fed.aa_client.get(P + "/outbox", params={"receiver": "WORLD"}, auth=region).status_code == 403
    assert is_problem(fed.aa_client.get(f"{P}/outbox/{manifest['id']}", auth=region), 404)
    # a member of the hub signing with its own key is no parent of AA
    assert is_problem(fed.aa_client.get(P + "/outbox", auth=signer(fed.bb, "AA")), 401)

    # the parent, proving who it is, gets what its link (configured by AA) lets go up
    world = signer(fed.hub, "AA")
    listed = fed.aa_client.get(P + "/outbox", params={"receiver": "WORLD"}, auth=world)
    assert [p["id"] for p in listed.json()["packages"]] == [manifest["id"]]
    assert transport.fetch(fed.aa_client, "", manifest["id"], len(payload), auth=world) == payload


def test_a_public_link_carries_published_figures_only(fed: Fed) -> None:
    report(fed.aa, ROWS)  # approved: published
    report(fed.aa, [("AA-01-01", "2026-03-02", "new_confirmed", 40)], approve=False)  # provisional
    _, payload = cut(fed.aa, end=date(2026, 3, 2))
    sent = package.read_data(package.open_payload(payload).data)
    assert set(sent["date"].astype(str)) == {"2026-03-01"} and 40.0 not in set(sent["value"])


def test_signed_requests_are_accepted_once_in_their_window_from_their_own_key(fed: Fed) -> None:
    report(fed.aa, ROWS)
    manifest, payload = cut(fed.aa)
    body = start_body(manifest, payload)
    aa = signer(fed.aa, "WORLD")
    raw = fed.hub_client.build_request("POST", P + "/uploads", json=body).content

    def headers(key: Any = aa.key, **over: Any) -> dict[str, str]:
        fields: dict[str, Any] = {
            "method": "POST",
            "path": P + "/uploads",
            "query": "",
            "body": raw,
            "sender": "AA",
            "receiver": "WORLD",
            "created": int(utcnow().timestamp()),
            **over,
        }
        return {"content-type": "application/json", **httpsig.sign(key, aa.key_id, **fields)}

    unsigned = fed.hub_client.post(P + "/uploads", json=body)
    assert is_problem(unsigned, 401) and unsigned.json()["errors"][0]["code"] == "unsigned"
    once = headers()
    assert fed.hub_client.post(P + "/uploads", content=raw, headers=once).status_code == 200
    refused = {
        "replayed_request": once,
        "stale_request": headers(created=int(utcnow().timestamp()) - 3600),
        "wrong_receiver": headers(receiver="BB"),
        "bad_request_signature": headers(path=P + "/outbox"),  # signed for another request
        "digest_mismatch": headers(body=raw + b" "),  # the body is not the one signed
    }
    refused["bad_request_signature "] = headers(key=keys.generate())  # AA's key id, another key
    for code, h in refused.items():
        r = fed.hub_client.post(P + "/uploads", content=raw, headers=h)
        assert is_problem(r, 401), (code, r.text)
        assert r.json()["errors"][0]["code"] == code.strip(), r.json()
    unknown = transport.Signer("AA", "WORLD", "0" * 16, keys.generate())
    r = fed.hub_client.post(P + "/uploads", json=body, auth=unknown)
    assert is_problem(r, 401) and r.json()["errors"][0]["code"] == "unknown_key"
    from accord.federation.model import RequestNonce

    # nonces are used up only by signatures that verified: the accepted request and the one whose body differed
    assert count(fed.hub, RequestNonce) == 2


# ------------------------------------------------------------------------------------------- finding 5
def test_a_member_touches_only_its_own_uploads(fed: Fed) -> None:
    report(fed.aa, ROWS)
    manifest, payload = cut(fed.aa)
    aa, bb = signer(fed.aa, "WORLD"), signer(fed.bb, "WORLD")
    pid = manifest["id"]
    assert fed.hub_client.post(P + "/uploads", json=start_body(manifest, payload), auth=aa).json()["have"] == []
    assert fed.hub_client.put(f"{P}/uploads/{pid}/chunks/0", content=payload[:256], auth=aa).status_code == 200
    # neither an anonymous caller nor another member can reset, fill or commit AA's upload
    other = start_body(manifest, payload, chunk=512)
    assert is_problem(fed.hub_client.post(P + "/uploads", json=other), 401)
    assert is_problem(fed.hub_client.post(P + "/uploads", json={**other, "sender": "BB"}, auth=bb), 403)
    assert is_problem(fed.hub_client.post(P + "/uploads", json=other, auth=bb), 403)
    assert is_problem(fed.hub_client.put(f"{P}/uploads/{pid}/chunks/1", content=payload[256:512], auth=bb), 403)
    assert is_problem(fed.hub_client.post(f"{P}/uploads/{pid}/commit", auth=bb), 403)
    assert is_problem(fed.hub_client.put(f"{P}/uploads/{pid}/chunks/1", content=payload[256:512]), 401)
    # AA's upload is as it left it, and completes
    assert fed.hub_client.post(P + "/uploads", json=start_body(manifest, payload), auth=aa).json()["have"] == [0]
    assert transport.push(fed.hub_client, "", manifest, payload, chunk_bytes=256, auth=aa)["status"] == "applied"


def test_a_package_is_delivered_only_by_its_own_sender(fed: Fed) -> None:
    report(fed.aa, ROWS)
    manifest, payload = cut(fed.aa)
    bb = signer(fed.bb, "WORLD")
    with pytest.raises(AccordError, match="delivered by 'BB'"):
        transport.push(fed.hub_client, "", {**manifest, "sender": "BB"}, payload, chunk_bytes=256, auth=bb)
    assert inbox(fed.hub)[-1][:3] == ("BB", "refused", "wrong_sender")
    assert count(fed.hub, Upload) == 0 and count(fed.hub, UploadChunk) == 0


async def _stream(
    app: FastAPI, path: str, headers: dict[str, str], piece: bytes, pieces: int
) -> tuple[int, bytes, int]:
    """PUT ``pieces`` x ``piece`` to the ASGI app as a streamed body; returns status, body and the bytes the
    app actually pulled from the stream."""
    pulled, sent = 0, 0
    out: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled, sent
        if sent < pieces:
            sent += 1
            pulled += len(piece)
            return {"type": "http.request", "body": piece, "more_body": sent < pieces}
        await anyio.sleep_forever()  # the client has nothing more to say
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        out.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    status = next(m["status"] for m in out if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in out if m["type"] == "http.response.body")
    return status, body, pulled


def test_an_oversized_chunk_is_refused_as_it_streams_without_being_read_whole(fed: Fed) -> None:
    report(fed.aa, ROWS)
    manifest, payload = cut(fed.aa)
    aa = signer(fed.aa, "WORLD")
    assert (
        fed.hub_client.post(P + "/uploads", json=start_body(manifest, payload, chunk=1024), auth=aa).status_code == 200
    )
    path = f"{P}/uploads/{manifest['id']}/chunks/0"  # exactly 1,024 bytes expected
    piece, pieces = b"x" * 65536, 512  # 32 MiB offered, without a Content-Length (chunked)
    digest = hashlib.sha256()
    for _ in range(pieces):
        digest.update(piece)
    now = int(utcnow().timestamp())
    common: dict[str, Any] = {"method": "PUT", "path": path, "query": "", "sender": "AA", "receiver": "WORLD"}
    signed = httpsig.sign(aa.key, aa.key_id, **common, created=now, digest=httpsig.digest_header(digest.digest()))
    status, body, pulled = anyio.run(_stream, fed.hub_app, path, signed, piece, pieces)
    assert status == 413 and b"at most 1,024 bytes" in body, body[:300]
    assert pulled <= 1024 + len(piece)  # it stopped at the first piece over the limit: 64 KiB of 32 MiB
    # a declared length over the limit is refused before a byte is read
    again = httpsig.sign(aa.key, aa.key_id, **common, created=now, digest=httpsig.digest_header(digest.digest()))
    status, _, pulled = anyio.run(_stream, fed.hub_app, path, {**again, "content-length": str(2**30)}, piece, pieces)
    assert status == 413 and pulled == 0
    # unsigned: refused before the body is read at all
    status, _, pulled = anyio.run(_stream, fed.hub_app, path, {}, piece, pieces)
    assert status == 401 and pulled == 0
    assert count(fed.hub, UploadChunk) == 0
    # the package and the chunk size are bounded too
    too_big = start_body(manifest, payload, size=10**12, chunk_hashes=["0" * 64])
    assert is_problem(fed.hub_client.post(P + "/uploads", json=too_big, auth=aa), 413)
    huge_chunks = start_body(manifest, payload, chunk=keys.FederationSettings().max_chunk_bytes + 1)
    assert is_problem(fed.hub_client.post(P + "/uploads", json=huge_chunks, auth=aa), 422)


# ----------------------------------------------------------------------------------------------- expiry
def test_abandoned_uploads_expire(fed: Fed, monkeypatch: pytest.MonkeyPatch) -> None:
    report(fed.aa, ROWS)
    report(fed.bb, [("BB-01-01", "2026-03-01", "new_confirmed", 3)])
    (aa_manifest, aa_payload), (bb_manifest, bb_payload) = cut(fed.aa), cut(fed.bb)
    limits = uploads.UploadLimits.from_settings(200 * 1024 * 1024, keys.FederationSettings())
    long_ago = utcnow() - timedelta(hours=30)
    # (the old one last: every upload start drops expired uploads first)
    for sender, manifest, payload, when in (
        ("BB", bb_manifest, bb_payload, utcnow()),
        ("AA", aa_manifest, aa_payload, long_ago),
    ):
        body = start_body(manifest, payload)
        uploads.start_upload(
            fed.hub,
            **{k: body[k] for k in ("package_id", "size", "chunk_bytes", "chunk_hashes")},
            sender=sender,
            limits=limits,
            now=when,
        )
        uploads.put_chunk(fed.hub, manifest["id"], 0, payload[:256], sender, now=when)
    assert count(fed.hub, Upload) == 2 and count(fed.hub, UploadChunk) == 2
    with transaction(fed.hub) as s:
        assert uploads.expire_uploads(s, utcnow(), 24.0) == {"uploads": 1, "chunks": 1, "nonces": 0}
    with transaction(fed.hub) as s:
        assert [u.sender for u in s.scalars(select(Upload))] == ["BB"]
    # the command a cron job (or an operator) runs; every upload start runs the same cleanup
    monkeypatch.setenv("ACCORD_DATABASE_URL", fed.urls["hub"])
    from accord.cli import app
    from accord.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["federation", "expire", "--hours", "0"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0 and "dropped 1 upload(s)" in result.output, result.output
    assert count(fed.hub, Upload) == 0 and count(fed.hub, UploadChunk) == 0
    # and an upload start (what `accord serve` sees) drops expired uploads before anything else
    body = start_body(bb_manifest, bb_payload)
    uploads.start_upload(
        fed.hub,
        **{k: body[k] for k in ("package_id", "size", "chunk_bytes", "chunk_hashes")},
        sender="BB",
        limits=limits,
        now=long_ago,
    )
    assert count(fed.hub, Upload) == 1
    aa = signer(fed.aa, "WORLD")
    assert fed.hub_client.post(P + "/uploads", json=start_body(aa_manifest, aa_payload), auth=aa).status_code == 200
    with transaction(fed.hub) as s:
        assert [u.sender for u in s.scalars(select(Upload))] == ["AA"]
    # nonces are kept while their request could still be replayed, then forgotten
    with transaction(fed.hub) as s:
        assert uploads.expire_uploads(s, utcnow(), 24.0)["nonces"] == 0
    with transaction(fed.hub) as s:
        assert uploads.expire_uploads(s, utcnow() + timedelta(minutes=10), 24.0)["nonces"] == 1


def test_a_members_unfinished_uploads_are_bounded(fed: Fed) -> None:
    report(fed.aa, ROWS)
    first, first_payload = cut(fed.aa)
    report(fed.aa, [("AA-01-01", "2026-03-02", "new_confirmed", 1)])
    second, second_payload = cut(fed.aa, end=date(2026, 3, 2))
    size = max(len(first_payload), len(second_payload))
    limits = uploads.UploadLimits(200 * 1024 * 1024, 1024 * 1024, size + 10, 24.0)
    for manifest, payload in ((first, first_payload), (second, second_payload)):
        body = start_body(manifest, payload)
        uploads.start_upload(
            fed.hub,
            **{k: body[k] for k in ("package_id", "size", "chunk_bytes", "chunk_hashes")},
            sender="AA",
            limits=limits,
        )
    with transaction(fed.hub) as s:  # the older one gave way
        assert [u.package_id for u in s.scalars(select(Upload))] == [second["id"]]


# ----------------------------------------------------------------------------------- the refusal log
def test_repeated_refusals_make_one_inbox_entry_with_a_count(fed: Fed) -> None:
    report(fed.aa, ROWS)
    manifest, payload = cut(fed.aa)
    body = start_body(manifest, payload)
    zz = transport.Signer("ZZ", "WORLD", "0" * 16, keys.generate())
    wrong_key = transport.Signer("AA", "WORLD", signer(fed.aa, "WORLD").key_id, keys.generate())
    for _ in range(25):
        assert fed.hub_client.post(P + "/uploads", json=body).status_code == 401
        assert fed.hub_client.post(P + "/uploads", json={**body, "sender": "ZZ"}, auth=zz).status_code == 401
        assert fed.hub_client.post(P + "/uploads", json=body, auth=wrong_key).status_code == 401
    assert inbox(fed.hub) == [
        ("?", "refused", "unsigned", 25),
        ("?", "refused", "unknown_sender", 25),
        ("AA", "refused", "bad_request_signature", 25),
    ]
    assert count(fed.hub, Upload) == 0
    # after the logging period, the next refusal opens a new entry
    from accord.federation import access

    later = utcnow() + timedelta(seconds=keys.FederationSettings().refusal_log_seconds + 1)
    with transaction(fed.hub) as s:
        access.log_refusal(s, "?", httpsig.refusal("unsigned", "again"), later, 3600.0)
    assert inbox(fed.hub)[-1] == ("?", "refused", "unsigned", 1)


# ---------------------------------------------------------------------------------- finding 6 (inbox)
def test_the_inbox_is_read_only_by_those_entitled(fed: Fed) -> None:
    report(fed.aa, ROWS)
    manifest, payload = cut(fed.aa)
    assert transport.push(fed.hub_client, "", manifest, payload, auth=signer(fed.aa, "WORLD"))["status"] == "applied"
    report(fed.bb, [("BB-01-01", "2026-03-01", "new_confirmed", 3)])
    bb_manifest, bb_payload = cut(fed.bb)
    opened = package.open_payload(bb_payload)
    forged = package.data_bytes(package.read_data(opened.data).assign(value=99.0))
    tampered = package.pack(opened.manifest, opened.signature, forged, opened.places)
    with pytest.raises(AccordError, match="does not match the manifest"):
        transport.push(
            fed.hub_client,
            "",
            bb_manifest,
            tampered,
            auth=signer(fed.bb, "WORLD"),
            retrying=transport.Retrying(attempts=1),
        )
    fed.hub_client.post(P + "/uploads", json=start_body(bb_manifest, bb_payload, sender="ZZ"))  # anonymous: "?"
    tokens = {}
    with transaction(fed.hub) as s:
        for name, role, scope in (
            ("admin", "admin", None),
            ("world", "coordinator", "WORLD"),
            ("aa", "coordinator", "AA"),
            ("aa-province", "coordinator", "AA-01"),
            ("analyst", "analyst", "WORLD"),
        ):
            auth.add_user(s, name, role, scope)
            tokens[name] = auth.issue_token(s, name)

    def read(name: str) -> Any:
        return fed.hub_client.get(P + "/inbox", headers={"authorization": f"Bearer {tokens[name]}"})

    # a member's coordinator at the hub: that member's entries only
    assert {(e["sender"], e["status"]) for e in read("aa").json()["entries"]} == {("AA", "applied")}
    everything = {("AA", "applied"), ("BB", "refused"), ("?", "refused")}
    for name in ("admin", "world"):
        assert {(e["sender"], e["status"]) for e in read(name).json()["entries"]} == everything
    for name in ("aa-province", "analyst"):
        assert is_problem(read(name), 403)

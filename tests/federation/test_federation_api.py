"""The federation API through the ASGI client: uploads, refusals as problem documents, envelopes, outbox ranges."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from accord.app import create_app
from accord.db import transaction, utcnow
from accord.errors import AccordError
from accord.federation import hub, identity, inbox, keys, outbox, transport
from accord.settings import Settings

from .helpers import KEK, WORLD, country_tree, link, new_store, report, signer

P = "/api/v1/federation"


@pytest.fixture
def world(tmp_path: Path):  # type: ignore[no-untyped-def]
    hub_db, aa_db = tmp_path / "hub.db", tmp_path / "aa.db"
    hub_sessions, aa = new_store(hub_db, WORLD), new_store(aa_db, country_tree("AA"))
    link(hub_sessions, aa, "AA", "http://testserver")
    report(aa, [("AA-01-01", "2026-03-01", "new_confirmed", 5), ("AA-02-01", "2026-03-01", "new_confirmed", 2)])
    with transaction(aa) as s:
        row, _ = outbox.cut_package(s, KEK, date(2026, 3, 1), date(2026, 3, 1))
        manifest, payload = dict(row.manifest), row.payload
    hub_client = TestClient(create_app(Settings(database_url=f"sqlite:///{hub_db}")))
    aa_client = TestClient(create_app(Settings(database_url=f"sqlite:///{aa_db}")))
    yield hub_client, aa_client, hub_sessions, aa, manifest, payload
    for f in (hub_sessions, aa):
        f.kw["bind"].dispose()


def start(client: TestClient, manifest: dict, payload: bytes, auth: transport.Signer, **over: object):  # type: ignore[no-untyped-def,type-arg]
    body = {
        "package_id": manifest["id"],
        "sender": manifest["sender"],
        "size": len(payload),
        "chunk_bytes": 256,
        "chunk_hashes": [hashlib.sha256(payload[i : i + 256]).hexdigest() for i in range(0, len(payload), 256)],
    }
    return client.post(P + "/uploads", json={**body, **over}, auth=auth)


def test_upload_refusals_are_problem_documents(world) -> None:  # type: ignore[no-untyped-def]
    hub_client, _, hub_sessions, aa_sessions, manifest, payload = world
    aa = signer(aa_sessions, "WORLD")
    # an instance the hub never registered (its own key, signing as ZZ): refused before anything is stored
    zz = transport.Signer("ZZ", "WORLD", "zz-key", keys.generate())
    r = start(hub_client, manifest, payload, zz, sender="ZZ")
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    assert "'ZZ' is not a registered member" in r.json()["detail"]
    assert start(hub_client, manifest, payload, aa, sender="ZZ").status_code == 403  # AA cannot upload as ZZ
    assert start(hub_client, manifest, payload, aa, chunk_hashes=["x"]).status_code == 422
    assert start(hub_client, manifest, payload, aa).json()["have"] == []
    bad = hub_client.put(f"{P}/uploads/{manifest['id']}/chunks/0", content=b"not the chunk", auth=aa)
    assert bad.status_code == 422 and "does not match its SHA-256" in bad.json()["detail"]
    incomplete = hub_client.post(f"{P}/uploads/{manifest['id']}/commit", auth=aa)
    assert incomplete.status_code == 409 and "incomplete" in incomplete.json()["detail"]
    # the whole exchange through the same client: applied; again: replay
    assert transport.push(hub_client, "", manifest, payload, chunk_bytes=256, auth=aa)["status"] == "applied"
    assert transport.push(hub_client, "", manifest, payload, chunk_bytes=256, auth=aa)["status"] == "replay"
    assert hub_client.get(P + "/inbox").status_code == 401
    # the hub is an ordinary instance: its dashboard, bulletin and scorecard run over the member countries
    assert hub_client.get("/public/WORLD").status_code == 200
    assert hub_client.get("/public/WORLD/bulletin.json", params={"date": "2026-03-01"}).status_code == 200
    card = hub_client.get("/public/WORLD/scorecard.json", params={"date": "2026-03-01"})
    assert card.status_code == 200 and "AA" in {u["jurisdiction"] for u in card.json()["data"]}
    with transaction(hub_sessions) as s:
        assert [(e.status, e.code) for e in reversed(inbox.inbox(s))] == [
            ("refused", "unknown_sender"),
            ("applied", ""),
            ("replay", ""),
        ]


def test_envelopes_and_outbox_ranges(world) -> None:  # type: ignore[no-untyped-def]
    hub_client, aa_client, hub_sessions, aa, manifest, payload = world
    hub_signs = signer(hub_sessions, "AA")
    with transaction(aa) as s:
        _, private = identity.signing_key(s, KEK)
    need = {"kind": "need", "resource": "masks", "quantity": 10, "day": "2026-04-02"}
    good = hub.seal(need, "AA", private)
    assert hub_client.post(P + "/pool/posts", json=good).status_code == 201
    assert hub_client.post(P + "/pool/posts", json={**good, "body": {**need, "quantity": 10_000}}).status_code == 403
    stale = hub.seal(need, "AA", private, now=utcnow() - timedelta(days=1))
    assert hub_client.post(P + "/pool/posts", json=stale).status_code == 422
    invalid = hub.seal({**need, "quantity": -1, "day": "soon"}, "AA", private)
    r = hub_client.post(P + "/pool/posts", json=invalid)
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"quantity", "day"}
    other = hub.seal(need, "AA", keys.generate())
    assert hub_client.post(P + "/pool/posts", json=other).status_code == 403
    # the country serves its outbox for the parent to pull (signed by the parent), by byte ranges
    listed = aa_client.get(P + "/outbox", params={"receiver": "WORLD"}, auth=hub_signs).json()["packages"]
    assert [p["id"] for p in listed] == [manifest["id"]]
    assert transport.fetch(aa_client, "", manifest["id"], len(payload), range_bytes=300, auth=hub_signs) == payload
    head = aa_client.get(f"{P}/outbox/{manifest['id']}", headers={"range": "bytes=0-9"}, auth=hub_signs)
    assert head.status_code == 206 and head.content == payload[:10]
    ranged = aa_client.get(f"{P}/outbox/{manifest['id']}", headers={"range": "lines=1"}, auth=hub_signs)
    assert ranged.status_code == 416
    with pytest.raises(AccordError, match="no package"):
        transport.fetch(aa_client, "", "0" * 64, 10, auth=hub_signs)
    assert aa_client.get(P + "/identity").json()["jurisdiction"] == "AA"

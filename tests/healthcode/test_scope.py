"""Health codes follow the person, never the request: scope on the person's own place (their residence when
tracing knows them), the signing key of the person's issuing jurisdiction, and initials and day of birth from the
record. Holder links (colour and reasons) only for issuers of the person's jurisdiction."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import accord.app
from accord import migrate
from accord.auth import service as auth
from accord.auth.model import AuditEntry
from accord.auth.roles import SYSTEM
from accord.db import make_engine, session_factory, transaction
from accord.healthcode import service, trustlist
from accord.places import service as places
from accord.settings import Settings
from accord.tracing import crypto, persons
from tests.conftest import SMALL_TREE

OLD_TOWN, MILL_END, BAYPORT = "AR-01-01-001", "AR-01-01-002", "AR-02-01"
USERS = {
    "north": ("coordinator", "AR-01"),
    "south": ("coordinator", "AR-02"),
    "tracer-old-town": ("tracer", OLD_TOWN),
    "tracer-mill-end": ("tracer", MILL_END),
    "tracer-bayport": ("tracer", BAYPORT),
    "root": ("admin", None),
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    path: Path = tmp_path_factory.mktemp("healthcode-scope")
    crypto.keyring.cache_clear()
    engine = make_engine(f"sqlite:///{path / 'accord.db'}")
    migrate.upgrade(engine)
    now = datetime.now(UTC)
    refs: dict[str, str] = {}
    with transaction(session_factory(engine)) as s:
        places.import_places(s, SMALL_TREE)
        for name, (role, scope) in USERS.items():
            auth.add_user(s, name, role, scope)
        service.init_root(s, "AR", SYSTEM, now=now - timedelta(days=1))
        service.add_issuer(s, "AR-01", SYSTEM, now=now - timedelta(hours=1))
        service.add_issuer(s, "AR-02", SYSTEM, now=now - timedelta(hours=1))
        service.publish_trust_list(s, SYSTEM, now=now)
        for key, where, name, born in [
            ("old-town", OLD_TOWN, "Ada Lovelace", "1990-07-14"),
            ("bayport", BAYPORT, "Bo South", "1985-03-04"),
        ]:
            identity = {"name": name, "birth_date": born}
            refs[key] = persons.register_person(s, SYSTEM, where, identity, now=now).person.ref
    with transaction(session_factory(engine)) as s:
        service.refresh_from_tracing(s, now)
        # a status loaded without tracing and without any issuing jurisdiction: no place at all
        service.refresh_statuses(s, pd.DataFrame({"person_id": ["p-nowhere"], "residence_risk": ["low"]}), now)
    with transaction(session_factory(engine)) as s:
        tokens = {u: auth.issue_token(s, u) for u in USERS}
    engine.dispose()
    app = accord.app.create_app(Settings(data_dir=path))
    with TestClient(app) as c:
        c.tokens, c.refs, c.path = tokens, refs, path  # type: ignore[attr-defined]
        yield c


def h(client: TestClient, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.tokens[user]}"}  # type: ignore[attr-defined]


def issue(client: TestClient, who: str, person: str, **body: str) -> object:
    ref = client.refs.get(person, person)  # type: ignore[attr-defined]
    return client.post(f"/api/v1/healthcode/statuses/{ref}/code", json=body, headers=h(client, who))


def claims(client: TestClient, code: str) -> dict[str, object]:
    trust = trustlist.load_trust_list(client.get("/api/v1/healthcode/trustlist").text).trust
    verdict = service.codec.verify(code, trust, datetime.now(UTC))
    assert verdict.valid, verdict.reason
    return verdict.claims


def test_a_code_for_another_jurisdictions_person_is_refused_whatever_the_body_says(client: TestClient) -> None:
    # the North's coordinator names their own province: the person lives in the South, so no code, no key
    r = issue(client, "north", "bayport", jurisdiction="AR-01", initials="ZZ", birth_day="01-01")
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
    assert issue(client, "north", "bayport").status_code == 403
    # the South's coordinator gets it, signed by the South's key, with what is on record
    r = issue(client, "south", "bayport")
    assert r.status_code == 200, r.text
    c = claims(client, r.json()["code"])
    assert (c["iss"], c["jurisdiction"], c["initials"], c["birth_day"]) == ("AR-02", "AR-02", "BS", "03-04")


def test_the_record_not_the_request_says_what_a_code_carries(client: TestClient) -> None:
    for body in ({"initials": "ZZ"}, {"birth_day": "01-01"}, {"jurisdiction": "AR-01"}):
        r = issue(client, "south", "bayport", **body)
        assert r.status_code == 422 and "differs from the record" in r.json()["title"], (body, r.text)
    # the same values as the record are accepted (initials case-blind)
    r = issue(client, "south", "bayport", jurisdiction="AR-02", initials="bs", birth_day="03-04")
    assert r.status_code == 200 and claims(client, r.json()["code"])["initials"] == "BS"


def test_a_community_tracer_issues_for_their_own_residents_only(client: TestClient) -> None:
    r = issue(client, "tracer-old-town", "old-town")
    assert r.status_code == 200, r.text
    c = claims(client, r.json()["code"])
    assert (c["iss"], c["initials"], c["birth_day"]) == ("AR-01", "AL", "07-14")
    for stranger in ("tracer-mill-end", "tracer-bayport"):
        assert issue(client, stranger, "old-town").status_code == 403
    # the initials came from the person's identity: an audited read by the issuer, with its reason
    engine = make_engine(f"sqlite:///{client.path / 'accord.db'}")  # type: ignore[attr-defined]
    with transaction(session_factory(engine)) as s:
        reads = s.scalars(select(AuditEntry).where(AuditEntry.action == "tracing.person.read")).all()
    engine.dispose()
    assert any(e.detail and e.detail.get("why") == "issue a health code" for e in reads)


def test_holder_links_and_statuses_need_the_persons_scope(client: TestClient) -> None:
    ref = client.refs["old-town"]  # type: ignore[attr-defined]
    for stranger in ("tracer-bayport", "tracer-mill-end", "south"):
        r = client.get(f"/api/v1/healthcode/statuses/{ref}/holder-link", headers=h(client, stranger))
        assert r.status_code == 403 and "url" not in r.text, stranger
        assert client.get(f"/api/v1/healthcode/statuses/{ref}", headers=h(client, stranger)).status_code == 403
    link = client.get(f"/api/v1/healthcode/statuses/{ref}/holder-link", headers=h(client, "tracer-old-town"))
    assert link.status_code == 200 and link.json()["url"].startswith(f"/public/healthcode/me/{ref}/")
    assert client.get(f"/api/v1/healthcode/statuses/{ref}", headers=h(client, "north")).status_code == 200


def test_a_status_with_no_place_is_for_administrators_of_the_whole_tree(client: TestClient) -> None:
    for who in ("north", "south", "tracer-old-town"):
        assert client.get("/api/v1/healthcode/statuses/p-nowhere", headers=h(client, who)).status_code == 403
        r = client.get("/api/v1/healthcode/statuses/p-nowhere/holder-link", headers=h(client, who))
        assert r.status_code == 403
    assert client.get("/api/v1/healthcode/statuses/p-nowhere", headers=h(client, "root")).status_code == 200
    # nor can a request give it a jurisdiction to be signed in
    r = issue(client, "root", "p-nowhere", jurisdiction="AR-01", initials="AB", birth_day="01-02")
    assert r.status_code == 422 and "no jurisdiction is on record" in r.json()["title"]

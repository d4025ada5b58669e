"""The API and pages through the ASGI client: rules, trust list, issuer API with scope, overrides, holder page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import accord.app
from accord.healthcode import codec, pages, trustlist
from accord.settings import Settings
from tests.healthcode.webstore import build


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    path: Path = tmp_path_factory.mktemp("healthcode")
    tokens = build(path)
    app = accord.app.create_app(Settings(data_dir=path))
    pages.install(app)
    with TestClient(app) as c:
        c.tokens = tokens  # type: ignore[attr-defined]
        c.path = path  # type: ignore[attr-defined]
        yield c


def h(client: TestClient, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.tokens[user]}"}  # type: ignore[attr-defined]


def test_public_rules_and_trust_list(client: TestClient) -> None:
    rules = client.get("/api/v1/healthcode/rules").json()
    assert rules["version"] == "2026.1" and {r["id"] for r in rules["rules"]} >= {"HC-R1", "HC-Y1"}
    page = client.get("/public/healthcode/rules")
    assert page.status_code == 200 and "HC-R2" in page.text and "quarantine" in page.text
    assert client.get("/public/healthcode/rules.json").json() == rules
    assert "健康码" in client.get("/public/healthcode/rules?lang=zh").text
    doc = client.get("/api/v1/healthcode/trustlist").text
    assert len(trustlist.load_trust_list(doc).trust.keys) == 2
    new = {**rules, "version": "2026.2"}
    assert client.post("/api/v1/healthcode/rules", json=new, headers=h(client, "coord")).status_code == 403
    assert client.post("/api/v1/healthcode/rules", json=new).status_code == 401


def test_issuer_api_scope_and_verify(client: TestClient) -> None:
    assert client.post("/api/v1/healthcode/statuses/p-yellow/code", json={}).status_code == 401
    assert (
        client.post("/api/v1/healthcode/statuses/p-yellow/code", json={}, headers=h(client, "south")).status_code == 403
    )
    assert (
        client.post("/api/v1/healthcode/statuses/p-yellow/code", json={}, headers=h(client, "analyst")).status_code
        == 403
    )
    r = client.post("/api/v1/healthcode/statuses/p-yellow/code", json={}, headers=h(client, "coord"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["colour"] == "yellow" and body["svg"].startswith("<svg")
    v = client.post("/api/v1/healthcode/verify", json={"code": body["code"]}).json()
    assert v["valid"] and v["claims"]["initials"] == "YC"
    bad = client.post("/api/v1/healthcode/verify", json={"code": "AC1:" + body["code"][5:]}).json()
    assert not bad["valid"]
    missing = client.post("/api/v1/healthcode/statuses/nobody/code", json={}, headers=h(client, "coord"))
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")


def test_override_and_holder_page(client: TestClient) -> None:
    no_reason = client.post(
        "/api/v1/healthcode/statuses/p-red/override",
        json={"colour": "green", "reason": " "},
        headers=h(client, "coord"),
    )
    assert no_reason.status_code == 422
    status = client.get("/api/v1/healthcode/statuses/p-red", headers=h(client, "coord")).json()
    assert status["colour"] == "red" and status["reasons"][0]["id"] == "HC-R1"
    link = client.get("/api/v1/healthcode/statuses/p-red/holder-link", headers=h(client, "coord")).json()["url"]
    page = client.get(link)
    assert page.status_code == 200 and "HC-R1" in page.text and "<svg" in page.text
    twin = client.get(link + ".json").json()
    assert twin["colour"] == "red" and twin["code"].startswith("AC1:")
    assert client.get(link[:-3] + "xyz").status_code == 404  # a wrong token finds nothing
    over = client.post(
        "/api/v1/healthcode/statuses/p-red/override",
        json={"colour": "yellow", "reason": "isolation completed <b>early</b>", "hours": 4},
        headers=h(client, "coord"),
    )
    assert over.status_code == 200 and over.json()["colour"] == "yellow"
    page = client.get(link)
    assert "isolation completed &lt;b&gt;early&lt;/b&gt;" in page.text  # escaped
    doc = client.get("/api/v1/healthcode/trustlist").text
    code = client.get(link + ".json").json()["code"]
    assert codec.verify(code, trustlist.load_trust_list(doc).trust, codec.datetime.now(codec.UTC)).claims["colour"] == (
        "yellow"
    )


def test_publishing_rules_needs_a_national_admin_and_never_edits(client: TestClient) -> None:
    from accord.auth import service as auth
    from accord.db import make_engine, session_factory, transaction

    engine = make_engine(f"sqlite:///{client.path / 'accord.db'}")  # type: ignore[attr-defined]
    with transaction(session_factory(engine)) as s:
        auth.add_user(s, "root", "admin", None)
    with transaction(session_factory(engine)) as s:
        token = auth.issue_token(s, "root")
    engine.dispose()
    admin = {"Authorization": f"Bearer {token}"}
    body = {**client.get("/api/v1/healthcode/rules").json(), "version": "2026.2"}
    body["validity_hours"] = {"green": 8, "yellow": 8, "red": 8}
    assert client.post("/api/v1/healthcode/rules", json=body, headers=admin).status_code == 201
    assert client.post("/api/v1/healthcode/rules", json=body, headers=admin).status_code == 409
    bad = {**body, "version": "2026.3", "rules": [{"id": "X", "colour": "red", "logic": {"nope": []}}]}
    r = client.post("/api/v1/healthcode/rules", json=bad, headers=admin)
    assert r.status_code == 422 and "unknown operation" in r.json()["title"]
    assert client.get("/api/v1/healthcode/rules").json()["version"] == "2026.2"
    assert client.get("/api/v1/healthcode/rules/2026.1").json()["validity_hours"]["green"] == 24
    assert "2026.2" in client.get("/public/healthcode/rules").text

"""The HTTP API through the ASGI client: scope, problem documents, formats, limits."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from tests.conftest import SMALL_TREE

from accord.app import create_app
from accord.auth import service as auth
from accord.db import session_factory, transaction
from accord.places import service as places
from accord.settings import Settings


@pytest.fixture
def client(engine, tmp_path: Path) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False), data_dir=tmp_path, max_upload_bytes=20_000
    )
    with transaction(session_factory(engine)) as s:
        places.import_places(s, SMALL_TREE)
        auth.add_user(s, "north_reporter", "reporter", "AR-01-01")
        auth.add_user(s, "north_coord", "coordinator", "AR-01")
        auth.add_user(s, "analyst", "analyst", "AR")
    with transaction(session_factory(engine)) as s:
        tokens = {u: auth.issue_token(s, u) for u in ("north_reporter", "north_coord", "analyst")}
    app = create_app(settings)
    with TestClient(app) as c:
        c.tokens = tokens  # type: ignore[attr-defined]
        yield c


def bearer(client: TestClient, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.tokens[user]}"}  # type: ignore[attr-defined]


OBS = {
    "observations": [
        {"jurisdiction": "AR-01-01-001", "date": "2026-03-01", "indicator": "new_confirmed", "value": 4},
        {"jurisdiction": "AR-01-01-002", "date": "2026-03-01", "indicator": "new_confirmed", "value": 6},
    ]
}


def test_tree_is_public_and_searchable(client: TestClient) -> None:
    r = client.get("/api/v1/jurisdictions/AR-01")
    assert r.status_code == 200
    body = r.json()
    assert [p["code"] for p in body["path"]] == ["AR", "AR-01"]
    assert {c["code"] for c in body["children"]} == {"AR-01-01", "AR-01-02"}
    assert client.get("/api/v1/jurisdictions", params={"q": "river"}).json()["data"][0]["code"] == "AR-01-01"
    sub = client.get("/api/v1/jurisdictions/AR/subtree", params={"level": "community"}).json()["data"]
    assert {j["code"] for j in sub} == {"AR-01-01-001", "AR-01-01-002"}


def test_submission_needs_a_token(client: TestClient) -> None:
    r = client.post("/api/v1/submissions", json=OBS)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["title"]


def test_reporter_cannot_submit_outside_scope(client: TestClient) -> None:
    r = client.post(
        "/api/v1/submissions",
        headers=bearer(client, "north_reporter"),
        json={
            "observations": [
                {"jurisdiction": "AR-02-01", "date": "2026-03-01", "indicator": "new_confirmed", "value": 1}
            ]
        },
    )
    assert r.status_code == 403
    assert "AR-02-01" in r.json()["detail"]
    assert (
        client.get(
            "/api/v1/series",
            params={"jurisdiction": "AR", "indicator": "new_confirmed", "view": "all"},
            headers=bearer(client, "analyst"),
        ).json()["data"]
        == []
    )


def test_analyst_may_not_submit(client: TestClient) -> None:
    r = client.post("/api/v1/submissions", headers=bearer(client, "analyst"), json=OBS)
    assert r.status_code == 403


def test_submit_query_approve_and_publish(client: TestClient) -> None:
    r = client.post(
        "/api/v1/submissions", headers={**bearer(client, "north_reporter"), "Idempotency-Key": "a1"}, json=OBS
    )
    assert r.status_code == 201, r.text
    assert r.json()["new"] == 2
    replay = client.post(
        "/api/v1/submissions", headers={**bearer(client, "north_reporter"), "Idempotency-Key": "a1"}, json=OBS
    )
    assert replay.json()["replayed"] is True
    params = {"jurisdiction": "AR", "indicator": "new_confirmed"}
    assert client.get("/api/v1/series", params=params).json()["data"] == []  # provisional is not public
    assert client.get("/api/v1/series", params={**params, "view": "all"}).status_code == 403
    all_view = client.get("/api/v1/series", params={**params, "view": "all"}, headers=bearer(client, "analyst"))
    assert all_view.json()["data"][0]["value"] == 10 and all_view.json()["data"][0]["provisional"] is True
    # the reporter cannot approve its own unit; the coordinator above can
    days = {"jurisdiction": "AR-01-01-001", "dates": ["2026-03-01"]}
    assert client.post("/api/v1/approvals", json=days, headers=bearer(client, "north_reporter")).status_code == 403
    assert client.post("/api/v1/approvals", json=days, headers=bearer(client, "north_coord")).json()["approved"] == 1
    public = client.get("/api/v1/series", params=params).json()["data"]
    assert public[0]["value"] == 4
    csv = client.get("/api/v1/series", params={**params, "format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert pd.read_csv(io.StringIO(csv.text))["value"].tolist() == [4]
    pq = client.get("/api/v1/series", params={**params, "format": "parquet"})
    assert pd.read_parquet(io.BytesIO(pq.content))["value"].tolist() == [4]
    hist = client.get(
        "/api/v1/history", params={"jurisdiction": "AR-01-01-001", "indicator": "new_confirmed", "date": "2026-03-01"}
    ).json()["data"]
    assert [h["value"] for h in hist] == [4]


def test_invalid_batch_is_a_problem_document_with_every_error(client: TestClient) -> None:
    r = client.post(
        "/api/v1/submissions",
        headers=bearer(client, "north_reporter"),
        json={
            "observations": [
                {"jurisdiction": "AR-01-01-001", "date": "2026-03-01", "indicator": "new_confirmed", "value": -2},
                {"jurisdiction": "AR-01-01-001", "date": "2026-03-01", "indicator": "bogus", "value": 1},
            ]
        },
    )
    assert r.status_code == 422
    body = r.json()
    assert {e["code"] for e in body["errors"]} == {"negative_count", "unknown_indicator"}
    assert body["errors"][0]["line"] in (1, 2)


def test_malformed_json_and_unknown_things(client: TestClient) -> None:
    r = client.post(
        "/api/v1/submissions",
        headers={**bearer(client, "north_reporter"), "content-type": "application/json"},
        content=b"{not json",
    )
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/jurisdictions/NOWHERE").status_code == 404
    r = client.get("/api/v1/series", params={"jurisdiction": "AR", "indicator": "nonsense"})
    assert r.status_code == 404 and "nonsense" in r.json()["detail"]


def test_enormous_upload_is_refused_before_reading_it_all(client: TestClient) -> None:
    big = b"jurisdiction,date,indicator,value\n" + b"AR-01-01-001,2026-03-01,new_confirmed,1\n" * 2000
    r = client.post("/api/v1/imports", params={"format": "csv"}, headers=bearer(client, "north_reporter"), content=big)
    assert r.status_code == 413
    assert "limit" in r.json()["detail"]


def test_flags_are_queryable_and_paginated(client: TestClient) -> None:
    client.post(
        "/api/v1/submissions",
        headers=bearer(client, "north_coord"),
        json={
            "observations": [
                {"jurisdiction": "AR-01-01", "date": "2026-03-01", "indicator": "new_confirmed", "value": 1},
                {"jurisdiction": "AR-01-01-001", "date": "2026-03-01", "indicator": "new_confirmed", "value": 3},
                {
                    "jurisdiction": "AR-01-01-001",
                    "date": "2026-03-02",
                    "indicator": "new_recovered",
                    "value": -1,
                    "reason": "cumulative corrected",
                },
            ]
        },
    )
    assert client.get("/api/v1/flags", params={"jurisdiction": "AR-01"}).status_code == 401  # values inside
    r = client.get(
        "/api/v1/flags", params={"jurisdiction": "AR-01", "limit": 1}, headers=bearer(client, "north_coord")
    ).json()
    assert r["total"] == 2 and len(r["data"]) == 1 and "next" in r
    outside = client.get("/api/v1/flags", params={"jurisdiction": "AR-02"}, headers=bearer(client, "north_coord"))
    assert outside.status_code == 403


def test_openapi_docs_need_no_cdn(client: TestClient) -> None:
    html = client.get("/docs").text
    assert "cdn.jsdelivr" not in html and "unpkg" not in html
    assert client.get("/openapi.json").json()["info"]["title"] == "Accord"


def test_with_suppression_on_the_public_api_refuses_deep_units(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        data_dir=tmp_path,
        suppress_below=5,
        suppress_from_depth=2,
    )
    with transaction(session_factory(engine)) as s:
        places.import_places(s, SMALL_TREE)
        auth.add_user(s, "analyst", "analyst", "AR")
        token = auth.issue_token(s, "analyst")
    with TestClient(create_app(settings)) as c:
        deep = {"jurisdiction": "AR-01-01", "indicator": "new_confirmed"}
        r = c.get("/api/v1/series", params=deep)
        assert r.status_code == 403 and "/public/AR-01-01" in r.json()["detail"]
        assert c.get("/api/v1/series", params={**deep, "jurisdiction": "AR-01"}).status_code == 200
        assert c.get("/api/v1/export", params={"format": "csv", "jurisdiction": "AR"}).status_code == 403
        assert (
            c.get("/api/v1/export", params={"format": "csv", "jurisdiction": "AR", "level": "province"}).status_code
            == 200
        )
        assert c.get("/api/v1/series", params=deep, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_installing_a_capability_twice_adds_its_routes_once(tmp_path: Path) -> None:
    from accord.tracing import pages as tracing_pages

    app = create_app(Settings(data_dir=tmp_path))
    before = len(app.router.routes)
    tracing_pages.install(app)
    assert len(app.router.routes) == before

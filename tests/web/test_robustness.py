"""Bad and hostile requests get a clear 4xx, never a 500: ids and offsets beyond 64 bits, days outside the
calendar, offsets PostgreSQL cannot store, unbounded date ranges, empty and enormous uploads, counts no population
could produce. Every answer is an RFC 9457 problem document naming the parameter, field or line."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from tests.conftest import SMALL_TREE

from accord.app import create_app
from accord.auth import service as auth
from accord.db import session_factory, transaction
from accord.places import service as places
from accord.settings import Settings
from accord.surveillance import exchange
from accord.surveillance.model import Observation

BEYOND_64_BITS = str(2**64)
USERS = (("admin", "admin", None), ("reporter", "reporter", "AR-01-01"), ("coord", "coordinator", "AR-01"))


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(database_url=engine.url.render_as_string(hide_password=False), data_dir=tmp_path)
    with transaction(session_factory(engine)) as s:
        places.import_places(s, SMALL_TREE)
        for name, role, scope in USERS:
            auth.add_user(s, name, role, scope)
    with transaction(session_factory(engine)) as s:
        tokens = {name: auth.issue_token(s, name) for name, _, _ in USERS}
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        c.headers_of = {n: {"Authorization": f"Bearer {t}"} for n, t in tokens.items()}  # type: ignore[attr-defined]
        yield c


def auth_as(client: TestClient, user: str) -> dict[str, str]:
    headers: dict[str, str] = client.headers_of[user]  # type: ignore[attr-defined]
    return headers


def assert_problem(r: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    for word in words:
        assert word in body["detail"], body
    return body


def stored_observations(engine: Engine) -> int:
    with transaction(session_factory(engine)) as s:
        return int(s.scalar(select(func.count()).select_from(Observation)) or 0)


def submit(client: TestClient, value: float, user: str = "reporter", **extra: Any) -> httpx.Response:
    row = {"jurisdiction": "AR-01-01-001", "date": "2026-03-01", "indicator": "new_confirmed", "value": value}
    return client.post("/api/v1/submissions", headers=auth_as(client, user), json={"observations": [{**row, **extra}]})


# ------------------------------------------------------------------------------------------ ids and offsets
ANONYMOUS_BEYOND_64_BITS = [
    ("get", f"/api/v1/rumors?offset={BEYOND_64_BITS}", "offset"),
    ("get", f"/api/v1/rumors/{BEYOND_64_BITS}", "claim_id"),
    ("get", f"/api/v1/policy/measures?offset={BEYOND_64_BITS}", "offset"),
    ("get", f"/api/v1/jurisdictions?offset={BEYOND_64_BITS}", "offset"),
    ("get", f"/api/v1/healthcode/employers/{BEYOND_64_BITS}/summary", "employer_id"),
    ("get", f"/api/v1/resources/plans/{BEYOND_64_BITS}", "plan_id"),
    ("get", f"/api/v1/resources/plans/{BEYOND_64_BITS}/shipments", "plan_id"),
]


@pytest.mark.parametrize(("method", "url", "field"), ANONYMOUS_BEYOND_64_BITS)
def test_ids_and_offsets_beyond_64_bits_are_a_422_naming_the_parameter(
    client: TestClient, method: str, url: str, field: str
) -> None:
    assert_problem(client.request(method, url), 422, field)


def test_ids_in_writes_beyond_64_bits_are_a_422(client: TestClient) -> None:
    admin = auth_as(client, "admin")
    r = client.post(f"/api/v1/resources/shipments/{BEYOND_64_BITS}/receipts", headers=admin, json={"quantity": 1})
    assert_problem(r, 422, "shipment_id")
    r = client.post(f"/api/v1/policy/measures/{BEYOND_64_BITS}/end", headers=admin, json={"end": "2026-03-01"})
    assert_problem(r, 422, "measure_id")
    r = client.post("/api/v1/rumors/questions/1", headers=admin, json={"claim_id": 2**70})
    assert_problem(r, 422, "claim_id")
    r = client.get("/api/v1/flags", headers=admin, params={"offset": BEYOND_64_BITS})
    assert_problem(r, 422, "offset")


def test_negative_and_huge_sizes_in_queries_are_a_422(client: TestClient) -> None:
    admin = auth_as(client, "admin")
    assert submit(client, 4).status_code == 201
    nowcast = {"jurisdiction": "AR", "last": -5}
    assert_problem(client.get("/api/v1/analytics/nowcast", params=nowcast, headers=admin), 422, "last")
    r = client.get("/api/v1/jurisdictions/AR/subtree", params={"max_depth": BEYOND_64_BITS})
    assert_problem(r, 422, "max_depth")
    # PostgreSQL refuses a negative LIMIT (SQLite reads it as "no limit"): refused before either sees it
    assert_problem(client.get("/api/v1/federation/inbox", params={"limit": -1}, headers=admin), 422, "limit")


# ------------------------------------------------------------------------------------------ days and instants
def test_report_days_answer_json_with_iso_days_and_instants(client: TestClient) -> None:
    assert submit(client, 4).status_code == 201
    r = client.get("/api/v1/report-days", params={"jurisdiction": "AR-01-01-001"})
    assert r.status_code == 200, r.text
    [day] = r.json()["data"]
    assert day["date"] == "2026-03-01" and day["status"] == "provisional"
    assert day["first_submitted_at"].endswith("+00:00") and "T" in day["first_submitted_at"]
    assert day["approved_at"] is None


def test_as_of_with_any_offset_is_normalised_to_utc(client: TestClient) -> None:
    params = {"jurisdiction": "AR", "indicator": "new_confirmed"}
    # PostgreSQL stores offsets up to 15:59 only: -23:59 must be converted before it reaches the database
    r = client.get("/api/v1/series", params={**params, "as_of": "2026-03-02T00:00:00-23:59"})
    assert r.status_code == 200, r.text
    assert r.json()["as_of"] == "2026-03-02T23:59:00+00:00"
    for bad, words in (
        ("0001-01-01T00:00:00+01:00", ("as_of", "outside")),
        ("9999-12-31T23:59:00-23:59", ("as_of", "outside")),
        ("2026-03-02T00:00:00", ("as_of", "time zone")),
    ):
        assert_problem(client.get("/api/v1/series", params={**params, "as_of": bad}), 422, *words)


def test_days_outside_the_calendar_are_a_422(client: TestClient) -> None:
    r = client.get("/api/v1/series", params={"jurisdiction": "AR", "indicator": "new_confirmed", "end": "9999-12-31"})
    assert_problem(r, 422, "end", "2200-12-31")
    assert_problem(submit(client, 1, date="0001-01-01"), 422, "date")
    r = client.post("/api/v1/federation/pool/runs", headers=auth_as(client, "admin"), json={"start": "9999-12-31"})
    assert_problem(r, 422, "start", "2200-12-31")


def test_an_unbounded_compliance_range_is_refused_at_once(client: TestClient) -> None:
    r = client.get("/api/v1/compliance", params={"jurisdiction": "AR", "start": "2020-01-01", "end": "2200-12-31"})
    assert_problem(r, 422, "spans", "at most 366 days")
    r = client.get("/api/v1/compliance", params={"jurisdiction": "AR", "start": "2026-03-02", "end": "2026-03-01"})
    assert_problem(r, 422, "before")
    ok = client.get("/api/v1/compliance", params={"jurisdiction": "AR", "start": "2026-01-01", "end": "2026-12-31"})
    assert ok.status_code == 200


# ------------------------------------------------------------------------------------------ uploads and values
def test_an_empty_capacity_report_is_a_422(client: TestClient) -> None:
    r = client.post("/api/v1/resources/capacity", headers=auth_as(client, "admin"))
    assert_problem(r, 422, "empty")


def test_counts_beyond_any_population_are_refused(client: TestClient, engine: Engine) -> None:
    assert_problem(submit(client, 2.0**63), 422, "value")
    csv = "jurisdiction,date,indicator,value\nAR-01-01-001,2026-03-01,new_confirmed,9223372036854775808\n"
    r = client.post("/api/v1/imports", params={"format": "csv"}, headers=auth_as(client, "reporter"), content=csv)
    body = assert_problem(r, 422, "line 2", "largest value")
    assert body["errors"][0]["code"] == "value_out_of_range"
    assert stored_observations(engine) == 0


def test_a_csv_reason_is_capped_as_in_the_json_api(client: TestClient, engine: Engine) -> None:
    reason = "r" * 2_001
    assert_problem(submit(client, -1, reason=reason), 422, "reason")
    csv = f"jurisdiction,date,indicator,value,reason\nAR-01-01-001,2026-03-01,new_confirmed,-1,{reason}\n"
    r = client.post("/api/v1/imports", params={"format": "csv"}, headers=auth_as(client, "reporter"), content=csv)
    assert_problem(r, 422, "line 2", "2,001 characters", "at most 2,000")
    huge = f"jurisdiction,date,indicator,value,reason\nAR-01-01-001,2026-03-01,new_confirmed,-1,{'r' * 50_000}\n"
    r = client.post("/api/v1/imports", params={"format": "csv"}, headers=auth_as(client, "reporter"), content=huge)
    assert_problem(r, 422, "line 2", "field 'reason'", "at most 10,000")
    assert stored_observations(engine) == 0


@pytest.mark.parametrize(
    ("columns", "words"),
    [(100_000, ("100,000 columns", "at most 5,000")), (1_000_000, ("line 1", "at most 1,000,000 per line"))],
)
def test_a_csv_of_a_million_columns_is_refused_before_parsing(
    client: TestClient, columns: int, words: tuple[str, ...]
) -> None:
    header = ",".join(f"c{i}" for i in range(columns))
    body = f"{header}\n{','.join('1' for _ in range(columns))}\n".encode()
    r = client.post("/api/v1/imports", params={"format": "csv"}, headers=auth_as(client, "reporter"), content=body)
    assert_problem(r, 422, *words)
    for url, params in (
        ("/api/v1/resources/capacity", {}),
        ("/api/v1/tracing/imports", {"root": "AR", "file": "x.csv", "mapping": "xu2020"}),
        ("/api/v1/analytics/hospital", {"jurisdiction": "AR"}),
    ):
        r = client.post(url, params=params, headers=auth_as(client, "admin"), content=body)
        assert r.status_code in (413, 422), (url, r.status_code, r.text[:300])
        assert r.headers["content-type"].startswith("application/problem+json")


# ------------------------------------------------------------------------------------------ the event loop
def test_parsing_an_upload_never_blocks_health(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While an import is being parsed, /health answers: parsing runs in a worker thread, not on the event loop.

    The import, once started, waits (up to 30 s) until /health has answered; were it on the event loop, /health
    could only answer after the import, and the order below would be reversed."""
    settings = Settings(database_url=engine.url.render_as_string(hide_password=False), data_dir=tmp_path)
    with transaction(session_factory(engine)) as s:
        places.import_places(s, SMALL_TREE)
        auth.add_user(s, "reporter", "reporter", "AR-01-01")
        token = auth.issue_token(s, "reporter")
    import_started, health_answered = threading.Event(), threading.Event()
    order: list[str] = []
    parse = exchange.import_bytes

    def slow_import(*args: Any, **kwargs: Any) -> Any:
        import_started.set()
        health_answered.wait(timeout=30)
        order.append("import")
        return parse(*args, **kwargs)

    monkeypatch.setattr(exchange, "import_bytes", slow_import)
    app = create_app(settings)

    async def scenario() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            csv = "jurisdiction,date,indicator,value\nAR-01-01-001,2026-03-01,new_confirmed,1\n"
            upload = asyncio.create_task(
                c.post(
                    "/api/v1/imports",
                    params={"format": "csv"},
                    headers={"Authorization": f"Bearer {token}"},
                    content=csv,
                )
            )
            await asyncio.to_thread(import_started.wait, 30)
            health = await c.get("/api/v1/health")
            order.append("health")
            health_answered.set()
            return [health.status_code, (await upload).status_code]

    assert asyncio.run(scenario()) == [200, 201]
    assert order == ["health", "import"]

"""The API under /api/v1/resources and the pages under /public/resources through the ASGI client: tokens, scope
(403), a plan approved twice (409), a receipt larger than the shipment (422), problem documents, twins, and
escaping of everything a user typed."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

import accord.app
from accord import migrate
from accord.auth import service as auth
from accord.db import make_engine, session_factory, transaction
from accord.places import service as places
from accord.settings import Settings
from tests.conftest import SMALL_TREE

XSS = '<script>alert("x")</script>'


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    path: Path = tmp_path_factory.mktemp("resources")
    engine: Engine = make_engine(f"sqlite:///{path / 'accord.db'}")
    migrate.upgrade(engine)
    with transaction(session_factory(engine)) as s:
        places.import_places(s, SMALL_TREE)
        auth.add_user(s, "north", "coordinator", "AR-01")
        auth.add_user(s, "chief", "coordinator", "AR")
        auth.add_user(s, "clerk", "reporter", "AR-01-01")
    with transaction(session_factory(engine)) as s:
        tokens = {u: auth.issue_token(s, u) for u in ("north", "chief", "clerk")}
    engine.dispose()
    app = accord.app.create_app(Settings(data_dir=path, max_upload_bytes=200_000))
    with TestClient(app) as c:
        c.tokens = tokens  # type: ignore[attr-defined]
        yield c


def h(client: TestClient, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.tokens[user]}"}  # type: ignore[attr-defined]


def test_the_workflow_through_the_api(client: TestClient) -> None:
    capacity = "date,jurisdiction,measure,value,unit\n2026-03-01,AR-01,n95,20,box of 50\n2026-03-01,AR-02-01,n95,300,\n"
    r = client.post("/api/v1/resources/capacity?filename=ppe.csv", content=capacity, headers=h(client, "chief"))
    assert r.status_code == 201, r.text
    assert r.json()["postings"] == 2
    mv = {
        "movement": "transfer",
        "resource": "n95",
        "quantity": 600,
        "from": "stock:AR-01",
        "to": "stockpile:AR-01",
        "day": "2026-03-01",
    }
    assert client.post("/api/v1/resources/movements", json=mv, headers=h(client, "north")).status_code == 201
    # a reporter of AR-01-01 may not move AR-01's stock: 403 as a problem document, nothing booked
    r = client.post("/api/v1/resources/movements", json=mv, headers=h(client, "clerk"))
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
    r = client.post("/api/v1/resources/movements", json={**mv, "quantity": -1}, headers=h(client, "north"))
    assert r.status_code == 422 and "negative" in r.json()["detail"]
    need = {
        "jurisdiction": "AR-01-01-001",
        "resource": "n95",
        "quantity": 500,
        "by_date": "2026-03-04",
        "priority": 2,
        "justification": XSS,
    }
    r = client.post("/api/v1/resources/needs", json=need, headers=h(client, "clerk"))
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/resources/needs", json={**need, "jurisdiction": "AR-02-01"}, headers=h(client, "clerk"))
    assert r.status_code == 403
    offer = {"jurisdiction": "AR-02-01", "resource": "n95", "quantity": 200, "from_date": "2026-03-01"}
    assert client.post("/api/v1/resources/offers", json=offer, headers=h(client, "chief")).status_code == 201
    route = {"origin": "AR-02-01", "destination": "AR-01-01-001", "lead_days": 2, "unit_cost": 3}
    assert client.put("/api/v1/resources/routes", json=route, headers=h(client, "chief")).status_code == 200
    plan = client.post(
        "/api/v1/resources/plans",
        json={"root": "AR", "resources": ["n95"], "horizon_days": 7, "start": "2026-03-01"},
        headers=h(client, "chief"),
    )
    assert plan.status_code == 201, plan.text
    body = plan.json()
    assert body["status"] == "proposed" and body["summary"]["shortfall"] == pytest.approx(0)
    ships = body["shipments"]
    assert sum(s["quantity"] for s in ships) == pytest.approx(500)
    # the stockpile is nearer (default lead) and cheaper than the offer's route: it sends first
    assert {s["origin"] for s in ships} == {"AR-01"}
    pid, sid = body["id"], ships[0]["id"]
    assert (
        client.patch(
            f"/api/v1/resources/plans/{pid}/shipments/{sid}", json={"quantity": "abc"}, headers=h(client, "chief")
        ).status_code
        == 422
    )
    r = client.patch(
        f"/api/v1/resources/plans/{pid}/shipments/{sid}", json={"quantity": 450}, headers=h(client, "chief")
    )
    assert r.status_code == 200 and r.json()["proposed_quantity"] == pytest.approx(500)
    assert client.post(f"/api/v1/resources/plans/{pid}/approval", headers=h(client, "clerk")).status_code == 403
    assert client.post(f"/api/v1/resources/plans/{pid}/approval", headers=h(client, "chief")).status_code == 200
    r = client.post(f"/api/v1/resources/plans/{pid}/approval", headers=h(client, "chief"))
    assert r.status_code == 409 and "already approved" in r.json()["detail"]
    r = client.post(
        f"/api/v1/resources/shipments/{sid}/receipts",
        json={"quantity": 451, "day": "2026-03-03"},
        headers=h(client, "clerk"),
    )
    assert r.status_code == 422 and "more than the 450" in r.json()["detail"]
    r = client.post(
        f"/api/v1/resources/shipments/{sid}/receipts",
        json={"quantity": 440, "day": "2026-03-03", "final": True, "note": "torn"},
        headers=h(client, "clerk"),
    )
    assert r.status_code == 201 and r.json() == {
        "shipment": sid,
        "status": "closed",
        "received": 440.0,
        "discrepancy": 10.0,
    }
    needs = pd.read_csv(io.StringIO(client.get("/api/v1/resources/needs?root=AR&format=csv").text))
    row = needs.iloc[0]
    # 10 lost on the way are needed again: 440 allocated and received, 60 remaining for the next plan
    assert (row["status"], row["allocated"], row["received"], row["remaining"]) == ("received", 440, 440, 60)
    stock = client.get("/api/v1/resources/stock?root=AR&date=2026-03-05").json()["data"]
    assert sum(r["on_hand"] for r in stock) == pytest.approx(1000 + 300 - 10)


def test_pages_and_twins(client: TestClient) -> None:
    r = client.get("/public/resources/AR")
    assert r.status_code == 200 and "Days to stock-out" in r.text
    assert client.get("/public/resources/AR.csv").headers["content-type"].startswith("text/csv")
    data = client.get("/public/resources/AR.json").json()
    assert {"jurisdiction", "days_of_supply", "level"} <= set(data["data"][0])
    plans = client.get("/public/resources/AR/plans.json").json()["data"]
    pid = plans[0]["id"]
    page = client.get(f"/public/resources/plans/{pid}")
    assert page.status_code == 200 and 'id="sankey"' in page.text and "/public/_vendor/plotly.min.js" in page.text
    assert XSS not in page.text and XSS not in client.get("/public/resources/AR").text
    assert client.get(f"/public/resources/plans/{pid}.csv").text.startswith("id,resource,unit,origin")
    assert client.get("/public/resources/plans/99999").status_code == 404
    assert client.get("/public/resources/NOPE").status_code == 404
    assert client.get("/public/resources/NOPE.json").headers["content-type"].startswith("application/problem+json")
    assert client.get("/public/resources/AR?lang=zh").text.count("物资可用天数") >= 1

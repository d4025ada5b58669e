"""The tracing API and pages through the ASGI app (SQLite and PostgreSQL): tokens, 403 across communities,
hostile strings escaped, exports without personal data, the import endpoint all-or-nothing, the twins."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

import accord.app
from accord.auth import service as auth
from accord.db import transaction
from accord.settings import Settings
from accord.tracing import cases, contacts, persons, worklists
from accord.tracing.model import Case

from .conftest import NOW, TODAY, A, World

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def web(world: World, engine: Engine) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with transaction(world.sessions) as s:
        tokens = {name: auth.issue_token(s, name) for name in ("tracer-a", "tracer-b", "coord", "analyst", "dpo")}
        worklists.generate_followups(s, TODAY)
    url = engine.url.render_as_string(hide_password=False)
    app = accord.app.create_app(Settings(database_url=url))
    with TestClient(app) as client:
        yield client, tokens


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_api_scope_and_personal_data(web: tuple[TestClient, dict[str, str]], world: World) -> None:
    client, tok = web
    assert client.get(f"/api/v1/tracing/persons/{world.refs['case']}").status_code == 401
    r = client.get(
        f"/api/v1/tracing/persons/{world.refs['case']}/identity", params={"why": "call"}, headers=_h(tok["tracer-b"])
    )
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
    r = client.get(
        f"/api/v1/tracing/persons/{world.refs['case']}/identity", params={"why": "call"}, headers=_h(tok["tracer-a"])
    )
    assert r.status_code == 200 and r.json()["name"] == "Li Wei"
    r = client.post(
        "/api/v1/tracing/persons", json={"residence": "AR-01-01-001", "name": "x"}, headers=_h(tok["tracer-b"])
    )
    assert r.status_code == 403
    r = client.post(
        "/api/v1/tracing/cases",
        headers=_h(tok["tracer-a"]),
        json={"person": world.refs["contact"], "classification": "probable", "report_date": TODAY.isoformat()},
    )
    assert r.status_code == 201
    r = client.patch(
        f"/api/v1/tracing/cases/{r.json()['id']}",
        headers=_h(tok["tracer-a"]),
        json={"classification": "nonsense", "reason": "x"},
    )
    assert r.status_code == 422 and "nonsense" in r.json()["detail"]
    plain = client.get("/api/v1/tracing/export/AR?format=csv", headers=_h(tok["analyst"]))
    assert plain.status_code == 200 and "Li Wei" not in plain.text and "P" not in plain.text.split("\n")[1][:2]
    assert client.get("/api/v1/tracing/export/AR?personal=true", headers=_h(tok["analyst"])).status_code == 403
    assert (
        client.get("/api/v1/tracing/export/AR-01-01-002?personal=true", headers=_h(tok["tracer-a"])).status_code == 403
    )
    stats = client.get("/api/v1/tracing/chains/AR/statistics", headers=_h(tok["analyst"]))
    assert stats.status_code == 200 and stats.json()["cases"] >= 1


def test_task_page_one_tap_and_escaping(web: tuple[TestClient, dict[str, str]], world: World) -> None:
    client, tok = web
    r = client.get("/tracing/tasks", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/tracing/login")
    r = client.post("/tracing/login", data={"token": "acc_wrong", "next": "/tracing/tasks"}, follow_redirects=False)
    assert r.status_code == 401
    r = client.post(
        "/tracing/login", data={"token": tok["tracer-a"], "next": "https://evil.example/"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/tracing/tasks"
    assert "samesite=strict" in r.headers["set-cookie"].lower() and "httponly" in r.headers["set-cookie"].lower()
    page = client.get(f"/tracing/tasks?day={TODAY}")
    assert page.status_code == 200 and "Wang Fang" in page.text and len(page.content) < 8_000
    assert "<script" not in page.text
    assert page.headers["content-encoding"] == "gzip"  # compressed for slow connections
    task_id = client.get(f"/tracing/tasks.json?day={TODAY}").json()["data"][0]["id"]
    done = client.post(
        f"/tracing/tasks/{task_id}/outcome?day={TODAY}", data={"outcome": "well"}, follow_redirects=False
    )
    assert done.status_code == 303
    after = client.get(done.headers["location"])
    assert "Saved: Well" in after.text and 'data-status="done"' in after.text
    # the hostile name of a person in B reaches B's tracer escaped
    with transaction(world.sessions) as s:
        worklists.add_task(
            s, world.tracer_b, "delivery", "AR-01-01-002", TODAY, person_ref=world.refs["other"], note=HOSTILE
        )
    client.cookies.clear()
    page_b = client.get(f"/tracing/tasks?day={TODAY}", headers=_h(tok["tracer-b"]))
    assert HOSTILE not in page_b.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page_b.text
    forbidden = client.post(f"/tracing/tasks/{task_id}/outcome", data={"outcome": "well"}, headers=_h(tok["tracer-b"]))
    assert forbidden.status_code == 403


def test_chain_page_twins_have_no_personal_data_and_audit_page(
    web: tuple[TestClient, dict[str, str]], world: World
) -> None:
    client, tok = web
    with transaction(world.sessions) as s:  # the contact fell ill: a cluster of two
        cases.create_case(s, world.tracer_a, world.refs["contact"], "confirmed", TODAY, onset_date=TODAY)
    page = client.get("/tracing/chains/AR", headers=_h(tok["coord"]))
    assert page.status_code == 403  # the coordinator's scope is the city, not the country
    page = client.get("/tracing/chains/AR-01-01", headers=_h(tok["coord"]))
    assert page.status_code == 200 and 'id="graph"' in page.text
    twin = client.get("/tracing/chains/AR-01-01.json", headers=_h(tok["coord"])).json()
    text = str(twin)
    for secret in ("Li Wei", world.refs["case"], world.refs["contact"]):
        assert secret not in text
    assert [c["size"] for c in twin["clusters"]] == [2] and len(twin["nodes"]) == 2
    assert twin["edges"] == [{"source": 0, "target": 1}] and twin["statistics"]["serial_interval"]["mean"] == 5.0
    csv = client.get("/tracing/chains/AR-01-01.csv", headers=_h(tok["coord"]))
    assert csv.status_code == 200 and csv.text.startswith("cluster,size")
    client.get(
        f"/api/v1/tracing/persons/{world.refs['case']}/identity", params={"why": HOSTILE}, headers=_h(tok["tracer-a"])
    )
    audit = client.get("/tracing/audit/AR-01", headers=_h(tok["dpo"]))
    assert audit.status_code == 200 and "tracing.person.read" in audit.text
    assert HOSTILE not in audit.text and "&lt;script&gt;" in audit.text
    assert client.get("/tracing/audit/AR-01", headers=_h(tok["tracer-a"])).status_code == 403
    assert client.get("/tracing/audit/AR-01.csv", headers=_h(tok["dpo"])).text.startswith("id,at,who")


def test_import_endpoint_is_all_or_nothing(web: tuple[TestClient, dict[str, str]], world: World) -> None:
    client, tok = web
    good = "CaseID,Related cases,date_onset_symptoms,date_confirmation,outcome,date_discharge,sex,age,travel_history\n"
    rows = good + "1,2,2020-02-01,2020-02-03,,,M,30,\n2,1,2020-02-04,2020-02-06,,,F,40,\n"
    bad = rows + "3,,2020-02-31,2020-02-06,,,F,41,\n"
    params = {"root": "AR-01-01-001", "file": "sg.csv", "mapping": "tindale2020-singapore"}
    r = client.post("/api/v1/tracing/imports", params=params, content=bad.encode(), headers=_h(tok["coord"]))
    assert r.status_code == 422 and "line 4" in r.json()["detail"] and "onset_date" in r.json()["detail"]
    with transaction(world.sessions) as s:
        assert s.scalar(select(func.count(Case.id))) == 1  # only the fixture's case: nothing half-applied
    r = client.post("/api/v1/tracing/imports", params=params, content=rows.encode(), headers=_h(tok["tracer-b"]))
    assert r.status_code == 403
    r = client.post("/api/v1/tracing/imports", params=params, content=rows.encode(), headers=_h(tok["coord"]))
    assert r.status_code == 200 and r.json()["cases"] == 2 and r.json()["links"] == 1
    # SG is not in this tree: every row is placed at the root and reported, none dropped
    assert r.json()["unmapped_lines"] == [2, 3]
    r = client.post(
        "/api/v1/tracing/imports", params={**params, "mapping": "../x"}, content=b"", headers=_h(tok["coord"])
    )
    assert r.status_code == 404
    with transaction(world.sessions) as s:
        assert s.scalar(select(func.count(Case.id))) == 3
    assert dt.date.today()  # the endpoint ran on the real clock


def test_chain_page_counts_clusters_of_two_or_more_and_shows_unknown_onsets_empty(
    web: tuple[TestClient, dict[str, str]], world: World
) -> None:
    """The case and its contact (a pair), two more cases linked to each other with no onset known, one case
    linked to nobody: the page counts 2 clusters and 1 single case; no 'None', 'NaT' or 'nan' in the table."""
    client, tok = web
    with transaction(world.sessions) as s:
        ta = world.tracer_a
        cases.create_case(s, ta, world.refs["contact"], "confirmed", TODAY, onset_date=TODAY)
        new = [persons.register_person(s, ta, A, {"name": f"P{i}"}, now=NOW).person.ref for i in range(3)]
        for ref in new:
            cases.create_case(s, ta, ref, "confirmed", TODAY, now=NOW)
        contacts.add_contact(s, ta, new[0], new[1], last_exposure=TODAY - dt.timedelta(days=2), now=NOW)
    page = client.get("/tracing/chains/AR-01-01", headers=_h(tok["coord"]))
    assert page.status_code == 200, page.text
    assert '<b id="cluster-count">2</b> clusters of 2 or more' in page.text
    assert '<span id="single-cases">1</span> single cases' in page.text
    table = page.text[page.text.index('<table id="clusters">') :]
    table = table[: table.index("</table>")]
    for word in ("None", "NaT", "nan"):
        assert word not in table, table
    twin = client.get("/tracing/chains/AR-01-01.json", headers=_h(tok["coord"])).json()
    assert twin["statistics"]["clusters"] == 2 and twin["statistics"]["single_cases"] == 1
    unknown = [c for c in twin["clusters"] if c["first_onset"] is None]
    assert len(unknown) == 1 and unknown[0]["span_days"] is None

"""Return to work: register, add employees, declare from the phone page, entrance checks, aggregate only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import accord.app
from accord.healthcode import codec, entrance, pages
from accord.settings import Settings
from tests.healthcode.keyring import CLAIM, NOW, keyring
from tests.healthcode.webstore import build


def test_decide_rules() -> None:
    kr = keyring()
    ok = codec.verify(kr.code(), kr.trust(), NOW)  # green, JD, 07-14
    today = NOW.date()
    clean = entrance.Declaration(today, 36.6, (), False)
    assert entrance.decide(ok, clean, today=today, initials="jd", birth_day="07-14").admitted
    cases = {
        "no health declaration today": entrance.Declaration(today - timedelta(days=1), 36.6, (), False),
        "fever declared": entrance.Declaration(today, 37.3, (), False),
        "symptoms declared": entrance.Declaration(today, 36.6, ("cough",), False),
        "travel to a risk area declared": entrance.Declaration(today, 36.6, (), True),
    }
    for reason, decl in cases.items():
        assert entrance.decide(ok, decl, today=today, initials="JD", birth_day="07-14").reason == reason
    assert entrance.decide(ok, clean, today=today, initials="AB", birth_day="07-14").reason == (
        "health code belongs to someone else"
    )
    expired = codec.verify(kr.code(), kr.trust(), NOW + timedelta(days=1))
    assert entrance.decide(expired, clean, today=today, initials="JD", birth_day="07-14").reason == (
        "health code not valid: expired"
    )
    assert CLAIM.colour == "green"
    assert entrance.validate_declaration(52.0, ["hiccups"]) and not entrance.validate_declaration(36.6, ["cough"])


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    path: Path = tmp_path_factory.mktemp("workplace")
    tokens = build(path)
    app = accord.app.create_app(Settings(data_dir=path))
    pages.install(app)
    with TestClient(app) as c:
        c.tokens = tokens  # type: ignore[attr-defined]
        yield c


def test_return_to_work_flow(client: TestClient) -> None:
    coord = {"Authorization": f"Bearer {client.tokens['coord']}"}  # type: ignore[attr-defined]
    south = {"Authorization": f"Bearer {client.tokens['south']}"}  # type: ignore[attr-defined]
    assert (
        client.post(
            "/api/v1/healthcode/employers", json={"name": "Mill", "jurisdiction": "AR-01-01"}, headers=south
        ).status_code
        == 403
    )
    r = client.post("/api/v1/healthcode/employers", json={"name": "Mill", "jurisdiction": "AR-01-01"}, headers=coord)
    assert r.status_code == 201, r.text
    emp_id, key = r.json()["id"], r.json()["key"]
    assert (
        client.post(
            "/api/v1/healthcode/employers", json={"name": "Mill", "jurisdiction": "AR-01-01"}, headers=coord
        ).status_code
        == 409
    )
    k = {"X-Employer-Key": key}
    assert (
        client.post(
            f"/api/v1/healthcode/employers/{emp_id}/employees",
            json={"ref": "e1", "initials": "GA", "birth_day": "01-02"},
            headers={"X-Employer-Key": "wrong"},
        ).status_code
        == 401
    )
    links = {}
    for ref, initials, bd in (("e1", "GA", "01-02"), ("e2", "YC", "05-06"), ("e3", "GA", "01-02")):
        r = client.post(
            f"/api/v1/healthcode/employers/{emp_id}/employees",
            json={"ref": ref, "initials": initials, "birth_day": bd},
            headers=k,
        )
        assert r.status_code == 201, r.text
        links[ref] = r.json()["declare_url"]

    # e1 files from the phone page: fine; e3 declares a fever; e2 files nothing
    page = client.get(links["e1"])
    assert page.status_code == 200 and 'name="temperature_c"' in page.text
    assert client.post(links["e1"], data={"temperature_c": "36.7"}).status_code == 200
    assert client.get(links["e1"] + ".json").json()["filed"] is True
    again = client.post(links["e1"], data={"temperature_c": "36.7"})
    assert again.status_code == 422 and "filed already" in again.text
    bad = client.post(links["e3"], data={"temperature_c": "3.7"})
    assert bad.status_code == 422 and "outside 30-45" in bad.text
    assert client.post(links["e3"], data={"temperature_c": "38.1", "symptoms": ["cough"]}).status_code == 200
    assert client.get(links["e1"][:-2] + "zz").status_code == 404

    green = client.post("/api/v1/healthcode/statuses/p-green/code", json={}, headers=coord).json()["code"]
    yellow = client.post("/api/v1/healthcode/statuses/p-yellow/code", json={}, headers=coord).json()["code"]

    def enter(ref: str, code: str) -> dict[str, object]:
        r = client.post(f"/api/v1/healthcode/employers/{emp_id}/entrance", json={"ref": ref, "code": code}, headers=k)
        assert r.status_code == 200, r.text
        return r.json()

    assert enter("e1", green) == {"admitted": True, "reason": "admitted"}
    assert enter("e2", yellow)["reason"] == "health code is yellow"
    assert enter("e3", green)["reason"] == "fever declared"
    assert enter("e1", "AC1:garbage")["reason"].startswith("health code not valid")
    assert enter("e1", green)["admitted"]  # the latest check counts

    s = client.get(f"/api/v1/healthcode/employers/{emp_id}/summary", headers=k).json()
    assert s["employees"] == 3 and s["declared"] == 2 and s["not_declared"] == 1 and s["declared_fever"] == 1
    assert s["admitted"] == 1 and s["refused_by_reason"] == {"fever declared": 1, "health code is yellow": 1}
    assert "e1" not in str(s) and "GA" not in str(s)  # aggregates only: no references, no identities
    assert datetime.now(UTC).date() == date.fromisoformat(s["day"])

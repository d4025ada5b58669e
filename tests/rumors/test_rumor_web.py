"""The API under /api/v1/rumors and the public pages under /public/rumors through the ASGI client: problem
documents, tokens and scope, duplicates (409), limits, escaping everywhere, the feed, the question form."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from tests.conftest import SMALL_TREE

import accord.app
from accord.auth import service as auth
from accord.db import session_factory, transaction
from accord.places import service as places
from accord.rumors import pages
from accord.settings import Settings

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from accord import migrate
    from accord.db import make_engine

    path: Path = tmp_path_factory.mktemp("rumors")
    engine: Engine = make_engine(f"sqlite:///{path / 'accord.db'}")
    migrate.upgrade(engine)
    with transaction(session_factory(engine)) as s:
        places.import_places(s, SMALL_TREE)
        auth.add_user(s, "coord", "coordinator", "AR-01")
        auth.add_user(s, "chief", "coordinator", "AR")
        auth.add_user(s, "reporter", "reporter", "AR-01-01")
    with transaction(session_factory(engine)) as s:
        tokens = {u: auth.issue_token(s, u) for u in ("coord", "chief", "reporter")}
    engine.dispose()
    app = accord.app.create_app(Settings(data_dir=path, max_upload_bytes=200_000))
    pages.install(app)
    with TestClient(app) as c:
        c.tokens = tokens  # type: ignore[attr-defined]
        yield c


def h(client: TestClient, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.tokens[user]}"}  # type: ignore[attr-defined]


def publish(client: TestClient, body: dict[str, object]) -> int:
    r = client.post("/api/v1/rumors", json=body, headers=h(client, "coord"))
    assert r.status_code == 201, r.text
    cid = int(r.json()["id"])
    assert client.post(f"/api/v1/rumors/{cid}/review", headers=h(client, "chief")).status_code == 200
    assert client.post(f"/api/v1/rumors/{cid}/publish", headers=h(client, "coord")).status_code == 200
    return cid


CLAIM = {
    "text": "Drinking hot water kills the coronavirus",
    "verdict": "false",
    "explanation": "Hot water cannot reach the virus inside cells.\nWash your hands instead.",
    "jurisdiction": "AR-01",
    "language": "en",
    "sources": [{"title": "Health commission Q&A", "url": "https://health.example/qa?a=1&b=2"}],
}


@pytest.fixture(scope="module")
def ids(client: TestClient) -> dict[str, int]:
    return {
        "water": publish(client, CLAIM),
        "g5": publish(client, {**CLAIM, "text": "5G基站会传播新冠肺炎", "language": "zh", "verdict": "false"}),
        "xss": publish(
            client,
            {
                **CLAIM,
                "text": f"Masks cause CO2 poisoning {XSS}",
                "explanation": f"They do not. {XSS}",
                "verdict": "misleading",
                "sources": [{"title": XSS, "url": "https://example.org/?q=a&b='x'"}],
                "seen_where": XSS,
            },
        ),
    }


def test_registry_api_needs_a_reviewer_in_scope(client: TestClient, ids: dict[str, int]) -> None:
    r = client.post("/api/v1/rumors", json={**CLAIM, "text": "Garlic cures everything"})
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    r = client.post("/api/v1/rumors", json={**CLAIM, "text": "Garlic cures everything"}, headers=h(client, "reporter"))
    assert r.status_code == 403
    r = client.post(
        "/api/v1/rumors", json={**CLAIM, "text": "Bats in every city", "jurisdiction": "AR"}, headers=h(client, "coord")
    )
    assert r.status_code == 403 and "outside their jurisdiction" in r.json()["detail"]


def test_duplicate_is_409_naming_the_existing_claim_unless_forced(client: TestClient, ids: dict[str, int]) -> None:
    dup = {**CLAIM, "text": "drinking HOT WATER kills the corona virus!!"}
    r = client.post("/api/v1/rumors", json=dup, headers=h(client, "coord"))
    assert r.status_code == 409
    body = r.json()
    assert body["type"] == "/problems/conflict" and f"claim {ids['water']}" in body["detail"]
    assert body["errors"][0]["code"] == "duplicate"
    r = client.post("/api/v1/rumors", params={"force": "true"}, json=dup, headers=h(client, "coord"))
    assert r.status_code == 201 and r.json()["status"] == "draft"
    # drafts are invisible to the public and in public matching
    assert client.get(f"/api/v1/rumors/{r.json()['id']}").status_code == 404
    assert client.get(f"/api/v1/rumors/{r.json()['id']}", headers=h(client, "chief")).json()["status"] == "draft"


def test_bad_messages_are_problem_documents(client: TestClient, ids: dict[str, int]) -> None:
    for body, status, code in (
        ({"message": ""}, 422, "empty"),
        ({"message": "   !!! "}, 422, "empty"),
        ({"message": "a" * 5001}, 413, "too-long"),
        ({"message": "bin\x00ary\x01\x02"}, 422, "binary"),
    ):
        r = client.post("/api/v1/rumors/match", json=body)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"] == "application/problem+json" and r.json()["errors"][0]["code"] == code
    assert client.post("/api/v1/rumors/match", json={"message": "a" * 100_000}).status_code == 422  # HTTP cap
    r = client.post(
        "/api/v1/rumors/match", content=b"\xff\xfe\x00garbage", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert client.post("/api/v1/rumors/match", json={"messages": ["x"] * 1001}).status_code == 413


def test_match_one_and_a_batch(client: TestClient, ids: dict[str, int]) -> None:
    r = client.post(
        "/api/v1/rumors/match", json={"message": "is the coronavirus killed by hot water drinking?", "k": 2}
    )
    top = r.json()["matches"][0]
    assert top["claim_id"] == ids["water"] and top["verdict"] == "false" and 0 < top["score"] <= 1
    r = client.post("/api/v1/rumors/match", json={"messages": ["新冠肺炎是通过5G基站传播的", "ภาษาไทย"]})
    data = r.json()["data"]
    assert data[0]["matches"][0]["claim_id"] == ids["g5"] and data[1]["matches"] == []


def test_list_search_history_and_edit(client: TestClient, ids: dict[str, int]) -> None:
    body = client.get("/api/v1/rumors", params={"q": "5G 传播"}).json()
    assert body["data"][0]["id"] == ids["g5"]
    assert client.get("/api/v1/rumors", params={"verdict": "misleading"}).json()["total"] == 1
    assert client.get("/api/v1/rumors", params={"status": "draft"}).status_code == 403
    r = client.patch(f"/api/v1/rumors/{ids['water']}", json={"verdict": "misleading"}, headers=h(client, "coord"))
    assert r.status_code == 422 and "reason" in r.text
    r = client.patch(
        f"/api/v1/rumors/{ids['water']}",
        json={"explanation": CLAIM["explanation"] + " Updated.", "reason": "clearer wording"},
        headers=h(client, "coord"),
    )
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["status"] == "published"
    hist = client.get(f"/api/v1/rumors/{ids['water']}/history").json()["data"]
    assert [x["action"] for x in hist][-1] == "edited" and hist[-1]["reason"] == "clearer wording"


def test_questions_land_in_the_reviewers_queue(client: TestClient, ids: dict[str, int]) -> None:
    r = client.post("/api/v1/rumors/questions", json={"text": "Does 5G spread COVID? 5G基站传播新冠?"})
    assert r.status_code == 201 and r.json()["suggestions"][0]["claim_id"] == ids["g5"]
    assert client.get("/api/v1/rumors/questions").status_code == 401
    # questions have no place: the national reviewers answer them, a province's coordinator does not see them
    assert client.get("/api/v1/rumors/questions", headers=h(client, "coord")).status_code == 403
    queue = client.get("/api/v1/rumors/questions", headers=h(client, "chief")).json()
    assert any(q["id"] == r.json()["id"] for q in queue["data"])
    refused = client.post(
        f"/api/v1/rumors/questions/{r.json()['id']}", json={"claim_id": ids["g5"]}, headers=h(client, "coord")
    )
    assert refused.status_code == 403
    done = client.post(
        f"/api/v1/rumors/questions/{r.json()['id']}", json={"claim_id": ids["g5"]}, headers=h(client, "chief")
    )
    assert done.json()["status"] == "answered"


def test_claimreview_export_and_import_over_http(client: TestClient, ids: dict[str, int]) -> None:
    r = client.get("/api/v1/rumors/export")
    assert r.headers["content-type"].startswith("application/ld+json")
    graph = r.json()["@graph"]
    assert {g["claimReviewed"] for g in graph} >= {CLAIM["text"], "5G基站会传播新冠肺炎"}
    r = client.post("/api/v1/rumors/import", content=json.dumps(graph).encode(), headers=h(client, "chief"))
    assert r.status_code == 201 and r.json()["n_added"] == 0 and r.json()["n_skipped"] == len(graph)
    single = client.get(f"/api/v1/rumors/{ids['water']}/claimreview").json()
    assert single["reviewRating"]["alternateName"] == "False"


def test_public_list_search_and_twin(client: TestClient, ids: dict[str, int]) -> None:
    r = client.get("/public/rumors")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert 'href="/public/rumors/feed.atom"' in r.text and f'data-id="{ids["water"]}"' in r.text
    r = client.get("/public/rumors", params={"q": "hot water kills virus", "lang": "zh"})
    assert r.text.index(f'data-id="{ids["water"]}"') < r.text.index("</ul>") and "辟谣" in r.text
    js = client.get("/public/rumors.json", params={"q": "hot water"}).json()
    assert js["data"][0]["id"] == ids["water"] and js["data"][0]["score"] > 0
    # a bad query is a message on the page, not a crash
    r = client.get("/public/rumors", params={"q": "x" * 6000})
    assert r.status_code == 200 and 'id="problem"' in r.text


def test_claim_page_escapes_everything(client: TestClient, ids: dict[str, int]) -> None:
    r = client.get(f"/public/rumors/{ids['xss']}")
    assert r.status_code == 200
    html = r.text
    assert "<script>alert" not in html and "onerror=alert(1)>" not in html.replace("&gt;", "")
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    # the JSON-LD cannot close its script element
    ld = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert ld is not None and "<" not in ld.group(1)
    assert json.loads(ld.group(1))["claimReviewed"].endswith(XSS)
    assert 'href="https://example.org/?q=a&amp;b=&#39;x&#39;"' in html
    twin = client.get(f"/public/rumors/{ids['xss']}.json").json()
    assert twin["seen_where"] == XSS and twin["history"][0]["action"] == "created"
    assert client.get(f"/public/rumors/{ids['xss']}.jsonld").json()["@type"] == "ClaimReview"
    nf = client.get("/public/rumors/99999")
    assert nf.status_code == 404 and "text/html" in nf.headers["content-type"]
    assert client.get("/public/rumors/99999.json").status_code == 404
    assert client.get("/public/rumors/%3Cscript%3E").status_code == 404


def test_feed_is_well_formed_and_escaped(client: TestClient, ids: dict[str, int]) -> None:
    r = client.get("/public/rumors/feed.atom")
    assert r.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(r.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = root.findall("a:entry", ns)
    assert len(entries) >= 3
    titles = [e.findtext("a:title", namespaces=ns) or "" for e in entries]
    assert any(XSS[:20] in t for t in titles)  # survives as text, parsed back exactly
    assert "<script>" not in r.text


def test_question_form_lands_in_the_queue_with_suggestions(client: TestClient, ids: dict[str, int]) -> None:
    form = client.get("/public/rumors/ask")
    assert form.status_code == 200 and 'name="text"' in form.text
    r = client.post("/public/rumors/ask", data={"text": f"hot water kills the virus? {XSS}"})
    assert r.status_code == 201 and 'id="thanks"' in r.text and "<script>alert" not in r.text
    assert f'href="/public/rumors/{ids["water"]}"' in r.text
    bad = client.post("/public/rumors/ask", data={"text": "   "})
    assert bad.status_code == 422 and 'id="problem"' in bad.text
    js = client.post("/public/rumors/ask.json", data={"text": "5G基站传播新冠"})
    assert js.status_code == 201 and js.json()["suggestions"][0]["claim_id"] == ids["g5"]
    queue = client.get("/api/v1/rumors/questions", headers=h(client, "chief")).json()["data"]
    assert any(q["text"].startswith("hot water kills the virus?") for q in queue)


def test_disclosure_pages_still_work_beside_ours(client: TestClient) -> None:
    assert client.get("/public/AR.json").status_code == 200
    assert client.get("/public/AR/errata.json").status_code == 200

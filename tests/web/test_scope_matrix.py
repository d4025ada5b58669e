"""The scope matrix: every route of the app is public (an explicit allow-list), authenticated by other means (a
list with the reason), or checked here for every role x level x placement of the object it touches.

For each non-public route (every write, every read of non-public data) a request is built for an object at a
known community (``scope_world``) and sent by a user of each role (reporter, coordinator, analyst, admin, tracer,
dpo) at each level (country, province, city, community), for the object in their scope, in a sibling's and in
another province; also by an administrator of the whole tree and by the public. Allowed means the role may and
the object is in the actor's subtree (or strictly below it, or the actor is national, per the route's rule):
then 2xx. Otherwise 401/403/404, never 2xx with the data (a filtered read may answer 200 without it), never 5xx.

Every probe runs in a transaction rolled back after it, so each sees the same world: one app and one store per
database per module. A route that is neither public, nor listed with its credentials, nor in the matrix fails
``test_every_route_is_public_or_in_the_matrix``: nobody adds an unchecked route.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import sessionmaker
from starlette.routing import compile_path
from tests.conftest import create_pg_database, drop_pg_database, migrated_sqlite
from tests.web.scope_world import (
    COMMUNITIES,
    D0,
    IN,
    LEVELS,
    OTHER,
    PLACEMENTS,
    SIB_COMMUNITY,
    SUPERADMIN,
    TREE,
    World,
    build,
    user,
)

import accord.app
from accord.auth.roles import Role
from accord.db import make_engine, session_factory
from accord.settings import Settings
from accord.tracing import crypto

R = Role
ALL = frozenset(Role)
SUBMITTERS = frozenset({R.REPORTER, R.COORDINATOR, R.ADMIN})
APPROVERS = frozenset({R.COORDINATOR, R.ADMIN})
PERSONAL = frozenset({R.TRACER, R.COORDINATOR, R.ADMIN})
AUDIT_READERS = frozenset({R.DPO, R.ADMIN})

Request = dict[str, Any]
Builder = Callable[[World, str], Request]
Leak = Callable[[World, str, httpx.Response], bool]


@dataclass(frozen=True)
class Check:
    """One non-public use of a route: who may (``who``, ``rule``), and the request for an object at a place."""

    method: str
    path: str  # the route's template, as the app declares it
    who: frozenset[Role]
    request: Builder
    #: scope: the object in the actor's subtree; above: strictly below the actor's own jurisdiction; national: the
    #: actor at the top of the tree (no object place); own: the actor's own scope; whole-tree: scope-less admins
    rule: str = "scope"
    #: a read that answers 200 filtered: does this answer hold the data of the object at that place?
    leak: Leak | None = None
    ok: frozenset[int] = frozenset({200, 201})
    variant: str = ""

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}{' ' + self.variant if self.variant else ''}"


def get(url: str, **params: Any) -> Request:
    return {"url": url, "params": params}


def send(url: str, body: Any = None, **params: Any) -> Request:
    return {"url": url, "json": body, "params": params}


def upload(url: str, text: str, **params: Any) -> Request:
    return {"url": url, "content": text.encode(), "params": params}


def other_than(place: str) -> str:
    return SIB_COMMUNITY if place == IN else IN


def rows(response: httpx.Response) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = response.json().get("data", [])
    return data


DAY, NEXT = D0.isoformat(), (D0 + timedelta(days=1)).isoformat()
CLAIM_REVIEW = {
    "@context": "https://schema.org",
    "@type": "ClaimReview",
    "claimReviewed": "Onions in a pocket ward off the virus",
    "reviewRating": {"@type": "Rating", "alternateName": "False"},
    "reviewBody": "No evidence supports it.",
}
LINE_LIST = (
    "CaseID,Related cases,date_onset_symptoms,date_confirmation,outcome,date_discharge,sex,age,travel_history\n"
    "1,2,2020-02-01,2020-02-03,,,M,30,\n2,1,2020-02-04,2020-02-06,,,F,40,\n"
)
V1, HC, TR, RS = "/api/v1", "/api/v1/healthcode", "/api/v1/tracing", "/api/v1/resources"

CHECKS: list[Check] = [
    # ------------------------------------------------------------------------------------------ surveillance
    Check(
        "POST",
        f"{V1}/submissions",
        SUBMITTERS,
        lambda w, p: send(
            f"{V1}/submissions",
            {"observations": [{"jurisdiction": p, "date": NEXT, "indicator": "new_confirmed", "value": 2}]},
        ),
    ),
    Check(
        "POST",
        f"{V1}/imports",
        SUBMITTERS,
        lambda w, p: upload(
            f"{V1}/imports",
            f"jurisdiction,date,indicator,disaggregation,value,reason\n{p},{NEXT},new_confirmed,,2,\n",
            format="csv",
            filename="day.csv",
        ),
    ),
    Check(
        "GET",
        f"{V1}/series",
        ALL,
        lambda w, p: get(f"{V1}/series", jurisdiction=p, indicator="new_confirmed", view="all"),
        variant="view=all",
    ),
    Check(
        "GET",
        f"{V1}/history",
        ALL,
        lambda w, p: get(f"{V1}/history", jurisdiction=p, indicator="new_confirmed", date=DAY),
        leak=lambda w, p, r: len(rows(r)) > 0,
        variant="of a provisional day",
    ),
    Check("GET", f"{V1}/flags", ALL, lambda w, p: get(f"{V1}/flags", jurisdiction=p)),
    Check(
        "POST",
        f"{V1}/approvals",
        APPROVERS,
        lambda w, p: send(f"{V1}/approvals", {"jurisdiction": p, "dates": [DAY]}),
        rule="above",
    ),
    Check(
        "POST",
        f"{V1}/holds",
        APPROVERS,
        lambda w, p: send(f"{V1}/holds", {"jurisdiction": p, "dates": [DAY]}),
        rule="above",
    ),
    # ------------------------------------------------------------------ analytics over provisional figures
    Check(
        "GET",
        f"{V1}/analytics/rt",
        ALL,
        lambda w, p: get(f"{V1}/analytics/rt", jurisdiction=p, view="all", include_self=True),
        variant="view=all",
    ),
    Check(
        "GET",
        f"{V1}/analytics/rt/latest",
        ALL,
        lambda w, p: get(f"{V1}/analytics/rt/latest", jurisdiction=p, level="community", view="all"),
        variant="view=all",
    ),
    Check(
        "GET",
        f"{V1}/analytics/hospital",
        ALL,
        lambda w, p: get(f"{V1}/analytics/hospital", jurisdiction=p, view="all"),
        variant="view=all",
    ),
    Check(
        "POST",
        f"{V1}/analytics/hospital",
        ALL,
        lambda w, p: upload(
            f"{V1}/analytics/hospital", f"jurisdiction,beds,icu_beds\n{p},10,2\n", jurisdiction=p, view="all"
        ),
        variant="view=all",
    ),
    Check("GET", f"{V1}/analytics/nowcast", ALL, lambda w, p: get(f"{V1}/analytics/nowcast", jurisdiction=p)),
    Check(
        "GET",
        f"{V1}/analytics/forecast",
        ALL,
        lambda w, p: get(
            f"{V1}/analytics/forecast", jurisdiction=p, level="community", view="all", members=2, horizon=3
        ),
        variant="view=all",
    ),
    Check(
        "GET",
        f"{V1}/analytics/scenario",
        ALL,
        lambda w, p: get(
            f"{V1}/analytics/scenario", jurisdiction=p, level="community", view="all", members=2, horizon=3
        ),
        variant="view=all",
    ),
    # ---------------------------------------------------------------------------------------------- policy
    Check(
        "POST",
        f"{V1}/policy/measures",
        APPROVERS,
        lambda w, p: send(f"{V1}/policy/measures", {"jurisdiction": p, "indicator": "C2", "level": 1, "start": DAY}),
    ),
    Check(
        "POST",
        f"{V1}/policy/measures/{{measure_id}}/end",
        APPROVERS,
        lambda w, p: send(f"{V1}/policy/measures/{w.at[p].measure}/end", {"end": NEXT}),
    ),
    Check("GET", f"{V1}/policy/inbox/{{code}}", ALL, lambda w, p: get(f"{V1}/policy/inbox/{p}")),
    Check("POST", f"{V1}/policy/inbox/{{code}}/read", ALL, lambda w, p: send(f"{V1}/policy/inbox/{p}/read")),
    Check(
        "POST",
        f"{V1}/policy/risk/rules",
        APPROVERS,
        lambda w, p: send(f"{V1}/policy/risk/rules", {"version": "scope-1"}),
        rule="whole-tree",
    ),
    Check(
        "POST",
        f"{V1}/policy/risk/classify",
        APPROVERS,
        lambda w, p: send(f"{V1}/policy/risk/classify", {"root": p, "start": DAY}),
    ),
    # ------------------------------------------------------------------------------------------- resources
    Check(
        "POST",
        f"{RS}/movements",
        SUBMITTERS,
        lambda w, p: send(
            f"{RS}/movements",
            {
                "movement": "receipt",
                "resource": "n95",
                "quantity": 5,
                "from": f"supply:{p}",
                "to": f"stock:{p}",
                "day": DAY,
            },
        ),
        variant="receipt at the place",
    ),
    Check(
        "POST",
        f"{RS}/movements",
        SUBMITTERS,
        lambda w, p: send(
            f"{RS}/movements",
            {
                "movement": "transfer",
                "resource": "n95",
                "quantity": 5,
                "from": f"stock:{IN}",
                "to": f"stock:{p}:depot",
                "day": DAY,
            },
        ),
        variant="transfer from one's own stock to the place",
    ),
    Check(
        "POST",
        f"{RS}/transactions/{{txn_id}}/reversal",
        SUBMITTERS,
        lambda w, p: send(f"{RS}/transactions/{w.at[p].receipt}/reversal", {"reason": "booked twice"}),
    ),
    Check(
        "POST",
        f"{RS}/needs",
        SUBMITTERS,
        lambda w, p: send(
            f"{RS}/needs", {"jurisdiction": p, "resource": "n95", "quantity": 5, "justification": "ward"}
        ),
    ),
    Check("POST", f"{RS}/needs/{{need_id}}/close", APPROVERS, lambda w, p: send(f"{RS}/needs/{w.at[p].need}/close")),
    Check(
        "POST",
        f"{RS}/offers",
        SUBMITTERS,
        lambda w, p: send(f"{RS}/offers", {"jurisdiction": p, "resource": "n95", "quantity": 5}),
    ),
    Check(
        "POST", f"{RS}/offers/{{offer_id}}/close", APPROVERS, lambda w, p: send(f"{RS}/offers/{w.at[p].offer}/close")
    ),
    Check(
        "PUT",
        f"{RS}/routes",
        APPROVERS,
        lambda w, p: send(f"{RS}/routes", {"origin": p, "destination": other_than(p), "lead_days": 2}),
    ),
    Check(
        "PUT",
        f"{RS}/pairings",
        APPROVERS,
        lambda w, p: send(f"{RS}/pairings", {"supporter": p, "supported": other_than(p)}),
    ),
    Check(
        "POST",
        f"{RS}/plans",
        APPROVERS,
        lambda w, p: send(f"{RS}/plans", {"root": p, "resources": ["n95"], "horizon_days": 7, "start": DAY}),
    ),
    Check(
        "PATCH",
        f"{RS}/plans/{{plan_id}}/shipments/{{shipment_id}}",
        APPROVERS,
        lambda w, p: send(f"{RS}/plans/{w.at[p].proposed_plan}/shipments/{w.at[p].proposed_shipment}", {"quantity": 1}),
    ),
    Check(
        "POST",
        f"{RS}/plans/{{plan_id}}/approval",
        APPROVERS,
        lambda w, p: send(f"{RS}/plans/{w.at[p].proposed_plan}/approval"),
    ),
    Check(
        "POST",
        f"{RS}/shipments/{{shipment_id}}/receipts",
        SUBMITTERS,
        lambda w, p: send(f"{RS}/shipments/{w.at[p].dispatched_shipment}/receipts", {"quantity": 1, "day": NEXT}),
    ),
    Check(
        "POST",
        f"{RS}/capacity",
        SUBMITTERS,
        lambda w, p: upload(f"{RS}/capacity", f"date,jurisdiction,measure,value,unit\n{DAY},{p},n95,20,\n"),
    ),
    Check(
        "GET",
        f"{RS}/warnings",
        ALL,
        lambda w, p: get(f"{RS}/warnings", root=p, date=DAY),
        leak=lambda w, p, r: r.json().get("view") == "all",
        variant="provisional census",
    ),
    # --------------------------------------------------------------------------------------------- rumors
    Check(
        "GET",
        f"{V1}/rumors",
        APPROVERS,
        lambda w, p: get(f"{V1}/rumors", status="draft"),
        leak=lambda w, p, r: w.at[p].draft in {c["id"] for c in rows(r)},
        variant="status=draft",
    ),
    Check("GET", f"{V1}/rumors/questions", APPROVERS, lambda w, p: get(f"{V1}/rumors/questions"), rule="national"),
    Check(
        "POST",
        f"{V1}/rumors/questions/{{question_id}}",
        APPROVERS,
        lambda w, p: send(f"{V1}/rumors/questions/{w.question}", {"claim_id": None}),
        rule="national",
    ),
    Check(
        "POST",
        f"{V1}/rumors/import",
        APPROVERS,
        lambda w, p: upload(f"{V1}/rumors/import", json.dumps(CLAIM_REVIEW), jurisdiction=p),
    ),
    Check(
        "POST",
        f"{V1}/rumors",
        APPROVERS,
        lambda w, p: send(
            f"{V1}/rumors",
            {
                "text": "Drinking bleach cures the virus",
                "verdict": "false",
                "explanation": "It poisons.",
                "jurisdiction": p,
            },
            force="true",
        ),
    ),
    Check(
        "GET",
        f"{V1}/rumors/{{claim_id}}",
        APPROVERS,
        lambda w, p: get(f"{V1}/rumors/{w.at[p].draft}"),
        variant="a draft",
    ),
    Check(
        "GET",
        f"{V1}/rumors/{{claim_id}}/history",
        APPROVERS,
        lambda w, p: get(f"{V1}/rumors/{w.at[p].draft}/history"),
        variant="a draft",
    ),
    Check(
        "GET",
        f"{V1}/rumors/{{claim_id}}/claimreview",
        APPROVERS,
        lambda w, p: get(f"{V1}/rumors/{w.at[p].draft}/claimreview"),
        variant="a draft",
    ),
    Check(
        "PATCH",
        f"{V1}/rumors/{{claim_id}}",
        APPROVERS,
        lambda w, p: send(f"{V1}/rumors/{w.at[p].draft}", {"explanation": "No study shows it."}),
    ),
    Check(
        "POST", f"{V1}/rumors/{{claim_id}}/review", APPROVERS, lambda w, p: send(f"{V1}/rumors/{w.at[p].draft}/review")
    ),
    Check(
        "POST",
        f"{V1}/rumors/{{claim_id}}/publish",
        APPROVERS,
        lambda w, p: send(f"{V1}/rumors/{w.at[p].reviewed}/publish"),
    ),
    # ----------------------------------------------------------------------------------------- health codes
    Check("POST", f"{HC}/rules", APPROVERS, lambda w, p: send(f"{HC}/rules", w.extra["rules"]), rule="whole-tree"),
    Check("GET", f"{HC}/statuses/{{person_id}}", PERSONAL, lambda w, p: get(f"{HC}/statuses/{w.at[p].person}")),
    Check(
        "POST",
        f"{HC}/statuses/{{person_id}}/code",
        PERSONAL,
        lambda w, p: send(f"{HC}/statuses/{w.at[p].person}/code", {}),
    ),
    Check(
        "POST",
        f"{HC}/statuses/{{person_id}}/override",
        APPROVERS,
        lambda w, p: send(
            f"{HC}/statuses/{w.at[p].person}/override", {"colour": "green", "reason": "lab: false positive"}
        ),
    ),
    Check(
        "GET",
        f"{HC}/statuses/{{person_id}}/holder-link",
        PERSONAL,
        lambda w, p: get(f"{HC}/statuses/{w.at[p].person}/holder-link"),
    ),
    Check(
        "POST", f"{HC}/employers", APPROVERS, lambda w, p: send(f"{HC}/employers", {"name": "Mill", "jurisdiction": p})
    ),
    # --------------------------------------------------------------------------------------------- tracing
    Check("POST", f"{TR}/persons", PERSONAL, lambda w, p: send(f"{TR}/persons", {"residence": p, "name": "Cy New"})),
    Check("GET", f"{TR}/persons/{{ref}}", PERSONAL, lambda w, p: get(f"{TR}/persons/{w.at[p].person}")),
    Check(
        "GET",
        f"{TR}/persons/{{ref}}/identity",
        PERSONAL,
        lambda w, p: get(f"{TR}/persons/{w.at[p].person}/identity", why="follow-up call"),
    ),
    Check(
        "POST",
        f"{TR}/persons/{{ref}}/merge",
        PERSONAL,
        lambda w, p: send(f"{TR}/persons/{w.at[p].person}/merge", {"drop": w.at[p].duplicate, "reason": "same person"}),
    ),
    Check("GET", f"{TR}/duplicates/{{root}}", PERSONAL, lambda w, p: get(f"{TR}/duplicates/{p}")),
    Check(
        "POST",
        f"{TR}/cases",
        PERSONAL,
        lambda w, p: send(
            f"{TR}/cases", {"person": w.at[p].contact, "classification": "suspected", "report_date": DAY}
        ),
    ),
    Check(
        "PATCH",
        f"{TR}/cases/{{case_id}}",
        PERSONAL,
        lambda w, p: send(f"{TR}/cases/{w.at[p].case}", {"reason": "ward report", "severity": "severe"}),
    ),
    Check(
        "POST",
        f"{TR}/contacts",
        PERSONAL,
        lambda w, p: send(
            f"{TR}/contacts", {"source": w.at[p].person, "contact": w.at[p].duplicate, "last_exposure": DAY}
        ),
    ),
    Check("GET", f"{TR}/tasks", PERSONAL, lambda w, p: get(f"{TR}/tasks", scope=p), variant="scope=place"),
    Check(
        "POST",
        f"{TR}/tasks",
        PERSONAL,
        lambda w, p: send(f"{TR}/tasks", {"kind": "delivery", "community": p, "due_date": DAY}),
    ),
    Check(
        "POST",
        f"{TR}/tasks/{{task_id}}/outcome",
        PERSONAL,
        lambda w, p: send(f"{TR}/tasks/{w.at[p].task}/outcome", {"outcome": "screened"}),
    ),
    Check("POST", f"{TR}/tasks/generate", APPROVERS, lambda w, p: send(f"{TR}/tasks/generate"), rule="national"),
    Check("GET", f"{TR}/escalations", PERSONAL, lambda w, p: get(f"{TR}/escalations", scope=p), variant="scope=place"),
    Check("GET", f"{TR}/chains/{{root}}", PERSONAL | {R.ANALYST, R.DPO}, lambda w, p: get(f"{TR}/chains/{p}")),
    Check(
        "GET",
        f"{TR}/chains/{{root}}/statistics",
        PERSONAL | {R.ANALYST, R.DPO},
        lambda w, p: get(f"{TR}/chains/{p}/statistics"),
    ),
    Check(
        "GET",
        f"{TR}/reconciliation/{{root}}",
        PERSONAL | {R.ANALYST},
        lambda w, p: get(f"{TR}/reconciliation/{p}", start=DAY, end=DAY, format="csv"),
    ),
    Check("GET", f"{TR}/export/{{root}}", PERSONAL | {R.ANALYST}, lambda w, p: get(f"{TR}/export/{p}", format="csv")),
    Check(
        "GET",
        f"{TR}/export/{{root}}",
        PERSONAL,
        lambda w, p: get(f"{TR}/export/{p}", personal="true", format="csv"),
        variant="personal=true",
    ),
    Check("GET", f"{TR}/audit/{{root}}", AUDIT_READERS, lambda w, p: get(f"{TR}/audit/{p}")),
    Check(
        "POST",
        f"{TR}/imports",
        PERSONAL,
        lambda w, p: upload(f"{TR}/imports", LINE_LIST, root=p, file="sg.csv", mapping="tindale2020-singapore"),
    ),
    Check("GET", "/tracing/tasks", PERSONAL, lambda w, p: get("/tracing/tasks"), rule="own"),
    Check("GET", "/tracing/tasks.json", PERSONAL, lambda w, p: get("/tracing/tasks.json"), rule="own"),
    Check(
        "POST",
        "/tracing/tasks/{task_id}/outcome",
        PERSONAL,
        lambda w, p: {"url": f"/tracing/tasks/{w.at[p].task}/outcome", "data": {"outcome": "screened"}},
        ok=frozenset({303}),
    ),
    Check(
        "GET", "/tracing/chains/{name}", PERSONAL | {R.ANALYST, R.DPO}, lambda w, p: get(f"/tracing/chains/{p}.json")
    ),
    Check("GET", "/tracing/audit/{name}", AUDIT_READERS, lambda w, p: get(f"/tracing/audit/{p}.json")),
    # ------------------------------------------------------------------------------------------ federation
    Check(
        "POST",
        f"{V1}/federation/pool/runs",
        APPROVERS,
        lambda w, p: send(f"{V1}/federation/pool/runs", {"start": DAY, "days": 5}),
        rule="national",
    ),
    Check("GET", f"{V1}/federation/inbox", APPROVERS, lambda w, p: get(f"{V1}/federation/inbox"), rule="national"),
]

#: routes anyone may use: reads of what is published, the public's forms, static files and documentation
PUBLIC: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/"), ("GET", "/api/v1/health"), ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc"),
        ("GET", "/openapi.json"), ("HEAD", "/openapi.json"),
        ("MOUNT", "/static-offline-docs"), ("MOUNT", "/public/_static"), ("MOUNT", "/tracing/_static"),
        # places and published figures (view=public; the view=all variants are in the matrix)
        ("GET", f"{V1}/jurisdictions"), ("GET", f"{V1}/jurisdictions/{{code}}"),
        ("GET", f"{V1}/jurisdictions/{{code}}/subtree"), ("GET", f"{V1}/indicators"), ("GET", f"{V1}/series"),
        ("GET", f"{V1}/history"), ("GET", f"{V1}/report-days"), ("GET", f"{V1}/compliance"), ("GET", f"{V1}/export"),
        ("GET", f"{V1}/analytics/rt"), ("GET", f"{V1}/analytics/rt/latest"), ("GET", f"{V1}/analytics/hospital"),
        ("POST", f"{V1}/analytics/hospital"), ("GET", f"{V1}/analytics/forecast"), ("GET", f"{V1}/analytics/scenario"),
        ("GET", f"{V1}/capacity"), ("GET", f"{V1}/scenarios/grid"),
        # disclosure, analytics, capacity and scenario pages with their twins and scripts
        ("GET", "/public"), ("GET", "/public/{name}"), ("GET", "/public/{code}/{view}"),
        ("GET", "/public/_vendor/plotly.min.js"), ("GET", "/public/_analytics/rt.js"),
        ("GET", "/public/_analytics/forecast.js"), ("GET", "/public/_capacity/capacity.js"),
        ("GET", "/public/_scenarios/scenario_grid.js"),
        *(("GET", f"/public/{{code}}/{view}{ext}") for view in ("rt", "forecast", "capacity", "scenarios")
          for ext in ("", ".json", ".csv")),
        # policy: the registry, what is in force, indices, risk areas and rules (issuing is in the matrix)
        ("GET", f"{V1}/policy/indicators"), ("GET", f"{V1}/policy/measures"), ("GET", f"{V1}/policy/in-force/{{code}}"),
        ("GET", f"{V1}/policy/indices/{{code}}"), ("GET", f"{V1}/policy/risk/rules"), ("GET", f"{V1}/policy/risk"),
        ("GET", f"{V1}/policy/risk/{{code}}/history"), ("GET", "/public/policy/risk"),
        ("GET", "/public/policy/risk.json"), ("GET", "/public/policy/risk.csv"),
        ("GET", "/public/policy/in-force/{name}"), ("GET", "/public/policy/measures"),
        ("GET", "/public/policy/measures.json"), ("GET", "/public/policy/measures.csv"),
        # resources: transparency by default (the early warning's provisional census is in the matrix)
        *(("GET", f"{RS}/{p}") for p in ("catalog", "rules", "stock", "transactions", "needs", "offers", "routes",
                                         "pairings", "plans", "plans/{plan_id}", "plans/{plan_id}/shipments",
                                         "warnings")),
        ("GET", "/public/resources/plans/{name}"), ("GET", "/public/resources/{name}"),
        ("GET", "/public/resources/{code}/plans"), ("GET", "/public/resources/{code}/plans.{ext}"),
        # rumors: published claims, matching, the public's questions, pages and feed (drafts are in the matrix)
        ("GET", f"{V1}/rumors"), ("POST", f"{V1}/rumors/match"), ("POST", f"{V1}/rumors/questions"),
        ("GET", f"{V1}/rumors/export"), ("GET", f"{V1}/rumors/{{claim_id}}"),
        ("GET", f"{V1}/rumors/{{claim_id}}/history"), ("GET", f"{V1}/rumors/{{claim_id}}/claimreview"),
        ("GET", "/public/rumors"), ("GET", "/public/rumors.json"), ("GET", "/public/rumors/feed.atom"),
        ("GET", "/public/rumors/ask"), ("GET", "/public/rumors/ask.json"), ("POST", "/public/rumors/ask"),
        ("POST", "/public/rumors/ask.json"), ("GET", "/public/rumors/{name}"),
        # health codes: rules, trust list, verification (offline page too)
        ("GET", f"{HC}/rules"), ("GET", f"{HC}/rules/versions"), ("GET", f"{HC}/rules/{{version}}"),
        ("GET", f"{HC}/trustlist"), ("POST", f"{HC}/verify"), ("GET", "/public/healthcode/verify"),
        ("GET", "/public/healthcode/verifier.js"), ("GET", "/public/healthcode/sw.js"),
        ("GET", "/public/healthcode/rules"), ("GET", "/public/healthcode/rules.json"),
        # EU business rules evaluated on a certificate the caller sends: pure, reads and stores nothing
        ("POST", f"{HC}/rules/evaluate"),
        # tracing: the sign-in form
        ("GET", "/tracing/login"), ("POST", "/tracing/login"), ("POST", "/tracing/logout"),
        # federation: who this instance is, its members, the pool's posts and shipments, the document registry
        ("GET", f"{V1}/federation/identity"), ("GET", f"{V1}/federation/members"),
        ("GET", f"{V1}/federation/pool/shipments"), ("GET", f"{V1}/federation/pool/posts"),
        ("GET", f"{V1}/federation/documents"), ("GET", "/public/federation"), ("GET", "/public/federation.{ext}"),
    }
)  # fmt: skip

#: routes that take no user token but another credential; each is probed with a wrong one where it can be
OTHER_CREDENTIALS: dict[tuple[str, str], str] = {
    **{
        (m, f"{HC}/employers/{{employer_id}}/{p}"): "the employer's own key (X-Employer-Key)"
        for m, p in (("POST", "employees"), ("POST", "entrance"), ("GET", "summary"))
    },
    **{
        ("GET", f"/public/healthcode/me/{{person_id}}/{{token}}{ext}"): "the holder's capability token in the link"
        for ext in ("", ".json")
    },
    **{
        (m, f"/public/healthcode/declare/{{employee_id}}/{{token}}{ext}"): "the employee's capability token"
        for m, ext in (("GET", ""), ("GET", ".json"), ("POST", ""))
    },
    **{
        (m, f"{V1}/federation/{p}"): "between instances: the member's signature (federation transport, #15)"
        for m, p in (
            ("POST", "uploads"), ("PUT", "uploads/{package_id}/chunks/{idx}"), ("POST", "uploads/{package_id}/commit"),
            ("POST", "keys/rotate"), ("GET", "outbox"), ("GET", "outbox/{package_id}"), ("POST", "pool/posts"),
            ("POST", "pool/export-rules"), ("POST", "pool/answers"), ("POST", "documents"),
        )
    },
}  # fmt: skip

#: the credential-bearing routes probed with a wrong credential: never a 2xx
WRONG_CREDENTIALS: list[tuple[str, str, Request]] = [
    ("POST", f"{HC}/employers/1/employees", {"json": {"ref": "e1", "initials": "AB", "birth_day": "01-02"}}),
    ("POST", f"{HC}/employers/1/entrance", {"json": {"ref": "e1", "code": "AC1:X"}}),
    ("GET", f"{HC}/employers/1/summary", {"headers": {"X-Employer-Key": "not-the-key"}}),
    ("GET", "/public/healthcode/me/{person}/0123456789abcdef01234567", {}),
    ("GET", "/public/healthcode/me/{person}/0123456789abcdef01234567.json", {}),
    ("GET", "/public/healthcode/declare/1/0123456789abcdef01234567", {}),
    ("GET", "/public/healthcode/declare/1/0123456789abcdef01234567.json", {}),
]


# ------------------------------------------------------------------------------------------------ the rules
PARENT = dict(zip(TREE["code"], TREE["parent_code"], strict=True))


def within(place: str, scope: str) -> bool:
    at: str | None = place
    while at:
        if at == scope:
            return True
        at = PARENT.get(at) or None
    return False


def allowed(check: Check, role: Role | None, level: str | None, place: str) -> bool:
    """What the rules say. ``level`` None with a role: an administrator of the whole tree; no role: the public."""
    if role is None or role not in check.who:
        return False
    if level is None:
        return True
    if check.rule == "whole-tree":
        return False
    if check.rule == "national":
        return LEVELS[level] == "AR"
    if check.rule == "own":
        return True
    scope = LEVELS[level]
    return within(place, scope) and not (check.rule == "above" and place == scope)


def verdict(check: Check, world: World, place: str, should: bool, r: httpx.Response) -> str | None:
    """None when the answer is what the rules say, else what is wrong with it."""
    if r.status_code >= 500:
        return f"server error {r.status_code}"
    if should:
        if r.status_code not in check.ok:
            return f"refused ({r.status_code}) though allowed"
        if check.leak is not None and not check.leak(world, place, r):
            return "allowed, yet the data is missing"
        return None
    if r.status_code in (401, 403, 404):
        return None
    if r.status_code == 303 and r.headers.get("location", "").startswith("/tracing/login"):
        return None  # a page asks the public to sign in
    if check.leak is not None and r.status_code == 200 and not check.leak(world, place, r):
        return None  # a filtered read: 200 without the data
    return f"answered {r.status_code} though not allowed"


# ---------------------------------------------------------------------------------------------- the world
class Probes:
    """The app on one store; every probe runs in an outer transaction rolled back after it."""

    def __init__(self, client: TestClient, engine: Engine, world: World) -> None:
        self.client, self.world = client, world
        self.connection: Connection = engine.connect()
        self.outer = self.connection.begin()
        # the app's sessions join the outer transaction: their commits release savepoints, nothing persists
        client.app.state.sessions = sessionmaker(  # type: ignore[attr-defined]
            bind=self.connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )

    def send(self, method: str, who: str | None, req: Request) -> httpx.Response:
        req = dict(req)
        headers = {**req.pop("headers", {}), **({"Authorization": f"Bearer {self.world.tokens[who]}"} if who else {})}
        try:
            return self.client.request(method, headers=headers, follow_redirects=False, **req)
        finally:
            self.outer.rollback()
            self.outer = self.connection.begin()

    def close(self) -> None:
        self.outer.rollback()
        self.connection.close()


def _savepoints_on_sqlite(engine: Engine) -> None:
    """pysqlite opens transactions lazily and not before SAVEPOINT: let SQLAlchemy emit BEGIN itself."""

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def probes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Probes]:
    path: Path = tmp_path_factory.mktemp("scope-matrix")
    pg_name = None
    if request.param == "sqlite":
        url = migrated_sqlite(path / "accord.db")
    else:
        pg_name, url = create_pg_database(request.getfixturevalue("pg_admin"), migrated=True)
    crypto.keyring.cache_clear()
    setup = make_engine(url)
    world = build(session_factory(setup))
    setup.dispose()
    app = accord.app.create_app(Settings(database_url=url, data_dir=path))
    engine = make_engine(url)
    if request.param == "sqlite":
        _savepoints_on_sqlite(engine)
    with TestClient(app, raise_server_exceptions=False) as client:
        world.extra["rules"] = {**client.get(f"{HC}/rules").json(), "version": "scope-2"}
        p = Probes(client, engine, world)
        yield p
        p.close()
    engine.dispose()
    if pg_name:
        drop_pg_database(request.getfixturevalue("pg_admin"), pg_name)


# ---------------------------------------------------------------------------------------------- the tests
def _route_keys(app: Any) -> set[tuple[str, str]]:
    keys: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        methods = route.methods or {"MOUNT"}
        keys |= {(m, route.path) for m in methods}
    return keys


def test_every_route_is_public_or_in_the_matrix() -> None:
    app = accord.app.create_app(Settings(database_url="sqlite://"))
    routes = _route_keys(app)
    checked = {(c.method, c.path) for c in CHECKS}
    unchecked = routes - PUBLIC - set(OTHER_CREDENTIALS) - checked
    assert not unchecked, (
        "routes that are neither public (PUBLIC), nor authenticated otherwise (OTHER_CREDENTIALS), nor in the scope "
        f"matrix (CHECKS): {sorted(unchecked)}"
    )
    stale = (PUBLIC | set(OTHER_CREDENTIALS) | checked) - routes
    assert not stale, f"listed routes the app does not have: {sorted(stale)}"
    assert not (set(OTHER_CREDENTIALS) & (PUBLIC | checked)), "a route is listed twice"


def test_every_probe_reaches_its_route() -> None:
    """The URL a check builds matches the route it claims to check (so a typo cannot hit a public route)."""
    from tests.web.scope_world import Objects

    dummy = Objects(person="P01", contact="P02", duplicate="P03")
    world = World({}, dict.fromkeys(COMMUNITIES, dummy), 1, {"rules": {}})
    for check in CHECKS:
        url = check.request(world, IN)["url"]
        regex, _, _ = compile_path(check.path)
        assert regex.match(url), f"{check.id}: {url} is not this route"


@pytest.mark.parametrize("check", [pytest.param(c, id=c.id) for c in CHECKS])
def test_scope_matrix(probes: Probes, check: Check) -> None:
    problems: list[str] = []

    def probe(who: str | None, role: Role | None, level: str | None, label: str, place: str) -> None:
        should = allowed(check, role, level, place)
        r = probes.send(check.method, who, check.request(probes.world, place))
        wrong = verdict(check, probes.world, place, should, r)
        if wrong:
            problems.append(f"{who or 'public'} on {label} ({place}): {wrong}: {r.text[:160]}")

    placed = check.rule in ("scope", "above")
    for level in LEVELS:
        for role in Role:
            for label, place in PLACEMENTS[level] if placed else [("no place", IN)]:
                probe(user(role, level), role, level, label, place)
    if check.rule != "own":  # an admin of the whole tree has no own scope to list
        for place in (IN, OTHER) if placed else (IN,):
            probe(SUPERADMIN, Role.ADMIN, None, "whole tree", place)
    probe(None, None, None, "public", IN)
    assert not problems, f"{check.id}: {len(problems)} wrong answer(s):\n" + "\n".join(problems)


def test_other_credentials_are_refused_when_wrong(probes: Probes) -> None:
    person = probes.world.at[IN].person
    for method, url, req in WRONG_CREDENTIALS:
        r = probes.send(method, None, {"url": url.format(person=person), **req})
        assert r.status_code in (401, 403, 404), (method, url, r.status_code, r.text[:200])


def test_probes_leave_the_world_as_it_was(probes: Probes) -> None:
    """A write that succeeds is rolled back after its probe: the next probe, and the store, see the same world."""
    from sqlalchemy import func, select

    from accord.resources.model import Need

    def stored() -> int:
        with probes.connection.engine.connect() as other:
            return int(other.execute(select(func.count()).select_from(Need)).scalar_one())

    before = stored()
    body = {"jurisdiction": IN, "resource": "n95", "quantity": 5, "justification": "ward"}
    made = probes.send("POST", SUPERADMIN, send(f"{RS}/needs", body))
    assert made.status_code == 201, made.text
    listed = probes.send("GET", None, get(f"{RS}/needs", root=IN))
    assert made.json()["need"] not in {n["id"] for n in rows(listed)}
    assert stored() == before

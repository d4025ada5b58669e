"""The world the scope matrix probes: a tree with four communities in known places, a user for every role at
every level, and objects of every capability (persons, cases, tasks, statuses, stock, needs, offers, plans,
measures, claims, reports) created through the services at each community.

The actors' scopes form one chain (country AR, province AR-01, city AR-01-01, community AR-01-01-001); the four
communities sit where each actor finds one in scope, one in a sibling and one in another province.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from accord.auth import service as auth
from accord.auth.roles import SYSTEM, Role
from accord.db import transaction
from accord.federation import identity as instance_identity
from accord.federation.keys import DEV_KEK
from accord.healthcode import service as healthcode
from accord.places import service as places
from accord.policy import measures
from accord.resources import catalog_store, movements, needs_offers, plans
from accord.rumors import service as rumors
from accord.surveillance import service as surveillance
from accord.tracing import cases, contacts, persons, worklists

TREE = pd.DataFrame(
    [
        ("AR", "Arcadia", "country", "", 1_000_000),
        ("AR-01", "North", "province", "AR", 600_000),
        ("AR-02", "South", "province", "AR", 400_000),
        ("AR-01-01", "Riverton", "city", "AR-01", 350_000),
        ("AR-01-02", "Hillside", "city", "AR-01", 250_000),
        ("AR-02-01", "Bayport", "city", "AR-02", 400_000),
        ("AR-01-01-001", "Old Town", "community", "AR-01-01", 200_000),
        ("AR-01-01-002", "Mill End", "community", "AR-01-01", 150_000),
        ("AR-01-02-001", "Upper Hill", "community", "AR-01-02", 250_000),
        ("AR-02-01-001", "Harbour", "community", "AR-02-01", 400_000),
    ],
    columns=["code", "name", "level", "parent_code", "population"],
).assign(local_name="")

IN, SIB_COMMUNITY, SIB_CITY, OTHER = "AR-01-01-001", "AR-01-01-002", "AR-01-02-001", "AR-02-01-001"
COMMUNITIES = (IN, SIB_COMMUNITY, SIB_CITY, OTHER)
#: the actors' scopes: one chain from the country down to the community every "in scope" object sits in
LEVELS = {"country": "AR", "province": "AR-01", "city": "AR-01-01", "community": IN}
#: for each level, where its objects are: in its subtree, in a sibling's, in another province
PLACEMENTS: dict[str, list[tuple[str, str]]] = {
    "country": [("in scope", IN), ("in scope (other province)", OTHER)],
    "province": [("in scope", IN), ("sibling = other province", OTHER)],
    "city": [("in scope", IN), ("sibling", SIB_CITY), ("other province", OTHER)],
    "community": [("in scope", IN), ("sibling", SIB_COMMUNITY), ("other province", OTHER)],
}
SUPERADMIN = "admin-whole-tree"
D0 = date(2026, 3, 2)
NOW = datetime.now(UTC).replace(microsecond=0)


def user(role: Role, level: str) -> str:
    return f"{role.value}-{level}"


@dataclass
class Objects:
    """What was created at one community (ids and refs the requests name)."""

    person: str = ""  # a case
    contact: str = ""  # a contact of the case
    duplicate: str = ""  # a second record for merges
    case: int = 0
    task: int = 0
    measure: int = 0
    draft: int = 0
    reviewed: int = 0
    need: int = 0
    offer: int = 0
    receipt: int = 0  # a transaction (rice received) to reverse
    proposed_plan: int = 0
    proposed_shipment: int = 0
    dispatched_shipment: int = 0


@dataclass
class World:
    tokens: dict[str, str]
    at: dict[str, Objects]
    question: int
    extra: dict[str, Any] = field(default_factory=dict)


def build(sessions: sessionmaker[Session]) -> World:
    with transaction(sessions) as s:
        places.import_places(s, TREE)
        surveillance.seed_indicators(s)
        catalog_store.ensure_catalog(s)
        for level, scope in LEVELS.items():
            for role in Role:
                auth.add_user(s, user(role, level), role.value, scope)
        auth.add_user(s, SUPERADMIN, "admin", None)
        healthcode.init_root(s, "AR", SYSTEM, now=NOW - timedelta(days=1))
        for issuer in ("AR-01", "AR-02"):
            healthcode.add_issuer(s, issuer, SYSTEM, now=NOW - timedelta(hours=1))
        healthcode.publish_trust_list(s, SYSTEM, now=NOW)
        instance_identity.init_identity(s, "AR", DEV_KEK.encode())  # a national instance: it speaks for the country
    at = {code: Objects() for code in COMMUNITIES}
    for code in COMMUNITIES:
        with transaction(sessions) as s:
            _reports(s, code)
            _tracing(s, code, at[code])
            _policy(s, code, at[code])
            _rumors(s, code, at[code])
        with transaction(sessions) as s:
            _resources(s, code, at[code])
    with transaction(sessions) as s:
        healthcode.refresh_from_tracing(s, NOW)
        question = rumors.ask(s, "Does garlic cure the virus?", "en").id
    with transaction(sessions) as s:
        tokens = {u.username: auth.issue_token(s, u.username) for u in auth.list_users(s)}
    return World(tokens, at, question)


def _reports(s: Session, code: str) -> None:
    # three weeks of daily counts: enough for Rt's window and a forecast's fit
    rows = [(code, D0 - timedelta(days=k), "new_confirmed", "", 4 + k % 5, "", k + 1) for k in range(21)]
    frame = pd.DataFrame(
        rows, columns=["jurisdiction", "date", "indicator", "disaggregation", "value", "reason", "line"]
    )
    surveillance.submit(s, frame, actor=SYSTEM, source="scope-matrix", file="reports")


def _tracing(s: Session, code: str, o: Objects) -> None:
    def person(name: str) -> str:
        identity = {"name": name, "birth_date": "1990-07-14", "phone": "+1 555 0100"}
        return persons.register_person(s, SYSTEM, code, identity, now=NOW).person.ref

    o.person, o.contact, o.duplicate = person("Ada Lovelace"), person("Bo Contact"), person("Ada Lovelace")
    o.case = cases.create_case(s, SYSTEM, o.person, "confirmed", D0, onset_date=D0 - timedelta(days=2), now=NOW).id
    contacts.add_contact(s, SYSTEM, o.person, o.contact, last_exposure=D0 - timedelta(days=1), now=NOW)
    o.task = worklists.add_task(s, SYSTEM, "screening", code, NOW.date(), now=NOW).id


def _policy(s: Session, code: str, o: Objects) -> None:
    o.measure = measures.add_measure(s, SYSTEM, measures.MeasureInput(code, "C1", 2, D0)).id


def _rumors(s: Session, code: str, o: Objects) -> None:
    def claim(text: str) -> int:
        data = rumors.ClaimInput(text, "false", "No evidence supports it.", code, language="en")
        return rumors.add_claim(s, SYSTEM, data, force=True).id

    o.draft = claim(f"Hot baths in {code} kill the virus")
    o.reviewed = claim(f"Masks from {code} carry the virus")
    rumors.review_claim(s, SYSTEM, o.reviewed)


def _resources(s: Session, code: str, o: Objects) -> None:
    def book(resource: str, quantity: float, kind: str = "stock") -> int:
        side = movements.parse_side
        return movements.post_movement(
            s, SYSTEM, "receipt", resource=resource, quantity=quantity, unit=None,
            source=side(f"supply:{code}"), target=side(f"{kind}:{code}"), day=D0,
        ).id  # fmt: skip

    book("n95", 1000)
    book("gowns", 100, "stockpile")  # plans draw on stockpiles and open offers
    o.receipt = book("rice", 50)
    o.need = needs_offers.post_need(s, SYSTEM, code, "n95", 40, justification="ward", today=D0).id
    o.offer = needs_offers.post_offer(s, SYSTEM, code, "n95", 20, from_date=D0, today=D0).id
    needs_offers.post_need(s, SYSTEM, code, "gowns", 10, justification="ward", today=D0)
    proposed = plans.solve_plan(s, SYSTEM, code, ["n95"], 7, start=D0)
    approved = plans.solve_plan(s, SYSTEM, code, ["gowns"], 7, start=D0)
    plans.approve_plan(s, SYSTEM, approved.id)
    o.proposed_plan = proposed.id
    o.proposed_shipment = _first_shipment(s, proposed.id)
    o.dispatched_shipment = _first_shipment(s, approved.id)


def _first_shipment(s: Session, plan_id: int) -> int:
    _, ships = plans.plan_frames(s, plan_id)
    assert len(ships), f"plan {plan_id} has no shipment"
    return int(ships["id"].iloc[0])

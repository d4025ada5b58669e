"""Statuses from tracing's health_inputs and policy's risk_levels (the real capabilities), incrementally."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from accord.auth.roles import SYSTEM
from accord.db import transaction
from accord.healthcode import service
from accord.healthcode.model import PersonStatus
from accord.tracing import cases, contacts, persons

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
TODAY = NOW.date()


def test_statuses_follow_cases_contacts_and_changes(small_tree: sessionmaker[Session]) -> None:
    with transaction(small_tree) as s:
        service.init_root(s, "AR", SYSTEM, now=NOW - dt.timedelta(days=1))
        service.add_issuer(s, "AR-01", SYSTEM, now=NOW - dt.timedelta(hours=1))
        case = persons.register_person(s, SYSTEM, "AR-01-01-001", {"name": "A"}, now=NOW).person.ref
        contact = persons.register_person(s, SYSTEM, "AR-01-01-001", {"name": "B"}, now=NOW).person.ref
        bystander = persons.register_person(s, SYSTEM, "AR-01-01-002", {"name": "C"}, now=NOW).person.ref
        cases.create_case(s, SYSTEM, case, "confirmed", TODAY - dt.timedelta(days=1), now=NOW)
        contacts.add_contact(s, SYSTEM, case, contact, last_exposure=TODAY - dt.timedelta(days=2), now=NOW)
    with transaction(small_tree) as s:
        first = service.refresh_from_tracing(s, NOW)
    assert first == {"persons": 3, "evaluated": 3}
    with transaction(small_tree) as s:
        got = {r.person_id: r for r in s.scalars(select(PersonStatus))}
        assert got[case].colour == "red" and got[case].reasons.startswith("HC-R1")
        assert got[contact].colour == "red" and "HC-R2" in got[contact].reasons
        assert got[bystander].colour == "green" and got[bystander].jurisdiction == "AR-01"
        # the contact's status holds until the quarantine ends
        assert got[contact].valid_until.date() > TODAY
    later = NOW + dt.timedelta(minutes=5)
    with transaction(small_tree) as s:
        assert service.refresh_from_tracing(s, later)["evaluated"] == 0  # nothing changed: nobody re-evaluated
        cases.create_case(s, SYSTEM, bystander, "suspected", TODAY, now=later)
    with transaction(small_tree) as s:
        again = service.refresh_from_tracing(s, later + dt.timedelta(minutes=1))
        assert again["evaluated"] == 1
        assert s.get(PersonStatus, bystander).colour == "red"
        code, _ = service.issue_code(s, bystander, initials="C", birth_day="01-01", now=later)
    assert code.startswith("AC1:")

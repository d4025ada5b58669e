"""Fixtures of the tracing tests: the small tree with a tracer per community, a coordinator of the city, an
analyst and a data-protection officer, and a few persons, cases and contacts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session, sessionmaker

from accord.auth import service as auth
from accord.auth.roles import Actor
from accord.db import transaction
from accord.tracing import cases, contacts, crypto, persons

NOW = dt.datetime(2020, 2, 10, 9, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
A, B = "AR-01-01-001", "AR-01-01-002"  # Old Town, Mill End (communities of Riverton, AR-01-01)


@dataclass
class World:
    sessions: sessionmaker[Session]
    tracer_a: Actor
    tracer_b: Actor
    coordinator: Actor
    analyst: Actor
    dpo: Actor
    refs: dict[str, str]


@pytest.fixture(autouse=True)
def _fresh_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACCORD_PERSONAL_DATA_KEY", raising=False)
    monkeypatch.setenv("ACCORD_ENVIRONMENT", "development")
    crypto.keyring.cache_clear()


def make_users(sessions: sessionmaker[Session]) -> dict[str, Actor]:
    with transaction(sessions) as s:
        for name, role, scope in [
            ("tracer-a", "tracer", A),
            ("tracer-b", "tracer", B),
            ("coord", "coordinator", "AR-01-01"),
            ("analyst", "analyst", "AR"),
            ("dpo", "dpo", "AR-01"),
        ]:
            auth.add_user(s, name, role, scope)
        return {u.username: auth.actor_for(s, u.username) for u in auth.list_users(s)}


@pytest.fixture
def world(small_tree: sessionmaker[Session]) -> World:
    users = make_users(small_tree)
    refs: dict[str, str] = {}
    with transaction(small_tree) as s:
        ta = users["tracer-a"]
        refs["case"] = persons.register_person(
            s, ta, A, {"name": "Li Wei", "phone": "+86 138 0000 0001", "birth_date": "1980-03-01"}, now=NOW
        ).person.ref
        refs["contact"] = persons.register_person(
            s, ta, A, {"name": "Wang Fang", "phone": "138-0000-0002", "address": "1 Mill Rd"}, now=NOW
        ).person.ref
        refs["other"] = persons.register_person(
            s, users["tracer-b"], B, {"name": "<script>alert(1)</script>", "phone": "13800000003"}, now=NOW
        ).person.ref
        cases.create_case(
            s,
            ta,
            refs["case"],
            "confirmed",
            TODAY - dt.timedelta(days=2),
            onset_date=TODAY - dt.timedelta(days=5),
            now=NOW,
        )
        contacts.add_contact(
            s,
            ta,
            refs["case"],
            refs["contact"],
            last_exposure=TODAY - dt.timedelta(days=3),
            setting="household",
            proximity="close",
            duration_minutes=600,
            now=NOW,
        )
    return World(small_tree, ta, users["tracer-b"], users["coord"], users["analyst"], users["dpo"], refs)

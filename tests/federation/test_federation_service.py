"""Packages between two stores in one process: cut, verify, apply, revise, refuse (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from accord.db import transaction, utcnow
from accord.errors import AccordError
from accord.federation import identity as instance_identity
from accord.federation import inbox as package_inbox
from accord.federation import outbox as package_outbox
from accord.federation import package, pool_bookings
from accord.federation import peers as peer_links
from accord.federation.model import InboxEntry
from accord.surveillance import service as surveillance
from accord.surveillance.model import Observation
from tests.conftest import create_pg_database, drop_pg_database

from .helpers import KEK, WORLD, country_tree, link, new_store, report

SKEW = 300.0


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def stores(request: pytest.FixtureRequest, tmp_path):  # type: ignore[no-untyped-def]
    """A hub and a country AA (plus BB at the hub), on the backend of the parameter."""
    created = []

    def url(name: str) -> object:
        if request.param == "sqlite":
            return tmp_path / f"{name}.db"
        admin = request.getfixturevalue("pg_admin")
        db, u = create_pg_database(admin, migrated=True)
        created.append(db)
        return u

    hub = new_store(url("hub"), WORLD)  # type: ignore[arg-type]
    aa = new_store(url("aa"), country_tree("AA"))  # type: ignore[arg-type]
    link(hub, aa, "AA")
    yield hub, aa
    for factory in (hub, aa):
        factory.kw["bind"].dispose()
    for db in created:
        drop_pg_database(request.getfixturevalue("pg_admin"), db)


def series(sessions: sessionmaker[Session], code: str, view: str = "public") -> dict[str, float]:
    with transaction(sessions) as s:
        frame = surveillance.series(s, code, "new_confirmed", view=view)
    return {d.strftime("%Y-%m-%d"): v for d, v in zip(frame["date"], frame["value"], strict=True)}


def cut(sessions: sessionmaker[Session], start: str = "2026-03-01", end: str = "2026-03-02", now=None):  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        row, new = package_outbox.cut_package(s, KEK, date.fromisoformat(start), date.fromisoformat(end), now=now)
        return row.id, row.payload, new


def inbox(hub: sessionmaker[Session]) -> list[tuple[str, str]]:
    with transaction(hub) as s:
        return [(e.status, e.code) for e in s.scalars(select(InboxEntry).order_by(InboxEntry.id))]


DAY1 = [
    ("AA-01-01", "2026-03-01", "new_confirmed", 5),
    ("AA-01-02", "2026-03-01", "new_confirmed", 3),
    ("AA-02-01", "2026-03-01", "new_confirmed", 7),
    ("AA-01-01", "2026-03-02", "new_confirmed", 4),
]


def test_package_reaches_hub_rolls_up_and_revises_as_revision(stores) -> None:  # type: ignore[no-untyped-def]
    hub, aa = stores
    report(aa, DAY1)
    pid, payload, new = cut(aa)
    assert new
    result = package_inbox.receive(hub, payload, max_skew_seconds=SKEW)
    assert result["status"] == "applied"
    # provinces went up (depth 1), the hub rolled them up to AA and WORLD, and published them
    assert series(hub, "AA-01") == {"2026-03-01": 8.0, "2026-03-02": 4.0}
    assert series(hub, "WORLD") == {"2026-03-01": 15.0, "2026-03-02": 4.0}
    # same data again: the same package, not a new one; receiving it again is a logged no-op
    assert cut(aa)[0] == pid and not cut(aa)[2]
    assert package_inbox.receive(hub, payload, max_skew_seconds=SKEW)["status"] == "replay"
    # a correction at the country arrives as a revision (with the country's reason), never overwriting history
    report(aa, [("AA-01-01", "2026-03-01", "new_confirmed", 6)], approve=False, reason="lab re-test")
    _, payload2, _ = cut(aa)
    result = package_inbox.receive(hub, payload2, max_skew_seconds=SKEW)
    assert result["status"] == "applied" and result["result"]["revised"] >= 1
    assert series(hub, "WORLD")["2026-03-01"] == 16.0
    with transaction(hub) as s:
        history = surveillance.history(s, "AA-01", "new_confirmed", date(2026, 3, 1))
    assert list(history["value"]) == [8.0, 9.0]
    assert "revision from AA" in str(history["reason"].iloc[-1])
    assert [st for st, _ in inbox(hub)] == ["applied", "replay", "applied"]


def test_out_of_order_is_held_then_applied(stores) -> None:  # type: ignore[no-untyped-def]
    hub, aa = stores
    report(aa, DAY1)
    _, first, _ = cut(aa)
    report(aa, [("AA-02-02", "2026-03-03", "new_confirmed", 2)])
    _, second, _ = cut(aa, end="2026-03-03")
    assert package_inbox.receive(hub, second, max_skew_seconds=SKEW)["status"] == "held"
    assert series(hub, "WORLD") == {}
    result = package_inbox.receive(hub, first, max_skew_seconds=SKEW)
    assert result["status"] == "applied" and len(result["then_applied"]) == 1
    assert series(hub, "WORLD")["2026-03-03"] == 2.0


def _tamper(payload: bytes, **changes: object) -> bytes:
    """Change manifest fields (keeping the id consistent, so only the signature can tell)."""
    opened = package.open_payload(payload)
    manifest = {**opened.manifest, **changes}
    manifest["id"] = package.package_id(manifest)
    return package.pack(manifest, opened.signature, opened.data, opened.places)


def test_bad_packages_are_refused_logged_and_change_nothing(stores) -> None:  # type: ignore[no-untyped-def]
    hub, aa = stores
    report(aa, DAY1)
    _, payload, _ = cut(aa)
    opened = package.open_payload(payload)
    other = package.data_bytes(package.read_data(opened.data).assign(value=99.0))
    cases = {
        "malformed": b"PK\x03\x04 not really a zip",
        "bad_signature": _tamper(payload, period={"start": "2026-01-01", "end": "2026-03-02"}),
        "hash_mismatch": package.pack(opened.manifest, opened.signature, other, opened.places),
    }
    for code, bad in cases.items():
        with pytest.raises(AccordError) as err:
            package_inbox.receive(hub, bad, max_skew_seconds=SKEW)
        assert err.value.problems[0].code == code, str(err.value)
    # clock skew: a package cut an hour in the future
    _, future, _ = cut(aa, end="2026-03-01", now=utcnow() + timedelta(hours=1))
    with pytest.raises(AccordError, match="ahead of this instance's clock"):
        package_inbox.receive(hub, future, max_skew_seconds=SKEW)
    assert series(hub, "WORLD") == {}
    assert inbox(hub) == [("refused", c) for c in (*cases, "clock_skew")]
    with transaction(hub) as s:
        assert s.scalar(select(Observation).limit(1)) is None


def test_unknown_sender_and_wrong_scope(stores, tmp_path) -> None:  # type: ignore[no-untyped-def]
    hub, aa = stores
    # BB is a member of the hub too, but its instance claims AA's province as its own
    bb_tree = pd.concat([country_tree("BB"), country_tree("AA").iloc[1:2].assign(parent_code="BB")])
    bb = new_store(tmp_path / f"bb-{uuid.uuid4().hex[:6]}.db", bb_tree)
    link(hub, bb, "BB")
    report(aa, DAY1)
    package_inbox.receive(hub, cut(aa)[1], max_skew_seconds=SKEW)
    report(bb, [("AA-01", "2026-03-01", "new_confirmed", 1000), ("BB-01", "2026-03-01", "new_confirmed", 1)])
    _, payload, _ = cut(bb)
    with pytest.raises(AccordError, match="may report only within") as err:
        package_inbox.receive(hub, payload, max_skew_seconds=SKEW)
    assert err.value.status == 403
    assert series(hub, "AA-01")["2026-03-01"] == 8.0
    # an instance the hub never registered
    cc = new_store(tmp_path / f"cc-{uuid.uuid4().hex[:6]}.db", country_tree("CC"))
    with transaction(cc) as s:
        instance_identity.init_identity(s, "CC", KEK)
        peer_links.add_peer(s, "WORLD", "parent", url="http://hub")
    report(cc, [("CC-01-01", "2026-03-01", "new_confirmed", 2)])
    with pytest.raises(AccordError) as err:
        package_inbox.receive(hub, cut(cc)[1], max_skew_seconds=SKEW)
    assert err.value.problems[0].code == "unknown_sender"
    assert [c for _, c in inbox(hub)][-2:] == ["wrong_scope", "unknown_sender"]
    bb.kw["bind"].dispose()
    cc.kw["bind"].dispose()


def test_key_rotation(stores) -> None:  # type: ignore[no-untyped-def]
    hub, aa = stores
    report(aa, DAY1)
    _, old_payload, _ = cut(aa, end="2026-03-01")
    with transaction(aa) as s:
        statement = instance_identity.rotate_key(s, KEK)
    with transaction(hub) as s:
        forged = {**statement, "new_public_key": statement["new_public_key"][::-1]}
        with pytest.raises(AccordError):
            peer_links.accept_rotation(s, forged)
    with transaction(hub) as s:
        assert peer_links.accept_rotation(s, statement)["active"] != statement["old_key_id"]
    # cut before the rotation under the old key: still accepted; a new package under the new key: accepted
    assert package_inbox.receive(hub, old_payload, max_skew_seconds=SKEW)["status"] == "applied"
    _, new_payload, _ = cut(aa)
    assert package_inbox.receive(hub, new_payload, max_skew_seconds=SKEW)["status"] == "applied"


def test_accepted_pool_shipment_enters_the_members_ledger(stores) -> None:  # type: ignore[no-untyped-def]
    from accord.resources import catalog_store, ledger_store

    _, aa = stores
    received = {
        "id": 7,
        "origin": "BB",
        "destination": "AA",
        "resource": "ventilators",
        "quantity": 12,
        "depart_day": "2026-03-01",
        "arrive_day": "2026-03-04",
        "price": 0.0,
    }
    sent = {**received, "id": 8, "origin": "AA", "destination": "CC", "quantity": 5, "depart_day": "2026-03-05"}
    too_many = {**sent, "id": 9, "quantity": 500}
    now = utcnow()
    with transaction(aa) as s:
        catalog_store.ensure_catalog(s)
        assert pool_bookings.book_shipment(s, received, "AA", "WORLD", now) is not None
        assert pool_bookings.book_shipment(s, received, "AA", "WORLD", now) is None  # booked once
        assert pool_bookings.book_shipment(s, sent, "AA", "WORLD", now) is not None
    with pytest.raises(AccordError, match="not enough stock"), transaction(aa) as s:
        pool_bookings.book_shipment(s, too_many, "AA", "WORLD", now)  # rolled back whole
    with transaction(aa) as s:
        on_hand = ledger_store.stock(s, "AA", at=date(2026, 3, 31), resource="ventilators")
    assert on_hand.filter(like="on_hand").sum().sum() == pytest.approx(7)

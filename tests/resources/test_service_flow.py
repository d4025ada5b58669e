"""The whole flow on both databases: stock in, needs and offers, a plan solved from the store, approval into the
ledger, receipts with a discrepancy; and every bad input refused with nothing half-applied."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from accord.auth import service as auth
from accord.auth.roles import SYSTEM, Role
from accord.db import session_factory, transaction
from accord.errors import AccordError, Conflict, Forbidden
from accord.places import service as places
from accord.resources import early_warning, ledger, ledger_store, movements, needs_offers, network, plans, shipments
from accord.resources.model import Entry, Need, Shipment, Transaction
from accord.resources.movements import Side

DAY = date(2026, 3, 1)


@pytest.fixture
def small_tree_sqlite(sqlite_engine: Engine) -> sessionmaker[Session]:
    from tests.conftest import SMALL_TREE

    sessions = session_factory(sqlite_engine)
    with transaction(sessions) as s:
        places.import_places(s, SMALL_TREE)
    return sessions


def _stock(s: Session, code: str, resource: str, qty: float, kind: str = "stock") -> None:
    movements.post_movement(
        s,
        SYSTEM,
        "receipt",
        resource=resource,
        quantity=qty,
        unit=None,
        source=Side(ledger.AccountKind.SUPPLY, code),
        target=Side(ledger.AccountKind(kind), code),
        day=DAY,
    )


def _count(s: Session, model: type) -> int:
    return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_plan_approve_receive(small_tree: sessionmaker[Session]) -> None:
    with transaction(small_tree) as s:
        _stock(s, "AR-01", "n95", 1000, kind="stockpile")
        _stock(s, "AR-02-01", "n95", 300)
        needs_offers.post_offer(s, SYSTEM, "AR-02-01", "n95", 200, from_date=DAY, today=DAY)
        n1 = needs_offers.post_need(
            s,
            SYSTEM,
            "AR-01-01-001",
            "n95",
            700,
            by_date=date(2026, 3, 4),
            priority=3,
            justification="ICU ward",
            today=DAY,
        )
        n2 = needs_offers.post_need(
            s, SYSTEM, "AR-01-02", "n95", 600, by_date=date(2026, 3, 4), justification="clinic", today=DAY
        )
        plan = plans.solve_plan(s, SYSTEM, "AR", ["n95"], 7, start=DAY)
        pid, need1, need2 = plan.id, n1.id, n2.id
    with transaction(small_tree) as s:
        plan, ships = plans.plan_frames(s, pid)
        assert plan.status == "proposed"
        assert ships["quantity"].sum() == pytest.approx(1200)  # 1000 stockpile + 200 offered, 1300 needed
        assert plan.summary["shortfall"] == pytest.approx(100)
        by_need = ships.groupby("need")["quantity"].sum()
        assert by_need[need1] == pytest.approx(700)  # priority 3 is served in full
        assert set(ships["status"]) == {"planned"}
    with transaction(small_tree) as s:
        plans.approve_plan(s, SYSTEM, pid)
    with pytest.raises(Conflict, match="already approved"), transaction(small_tree) as s:
        plans.approve_plan(s, SYSTEM, pid)
    with transaction(small_tree) as s:
        assert ledger_store.conservation(s) == {"n95": 0}
        needs = needs_offers.needs_frame(s, "AR", today=date(2026, 3, 10)).set_index("id")
        assert needs.loc[need1, "status"] == "dispatched"
        assert needs.loc[need2, "remaining"] == pytest.approx(100)
        ship = s.scalars(select(Shipment).where(Shipment.need_id == need1)).first()
        assert ship is not None
        sid, sent = ship.id, ship.quantity / 1000
    with pytest.raises(AccordError, match="more than the"), transaction(small_tree) as s:
        shipments.receive(s, SYSTEM, sid, sent + 1, day=date(2026, 3, 5))
    with transaction(small_tree) as s:
        shipments.receive(s, SYSTEM, sid, sent - 5, day=date(2026, 3, 5), note="5 boxes crushed", final=True)
    with transaction(small_tree) as s:
        ship = s.get(Shipment, sid)
        assert ship is not None and ship.status == "closed" and ship.discrepancy == 5000
        assert ledger_store.conservation(s) == {"n95": 0}
        table = ledger_store.stock(s, "AR", date(2026, 3, 10), "n95")
        lost = movements.transactions_frame(s, "AR")
        assert (lost["movement"] == "loss").any()
        transit = table["account_kind"] == "in_transit"
        assert table.loc[transit, "on_hand"].sum() == pytest.approx(1200 - sent)  # the other shipment
        assert table.loc[~transit, "on_hand"].sum() == pytest.approx(1300 - 5 - (1200 - sent))
        # the 5 lost on the way are needed again
        assert needs_offers.needs_frame(s, "AR").set_index("id").loc[need1, "remaining"] == pytest.approx(5)


def test_unreachable_need_is_explained(small_tree: sessionmaker[Session]) -> None:
    with transaction(small_tree) as s:
        _stock(s, "AR-01", "ventilators", 10, kind="stockpile")
        need = needs_offers.post_need(s, SYSTEM, "AR-02-01", "ventilators", 4, justification="ICU", today=DAY)
        network.set_route(s, SYSTEM, "AR-01", "AR-02-01", lead_days=1, closed=True, note="export ban")
        nid = need.id
    with transaction(small_tree) as s:
        plan = plans.solve_plan(s, SYSTEM, "AR", ["ventilators"], 5, start=DAY)
        assert plan.summary["shortfall"] == pytest.approx(4)
        assert any(f"need {nid} (AR-02-01)" in w and "no open route" in w for w in plan.summary["warnings"])
    with pytest.raises(AccordError) as err, transaction(small_tree) as s:
        plans.solve_plan(s, SYSTEM, "AR", ["ventilators"], 5, start=DAY, max_shortfall_share=0.0)
    assert f"need {nid} (AR-02-01) needs ventilators but no open route reaches it" in str(err.value)
    with pytest.raises(AccordError, match="no open needs"), transaction(small_tree) as s:
        plans.solve_plan(s, SYSTEM, "AR-01", ["ventilators"], 5, start=DAY)


def test_bad_input_changes_nothing(small_tree: sessionmaker[Session]) -> None:
    with transaction(small_tree) as s:
        _stock(s, "AR-01", "rice", 100)
        auth.add_user(s, "south", Role.COORDINATOR, "AR-02")
    with transaction(small_tree) as s:
        before = _count(s, Entry), _count(s, Transaction)
    cases = [
        (dict(quantity=-3), "negative"),
        (dict(quantity="lots"), "not a number"),
        (dict(resource="unobtainium"), "unknown resource"),
        (dict(unit="furlong"), "unknown unit"),
        (dict(unit="L"), "cannot convert"),
        (dict(quantity=101), "does not have that much"),
    ]
    for change, message in cases:
        args = dict(resource="rice", quantity=5, unit=None) | change
        with pytest.raises(AccordError, match=message), transaction(small_tree) as s:
            movements.post_movement(
                s,
                SYSTEM,
                "consume",
                source=Side(ledger.AccountKind.STOCK, "AR-01"),
                target=Side(ledger.AccountKind.CONSUMED, "AR-01"),
                day=DAY,
                **args,
            )
    with transaction(small_tree) as s:
        south = auth.actor_for(s, "south")
    with pytest.raises(Forbidden, match="outside their jurisdiction"), transaction(small_tree) as s:
        needs_offers.post_need(s, south, "AR-01", "rice", 5, justification="x", today=DAY)
    with transaction(small_tree) as s:
        assert (_count(s, Entry), _count(s, Transaction)) == before
        assert _count(s, Need) == 0
        # a unit of the same dimension converts: 0.05 t = 50 kg
        movements.post_movement(
            s,
            SYSTEM,
            "consume",
            resource="rice",
            quantity=0.05,
            unit="t",
            source=Side(ledger.AccountKind.STOCK, "AR-01"),
            target=Side(ledger.AccountKind.CONSUMED, "AR-01"),
            day=DAY,
        )
    with transaction(small_tree) as s:
        assert ledger_store.stock(s, "AR", DAY, "rice")["on_hand"].sum() == pytest.approx(50)


def test_reversal_and_days_of_supply(small_tree: sessionmaker[Session]) -> None:
    with transaction(small_tree) as s:
        _stock(s, "AR-02-01", "gowns", 700)
        for d in range(1, 8):
            t = movements.post_movement(
                s,
                SYSTEM,
                "consume",
                resource="gowns",
                quantity=10 * d,
                unit=None,
                source=Side(ledger.AccountKind.STOCK, "AR-02-01"),
                target=Side(ledger.AccountKind.CONSUMED, "AR-02-01"),
                day=date(2026, 3, d),
            )
        last = t.id
    with transaction(small_tree) as s:
        row = ledger_store.stock(s, "AR-02", date(2026, 3, 7)).iloc[0]
        assert row["on_hand"] == pytest.approx(700 - 280)
        assert row["burn_rate"] == pytest.approx(40)
        assert row["days_of_supply"] == pytest.approx(420 / 40)
    with pytest.raises(AccordError, match="reason"), transaction(small_tree) as s:
        movements.reverse_transaction(s, SYSTEM, last, "")
    with transaction(small_tree) as s:
        movements.reverse_transaction(s, SYSTEM, last, "double entry")
    with pytest.raises(Conflict, match="already reversed"), transaction(small_tree) as s:
        movements.reverse_transaction(s, SYSTEM, last, "again")
    with transaction(small_tree) as s:
        assert ledger_store.stock(s, "AR-02", date(2026, 3, 7)).iloc[0]["on_hand"] == pytest.approx(490)
        assert ledger_store.conservation(s) == {"gowns": 0}

    with transaction(small_tree) as s:
        movements.post_movement(
            s,
            SYSTEM,
            "consume",
            resource="gowns",
            quantity=480,
            unit=None,
            source=Side(ledger.AccountKind.STOCK, "AR-02-01"),
            target=Side(ledger.AccountKind.CONSUMED, "AR-02-01"),
            day=date(2026, 3, 7),
        )
    with transaction(small_tree) as s:
        sentence = early_warning.bulletin_paragraph(s, "AR", date(2026, 3, 7))
        assert sentence.startswith("1 stock-out alert (1 critical)") and "Protective gowns in South" in sentence
        assert "防护服" in early_warning.bulletin_paragraph(s, "AR", date(2026, 3, 7), "zh")


MOVES = [
    ("receipt", "supply:AR-01", "stock:AR-01"),
    ("donation", "donated:AR-02", "stockpile:AR-02"),
    ("transfer", "stock:AR-01", "stock:AR-01-01"),
    ("transfer", "stockpile:AR-02", "stock:AR-01"),
    ("consume", "stock:AR-01-01", "consumed:AR-01-01"),
    ("consume", "stock:AR-01", "consumed:AR-01"),
    ("count", "stock:AR-01", "adjustment:AR-01"),
]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(MOVES),
            st.decimals("0.001", "500", places=3),
            st.sampled_from(["n95", "rice"]),
            st.integers(0, 9),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_the_stored_ledger_always_balances(
    small_tree_sqlite: sessionmaker[Session], steps: list[tuple[tuple[str, str, str], object, str, int]]
) -> None:
    """Whatever movements are tried (many refused for want of stock), every resource sums to zero over all
    accounts, no holding account is ever below zero, and a refused movement leaves nothing behind."""
    for (movement, src, dst), qty, resource, day in steps:
        with transaction(small_tree_sqlite) as s:
            before = _count(s, Entry)
        try:
            with transaction(small_tree_sqlite) as s:
                movements.post_movement(
                    s,
                    SYSTEM,
                    movement,
                    resource=resource,
                    quantity=str(qty),
                    unit=None,
                    source=movements.parse_side(src),
                    target=movements.parse_side(dst),
                    day=date(2026, 3, 1 + day),
                )
        except AccordError:
            with transaction(small_tree_sqlite) as s:
                assert _count(s, Entry) == before
        with transaction(small_tree_sqlite) as s:
            assert all(v == 0 for v in ledger_store.conservation(s).values())
            for d in (1, 10):
                table = ledger_store.stock(s, "AR", date(2026, 3, d))
                assert (table["on_hand"] >= 0).all()


def test_stale_plan_is_refused_whole(small_tree: sessionmaker[Session]) -> None:
    with transaction(small_tree) as s:
        _stock(s, "AR-01", "gowns", 100, kind="stockpile")
        a = needs_offers.post_need(s, SYSTEM, "AR-01-01", "gowns", 30, justification="ward", today=DAY).id
        b = needs_offers.post_need(s, SYSTEM, "AR-01-02", "gowns", 30, justification="ward", today=DAY).id
    with transaction(small_tree) as s:
        pid = plans.solve_plan(s, SYSTEM, "AR", ["gowns"], 5, start=DAY).id
    with transaction(small_tree) as s:
        needs_offers.close_need(s, SYSTEM, b)
    with pytest.raises(Conflict, match=f"need {b}"), transaction(small_tree) as s:
        plans.approve_plan(s, SYSTEM, pid)
    with transaction(small_tree) as s:
        assert plans.get_plan(s, pid).status == "proposed"  # the approval rolled back as a whole
        assert needs_offers.needs_frame(s, "AR").set_index("id").loc[a, "allocated"] == 0
        assert not (movements.transactions_frame(s, "AR")["movement"] == "dispatch").any()

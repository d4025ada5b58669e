"""Pure rules: double entry (Hypothesis: the books always balance, no unit appears or vanishes, holdings never go
below zero whatever order movements and corrections come in), units, need rules, early-warning arithmetic."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.errors import AccordError
from accord.resources import catalog, ledger, warning
from accord.resources.ledger import AccountKind, Book, Leg, Movement

K = AccountKind
# accounts 0..5: two warehouses, a stockpile, in transit, consumed, the supply source
KINDS = {0: K.STOCK, 1: K.STOCK, 2: K.STOCKPILE, 3: K.IN_TRANSIT, 4: K.CONSUMED, 5: K.SUPPLY, 6: K.LOST}
MOVES = [
    (Movement.RECEIPT, 5, 0),
    (Movement.RECEIPT, 5, 2),
    (Movement.TRANSFER, 0, 1),
    (Movement.TRANSFER, 2, 1),
    (Movement.DISPATCH, 2, 3),
    (Movement.ARRIVAL, 3, 0),
    (Movement.LOSS, 3, 6),
    (Movement.CONSUME, 0, 4),
    (Movement.CONSUME, 1, 4),
]
D0 = date(2026, 3, 1)

steps = st.lists(
    st.tuples(
        st.sampled_from(range(len(MOVES))),
        st.integers(1, 5000),  # thousandths
        st.integers(0, 3),  # resource
        st.integers(0, 20),  # day offset (back-dating allowed)
        st.booleans(),  # try to reverse an earlier transaction instead
    ),
    max_size=40,
)


@settings(max_examples=50, deadline=None)
@given(steps)
def test_books_balance_and_nothing_appears_or_vanishes(plan: list[tuple[int, int, int, int, bool]]) -> None:
    book = Book(dict(KINDS))
    accepted = 0
    for i, qty, res, off, rev in plan:
        day = D0 + timedelta(days=off)
        try:
            if rev and book.transactions:
                book.reverse(i % len(book.transactions), day)
            else:
                mv, src, dst = MOVES[i]
                book.post(day, ledger.move(mv, src, KINDS[src], dst, KINDS[dst], res, qty))
            accepted += 1
        except AccordError:
            pass  # refused whole: the book is unchanged (checked below by the invariants)
    entries = book.entries()
    assert len(book.transactions) == accepted
    if entries.empty:
        return
    # balanced: every resource sums to exactly zero over all accounts, at every date
    for day in sorted(set(entries["day"])):
        totals = ledger.balances(entries, day).groupby(level="resource").sum()
        assert (totals == 0).all()
    # units on hand + in transit + consumed + lost = what entered from supply
    bal = ledger.balances(entries)
    for res in set(entries["resource"]):
        inside = sum(int(bal.get((a, res), 0)) for a, k in KINDS.items() if k is not K.SUPPLY)
        assert inside == -int(bal.get((5, res), 0))
    # no holding account is ever below zero at the end of any day
    holding = [(a, r) for a, k in KINDS.items() if k in ledger.HOLDING for r in range(4)]
    lows = ledger.lowest_after(entries, holding, D0 - timedelta(days=1))
    assert min(lows.values()) >= 0


def test_moves_obey_the_account_kinds() -> None:
    with pytest.raises(AccordError, match="cannot take units from a consumed"):
        ledger.move(Movement.TRANSFER, 4, K.CONSUMED, 0, K.STOCK, 0, 10)
    with pytest.raises(AccordError, match="positive"):
        ledger.move(Movement.CONSUME, 0, K.STOCK, 4, K.CONSUMED, 0, 0)
    with pytest.raises(AccordError, match="off by"):
        ledger.check_balanced([Leg(0, 0, 5), Leg(1, 0, -4)])
    with pytest.raises(AccordError, match="off by"):
        ledger.check_balanced([Leg(0, 0, 5), Leg(1, 1, -5)])  # two resources never offset each other


def test_back_dated_consumption_cannot_dig_a_hole() -> None:
    book = Book(dict(KINDS))
    book.post(D0, ledger.move(Movement.RECEIPT, 5, K.SUPPLY, 0, K.STOCK, 0, 10))
    book.post(D0 + timedelta(days=1), ledger.move(Movement.CONSUME, 0, K.STOCK, 4, K.CONSUMED, 0, 10))
    with pytest.raises(AccordError, match="would hold -5"):
        book.post(D0, ledger.move(Movement.CONSUME, 0, K.STOCK, 4, K.CONSUMED, 0, 5))
    with pytest.raises(AccordError, match="already reversed"):
        book.reverse(1, D0 + timedelta(days=2))
        book.reverse(1, D0 + timedelta(days=2))


def test_units_convert_only_when_unambiguous() -> None:
    assert catalog.conversion_factor("t", "kg") == 1000
    assert catalog.conversion_factor("box of 50", "each") == 50
    assert catalog.conversion_factor("Litres", "m3") == pytest.approx(0.001)
    with pytest.raises(AccordError, match="cannot convert 'kg'"):
        catalog.conversion_factor("kg", "L")
    with pytest.raises(AccordError, match="unknown unit 'furlong'"):
        catalog.conversion_factor("furlong", "kg")
    for bad in ("-1", "abc", "nan", "inf", None, True):
        with pytest.raises(AccordError):
            catalog.parse_quantity(bad)
    assert catalog.parse_quantity(" 2.5 ") == 2.5


def test_default_rules_and_catalog_are_consistent() -> None:
    codes = {r.code for r in catalog.DEFAULT_CATALOG}
    for rule in catalog.DEFAULT_RULES:
        assert catalog.validate_rule(rule, codes) == []
        assert rule.source
    assert {r.kind for r in catalog.DEFAULT_CATALOG} == set(catalog.Kind)
    assert {"rice", "flour", "cooking_oil", "vegetables"} <= {
        r.code for r in catalog.DEFAULT_CATALOG if r.category == "food"
    }


def test_days_of_supply_consumable_and_reusable() -> None:
    demand = np.array([[10.0, 10, 10, 10], [0, 0, 0, 0], [5, 5, 5, 5], [10, 20, 30, 40]])
    stock = np.array([25.0, 100, 100, 0])
    days = warning.days_of_supply_consumable(stock, demand)
    assert days[0] == pytest.approx(2.5)  # 10 + 10, then half of the third day
    assert np.isinf(days[1])  # nothing used
    assert days[2] == pytest.approx(4 + 80 / 5)  # beyond the horizon at the last day's pace
    assert days[3] == 0
    reusable = warning.days_of_supply_reusable(np.array([15.0, 25]), demand[[0, 3]])
    assert np.isinf(reusable[0]) and reusable[1] == 2  # 30 > 25 on the third day
    levels = warning.alert_levels(np.array([1.0, 5, 30, np.inf]), np.full(4, 3.0), np.full(4, 7.0))
    assert list(levels) == ["critical", "warning", "ok", "ok"]


def test_projection_follows_recent_growth_and_carries_gaps() -> None:
    census = np.array([[10, 20, 40, 80.0], [5, np.nan, np.nan, np.nan], [np.nan] * 4])
    out = warning.project(census, 3, window=2, max_growth=5.0)
    # log1p growth from 21 to 81 over 2 days, continued
    g = (np.log(81) - np.log(21)) / 2
    assert out[0, 0] == pytest.approx(np.expm1(np.log(81) + g))
    assert np.allclose(out[1], 5)  # flat: carried forward
    assert np.allclose(out[2], 0)
    capped = warning.project(census[:1], 1, window=2, max_growth=0.1)
    assert capped[0, 0] == pytest.approx(np.expm1(np.log(81) + 0.1))


def test_need_forecast_sums_rules_and_bulletin_sentence() -> None:
    rules = [r for r in catalog.DEFAULT_RULES if r.resource == "n95"]
    load = {"hospitalised": np.full((2, 3), 10.0), "icu": np.full((2, 3), 2.0)}
    need = warning.forecast_need(load, rules, (2, 3))
    assert np.allclose(need, 10 * 6 + 2 * 20)
    rows = [{"level": "critical", "days": 1.5, "region_name": "Riverton", "resource_name": "N95 respirators"}]
    assert "N95 respirators in Riverton, about 1.5 days" in warning.bulletin_sentence(rows)
    assert warning.bulletin_sentence([]) == "No region is on a stock-out alert."


def test_thresholds_are_configurable() -> None:
    assert warning.parse_thresholds("medical:3:7, food:5:14") == {
        "medical": warning.Thresholds(3, 7),
        "food": warning.Thresholds(5, 14),
    }
    assert warning.parse_thresholds(None) == {}
    for bad in ("medical:7:3", "sweets:1:2", "food:x:2", "food:1"):
        with pytest.raises(AccordError, match="CATEGORY:CRITICAL_DAYS:WARNING_DAYS"):
            warning.parse_thresholds(bad)

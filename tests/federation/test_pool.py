"""The international pool on the real optimiser: export bans, vulnerability, earmarks, donations, green lanes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.errors import AccordError
from accord.federation import pool


def masks(**kw) -> pool.PoolProblem:  # type: ignore[no-untyped-def]
    base = dict(
        days=10,
        needs=[pool.Need("AA", "masks", 100, 8), pool.Need("CC", "masks", 100, 8)],
        offers=[pool.Offer(1, "BB", "masks", 120, 0)],
        vulnerability={"AA": 0.1, "CC": 0.9},
    )
    base.update(kw)
    return pool.PoolProblem(**base)  # type: ignore[arg-type]


def sent(plan: pool.PoolPlan) -> dict[str, float]:
    return plan.shipments.groupby("destination")["quantity"].sum().to_dict()


def test_vulnerable_member_first_then_export_ban_redirects() -> None:
    assert sent(pool.solve(masks())) == {"CC": 100.0, "AA": 20.0}
    banned = pool.solve(masks(bans=[pool.ExportBan("BB", "masks", "CC")]))
    assert sent(banned) == {"AA": 100.0}
    unmet = banned.unmet.set_index("member")["unmet"].to_dict()
    assert unmet == {"AA": 0.0, "CC": 100.0}
    # a ban on another resource changes nothing
    assert sent(pool.solve(masks(bans=[pool.ExportBan("BB", "gloves", "CC")]))) == {"CC": 100.0, "AA": 20.0}


def test_earmark_donation_before_sale_and_green_lane() -> None:
    offers = [pool.Offer(1, "BB", "masks", 100, 0, price=2.0), pool.Offer(2, "DD", "masks", 100, 0)]
    plan = pool.solve(masks(needs=[pool.Need("AA", "masks", 100, 8)], offers=offers))
    assert plan.shipments["offer_id"].tolist() == [2]  # the donation, not the sale
    earmarked = [pool.Offer(1, "BB", "masks", 100, 0, earmark=("CC",))]
    assert sent(pool.solve(masks(offers=earmarked))) == {"CC": 100.0}
    # needed on day 2: only the green channel (1 day) arrives in time, the default lane (5 days) does not
    late = masks(needs=[pool.Need("AA", "masks", 50, 2), pool.Need("CC", "masks", 50, 2)], vulnerability={})
    fast = pool.solve(pool.PoolProblem(**{**late.__dict__, "lanes": {("BB", "AA"): 1}}))
    assert sent(fast) == {"AA": 50.0}
    assert fast.shipments["arrive_day"].tolist() == [1]


def test_bad_posts_are_refused() -> None:
    with pytest.raises(AccordError, match="pool cannot be solved"):
        pool.solve(masks(needs=[pool.Need("AA", "masks", -5, 3)]))


@settings(max_examples=25, deadline=None)
@given(
    need=st.lists(st.integers(0, 60), min_size=3, max_size=3),
    offer=st.lists(st.integers(0, 60), min_size=2, max_size=2),
    banned=st.booleans(),
)
def test_never_ships_more_than_offered_or_across_a_ban(need: list[int], offer: list[int], banned: bool) -> None:
    members = ["AA", "BB", "CC"]
    needs = [pool.Need(m, "masks", q, 5) for m, q in zip(members, need, strict=True) if q > 0]
    offers = [
        pool.Offer(i + 1, m, "masks", q, 0) for i, (m, q) in enumerate(zip(["DD", "EE"], offer, strict=True)) if q
    ]
    bans = [pool.ExportBan("DD", "*", "CC")] if banned else []
    plan = pool.solve(pool.PoolProblem(days=8, needs=needs, offers=offers, vulnerability={}, bans=bans))
    by_offer = plan.shipments.groupby("offer_id")["quantity"].sum()
    for o in offers:
        assert by_offer.get(o.id, 0.0) <= o.quantity + 1e-6
    if banned:
        assert not ((plan.shipments["origin"] == "DD") & (plan.shipments["destination"] == "CC")).any()
    # whatever is not shipped is either unmet need or an offer nobody reachable needed
    assert plan.shipments["quantity"].sum() == pytest.approx(min(sum(need), sum(offer)), abs=1e-6) or banned

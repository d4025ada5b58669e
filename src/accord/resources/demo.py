"""What the resources capability adds to the demo country, through the real services:

* hospital capacity (beds, ICU beds, ventilators) per city from its population, imported as a SANER-like report;
* two weeks of PPE and rice stock per city: an opening receipt, then daily consumption driven by the city's true
  hospital census (the need rules) with seeded noise;
* a national stockpile and province stockpiles; routes (one closed: an export ban), pairing assistance from the
  least to the most struck provinces' cities;
* needs from the cities closest to running out of N95, offers from the provinces with the most to spare;
* one plan solved from all that, approved (dispatches booked in the ledger), the shipments that have arrived by
  the demo's "now" received, one of them short (a discrepancy on record); a second plan left proposed for review.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.auth.roles import SYSTEM
from accord.db import transaction
from accord.demo.context import DemoContext
from accord.places import service as places
from accord.resources import (
    capacity_import,
    catalog,
    catalog_store,
    early_warning,
    ledger_store,
    needs_offers,
    network,
    plans,
    shipments,
)
from accord.resources.ledger import AccountKind, Leg, Movement
from accord.resources.model import Shipment

DAYS_OF_HISTORY = 14
PPE = ("n95", "gowns", "surgical_masks")
#: share of the population in quarantine, fed from public stock (what the rice rule applies to)
QUARANTINED = 0.05


def _census(ctx: DemoContext, parent: pd.Series) -> pd.DataFrame:
    """True hospitalised / ICU census per city and day (communities summed up to their city)."""
    truth = ctx.truth[
        ctx.truth["indicator"].isin(["hospitalised", "icu_occupied"]) & (ctx.truth["disaggregation"] == "")
    ]
    city = parent.reindex(truth["jurisdiction"]).to_numpy()
    frame = truth.assign(city=city).groupby(["city", "date", "indicator"])["value"].sum().unstack("indicator").fillna(0)
    return frame.reset_index()


def extend(ctx: DemoContext) -> list[str]:
    """Add this capability's demo data; return the summary lines to print."""
    rng = np.random.default_rng(ctx.seed + 5)
    geo = ctx.geo.set_index("code")
    parent = geo["parent_code"]
    cities = geo[geo["level"] == "city"]
    provinces = geo[geo["level"] == "province"]
    end = min(ctx.now.date() - dt.timedelta(days=1), max(ctx.truth["date"]))
    first = end - dt.timedelta(days=DAYS_OF_HISTORY - 1)
    census = _census(ctx, parent)
    census = census[(census["date"] >= first) & (census["date"] <= end)]

    with transaction(ctx.sessions) as s:
        catalog_store.ensure_catalog(s)
        _capacity(s, cities, end)
        _stocks_and_use(s, rng, cities, census, first, end)
        _stockpiles(s, ctx.root, provinces, first)
    struck = _struck_provinces(census, parent)
    with transaction(ctx.sessions) as s:
        _routes_and_pairs(s, provinces, cities, struck)
        needs = _needs(s, ctx.root, end)
        offers = _offers(s, provinces, struck, end)
    with transaction(ctx.sessions) as s:
        plan = plans.solve_plan(s, SYSTEM, ctx.root, ["n95", "ventilators"], 10, start=end - dt.timedelta(days=3))
        pid = plan.id
    with transaction(ctx.sessions) as s:
        plans.approve_plan(s, SYSTEM, pid)
    received, short = _receive_arrived(ctx, pid, end)
    with transaction(ctx.sessions) as s:
        needs_offers.post_need(
            s,
            SYSTEM,
            str(struck[0][1]),
            "gowns",
            2000,
            by_date=end + dt.timedelta(days=4),
            priority=2,
            justification="demo: ICU expansion",
            today=end,
        )
        proposal = plans.solve_plan(s, SYSTEM, ctx.root, ["gowns"], 7, start=end)
        proposal_id = proposal.id
    with transaction(ctx.sessions) as s:
        alerts = early_warning.early_warning(s, ctx.root, end, level="city", fed_share=QUARANTINED)
    n_alert = int((alerts["level"] != "ok").sum())
    return [
        f"resources: stock of {len(cities)} cities, {needs} needs, {offers} offers; plan {pid} approved "
        f"({received} shipments received, {short} short), plan {proposal_id} proposed for review",
        f"  stock-out ranking: /public/resources/{ctx.root}?level=city ({n_alert} alerts); "
        f"plan review: /public/resources/plans/{pid}",
    ]


def _capacity(s: Session, cities: pd.DataFrame, day: dt.date) -> None:
    """Beds about 4.3 per 1,000 people, ICU beds 3% of beds (covid19scenarios' estimate), 1 ventilator per ICU bed
    plus a few: a SANER-like report through the real importer."""
    pop = cities["population"].astype(float)
    beds = np.round(pop * 4.3 / 1000)
    icu = np.round(beds * 0.03)
    lines = ["date,jurisdiction,numbeds,numICUBeds,numVent"]
    for code, b, i in zip(cities.index, beds, icu, strict=True):
        lines.append(f"{day.isoformat()},{code},{int(b)},{int(i)},{int(i * 0.8) + 2}")
    capacity_import.import_capacity(s, SYSTEM, "\n".join(lines) + "\n", file="demo-capacity.csv", fmt="saner")


def _stocks_and_use(
    s: Session, rng: np.random.Generator, cities: pd.DataFrame, census: pd.DataFrame, first: dt.date, end: dt.date
) -> None:
    ids = catalog_store.resource_ids(s)
    rules = catalog.rules_by_resource(catalog_store.rules(s))
    postings: list[ledger_store.Posting] = []
    days = pd.date_range(first, end).date
    for code, row in cities.iterrows():
        jid = places.get(s, str(code)).id
        stock = ledger_store.account(s, AccountKind.STOCK, jid)
        supply = ledger_store.account(s, AccountKind.SUPPLY, jid)
        used = ledger_store.account(s, AccountKind.CONSUMED, jid)
        mine = census[census["city"] == code].set_index("date").reindex(days).fillna(0)
        load = {"hospitalised": mine["hospitalised"].to_numpy(), "icu": mine["icu_occupied"].to_numpy()}
        pop = float(row["population"])
        load["population"] = np.full(len(days), pop * QUARANTINED)
        for res in (*PPE, "rice"):
            daily = sum(r.per_day * load.get(r.basis, np.zeros(len(days))) for r in rules[res]) + 1.0
            daily = np.round(daily * rng.uniform(0.8, 1.2, len(days)))
            opening = float(daily.sum()) * rng.uniform(1.05, 2.5)
            rid = ids[res]
            postings.append(
                ledger_store.Posting(
                    Movement.RECEIPT,
                    first,
                    [Leg(supply.id, rid, -catalog.to_milli(opening)), Leg(stock.id, rid, catalog.to_milli(opening))],
                    "demo: opening stock",
                )
            )
            for d, q in zip(days, daily, strict=True):
                if q > 0:
                    m = catalog.to_milli(float(q))
                    postings.append(
                        ledger_store.Posting(
                            Movement.CONSUME, d, [Leg(stock.id, rid, -m), Leg(used.id, rid, m)], "demo: daily use"
                        )
                    )
    ledger_store.write(s, SYSTEM, postings)


def _stockpiles(s: Session, root: str, provinces: pd.DataFrame, first: dt.date) -> None:
    ids = catalog_store.resource_ids(s)
    entries = [(root, "n95", 40_000.0), (root, "ventilators", 60.0), (root, "gowns", 3_000.0)]
    pops = provinces["population"].astype(float).tolist()
    entries += [(str(code), "n95", float(round(pop / 400))) for code, pop in zip(provinces.index, pops, strict=True)]
    postings = []
    for code, res, qty in entries:
        jid = places.get(s, code).id
        pile = ledger_store.account(s, AccountKind.STOCKPILE, jid)
        supply = ledger_store.account(s, AccountKind.SUPPLY, jid)
        m = catalog.to_milli(qty)
        postings.append(
            ledger_store.Posting(
                Movement.RECEIPT, first, [Leg(supply.id, ids[res], -m), Leg(pile.id, ids[res], m)], "demo: stockpile"
            )
        )
    ledger_store.write(s, SYSTEM, postings)


def _struck_provinces(census: pd.DataFrame, parent: pd.Series) -> list[tuple[str, str]]:
    """(province, its most struck city), most struck first."""
    last = census[census["date"] == census["date"].max()]
    by_city = last.set_index("city")["hospitalised"].sort_values(ascending=False)
    seen: dict[str, str] = {}
    for city in by_city.index:
        seen.setdefault(str(parent[city]), str(city))
    return list(seen.items())


def _routes_and_pairs(s: Session, provinces: pd.DataFrame, cities: pd.DataFrame, struck: list[tuple[str, str]]) -> None:
    helpers = [p for p, _ in struck[::-1][:3]]
    targets = [c for _, c in struck[:3]]
    for k, (h, t) in enumerate(zip(helpers, targets, strict=True)):
        network.set_pairing(s, SYSTEM, h, t, exclusive=(k == 0), note="demo: paired assistance")
        network.set_route(s, SYSTEM, h, t, lead_days=2, unit_cost=1.5, note="demo: highway")
    # an export ban: the second-least struck province may not ship to the most struck one's capital city
    network.set_route(s, SYSTEM, struck[-2][0], struck[0][1], lead_days=1, closed=True, note="demo: export ban")


def _needs(s: Session, root: str, end: dt.date) -> int:
    ranking = early_warning.early_warning(s, root, end, level="city", resource="n95")
    worst = ranking.head(6)
    for k, row in enumerate(worst.to_dict(orient="records")):
        qty = max(round(float(row["demand_today"]) * 10 - float(row["on_hand"])), 200)
        needs_offers.post_need(
            s,
            SYSTEM,
            str(row["jurisdiction"]),
            "n95",
            qty,
            by_date=end + dt.timedelta(days=2 + k % 3),
            priority=3 if k < 2 else 1,
            justification=f"demo: {row['days_of_supply']} days of N95 left",
            today=end,
        )
    first_city = str(worst.iloc[0]["jurisdiction"])
    needs_offers.post_need(
        s,
        SYSTEM,
        first_city,
        "ventilators",
        25,
        by_date=end + dt.timedelta(days=1),
        priority=4,
        justification="demo: ICU surge",
        today=end,
    )
    return len(worst) + 1


def _offers(s: Session, provinces: pd.DataFrame, struck: list[tuple[str, str]], end: dt.date) -> int:
    helpers = [p for p, _ in struck[::-1][:3]]
    for k, code in enumerate(helpers):
        needs_offers.post_offer(
            s,
            SYSTEM,
            code,
            "n95",
            1500 + 500 * k,
            from_date=end - dt.timedelta(days=3),
            source="stockpile",
            partners_only=(k == 1),
            today=end,
        )
    return len(helpers)


def _receive_arrived(ctx: DemoContext, plan_id: int, end: dt.date) -> tuple[int, int]:
    received = short = 0
    with transaction(ctx.sessions) as s:
        arrived = s.scalars(
            select(Shipment)
            .where(Shipment.plan_id == plan_id, Shipment.status == "dispatched", Shipment.arrive_day <= end)
            .order_by(Shipment.id)
        ).all()
        for k, ship in enumerate(arrived):
            sent = ship.quantity / catalog.SCALE
            if k == 0 and sent >= 10:
                shipments.receive(
                    s, SYSTEM, ship.id, sent - 5, day=ship.arrive_day, note="demo: one carton water-damaged", final=True
                )
                short += 1
            else:
                shipments.receive(s, SYSTEM, ship.id, sent, day=ship.arrive_day)
            received += 1
    return received, short

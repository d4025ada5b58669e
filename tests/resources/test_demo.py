"""The demo extension on a small generated country: stocks, needs, offers, an approved plan with receipts and a
discrepancy, a proposed plan, and early-warning alerts, all through the real services."""

from __future__ import annotations

import datetime as dt

from rich.console import Console
from sqlalchemy.engine import Engine

from accord.db import session_factory, transaction
from accord.demo import country, outbreak
from accord.demo.context import DemoContext
from accord.places import service as places
from accord.resources import demo, early_warning, ledger_store, needs_offers
from accord.resources import plans as allocation_plans
from accord.settings import Settings


def test_demo_extension(sqlite_engine: Engine) -> None:
    sessions = session_factory(sqlite_engine)  # the service tests cover PostgreSQL; this is about the story
    geo = country.generate_country(seed=3, provinces=4, cities=10, communities=80)
    start = dt.date(2026, 1, 6)
    truth = outbreak.simulate_outbreak(geo, days=50, seed=3, start=start)
    with transaction(sessions) as s:
        places.import_places(s, geo[["code", "name", "local_name", "level", "parent_code", "population"]])
    now = dt.datetime(2026, 2, 25, 12, tzinfo=dt.UTC)
    ctx = DemoContext(sessions, geo, truth, start, now, 3, "AR", Settings(), Console(quiet=True))
    lines = demo.extend(ctx)
    assert any("approved" in line for line in lines)
    with transaction(sessions) as s:
        plans = allocation_plans.plans_frame(s, "AR")
        assert list(plans["status"]) == ["proposed", "approved"]
        _, ships = allocation_plans.plan_frames(s, int(plans.iloc[1]["id"]))
        assert len(ships) > 0 and (ships["status"] != "planned").all()
        assert all(v == 0 for v in ledger_store.conservation(s).values())
        needs = needs_offers.needs_frame(s, "AR")
        assert set(needs["status"]) - {"open"}, "the approved plan moved some needs on"
        warn = early_warning.early_warning(s, "AR", now.date() - dt.timedelta(days=1), level="city")
        assert {"n95", "rice", "beds"} <= set(warn["resource"])

"""The demo extension: persons, cases and contacts in the demo communities agree with the simulated truth,
tracers exist, today's follow-ups are generated, and the health-code inputs come out."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from accord.auth.model import User
from accord.db import session_factory, transaction
from accord.demo import country, outbreak
from accord.demo.context import DemoContext
from accord.places import service as places
from accord.settings import Settings
from accord.tracing import demo, person_status, reconciliation
from accord.tracing.model import Case, Contact, Task


def test_demo_cases_match_the_truth_and_tasks_exist(sqlite_engine: Engine) -> None:
    sessions = session_factory(sqlite_engine)
    geo = country.generate_country(seed=3, provinces=2, cities=6, communities=40)
    now = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    start = dt.date(2026, 1, 10)
    truth = outbreak.simulate_outbreak(geo, days=50, seed=3, start=start)
    with transaction(sessions) as s:
        places.import_places(s, geo, file="demo")
    root = geo.loc[geo["level"] == "country", "code"].iloc[0]
    ctx = DemoContext(sessions, geo, truth, start, now, 3, root, Settings(), Console(quiet=True))
    lines = demo.extend(ctx)
    assert lines and "cases" in lines[0]
    chosen = demo._communities(ctx)
    with transaction(sessions) as s:
        n_cases = s.scalar(select(func.count(Case.id)))
        assert n_cases == int(chosen["value"].sum()) > 0
        counts = reconciliation.case_counts(s, root, now.date() - dt.timedelta(days=30), now.date())
        index = places.load_index(s)
        got = counts.assign(community=counts["jurisdiction_id"].map(dict(zip(index.ids, index.codes, strict=True))))
        expected = chosen.groupby(["community", pd.to_datetime(chosen["date"]).dt.date])["value"].sum()
        assert got.set_index(["community", "date"])["case_based"].sort_index().tolist() == expected.astype(int).tolist()
        assert s.scalar(select(func.count(Contact.id))) >= 2 * n_cases
        assert s.scalar(select(func.count(User.id)).where(User.role == "tracer")) == chosen["community"].nunique()
        assert s.scalar(select(func.count(Task.id))) > 0
        inputs = person_status.health_inputs(s)
        assert set(inputs["case_status"]) == {"confirmed", "none"} and inputs["quarantine_until"].notna().any()

"""`accord demo` end to end on a small country: the synthetic outbreak goes through the real submission service,
validation catches every deliberate error for the reason it was planted, replays change nothing, the store holds
exactly what the reporting plan says it should, roll-ups add up, and a second run refuses to load twice.

Small sizes (40 communities, 14 days) keep it to a few seconds; the plan is rebuilt here from the same seed
and clock to know what the store should hold.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from accord.db import make_engine, session_factory, transaction
from accord.demo import country, outbreak, reporting
from accord.demo.service import DemoReport, run_demo
from accord.places.model import Jurisdiction
from accord.settings import Settings
from accord.surveillance import service
from accord.surveillance.model import Figure, Observation, Submission

SEED, DAYS, COMMUNITIES = 3, 14, 40
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@dataclass
class Demo:
    report: DemoReport
    output: str
    settings: Settings
    sessions: sessionmaker[Session]
    batches: list[reporting.ReportBatch]
    expected: pd.DataFrame

    def counts(self) -> tuple[int, ...]:
        with transaction(self.sessions) as s:
            return tuple(
                int(s.scalar(select(func.count()).select_from(t)) or 0)
                for t in (Jurisdiction, Submission, Observation, Figure)
            )


def planned_batches() -> list[reporting.ReportBatch]:
    """The plan `run_demo` follows for (SEED, DAYS, COMMUNITIES, NOW), built the way it builds it."""
    cities = max(8, round(COMMUNITIES * 0.06))
    geo = country.generate_country(seed=SEED, provinces=8, cities=cities, communities=COMMUNITIES)
    start = (NOW - dt.timedelta(days=DAYS + 1)).date()
    truth = outbreak.simulate_outbreak(geo, days=DAYS, seed=SEED, start=start)
    return reporting.merge_for_bulk(reporting.plan_reports(truth, geo, seed=SEED, now=NOW))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    data_dir: Path = tmp_path_factory.mktemp("demo")
    settings = Settings(data_dir=data_dir)
    out = io.StringIO()
    report = run_demo(
        seed=SEED, days=DAYS, communities=COMMUNITIES, settings=settings, console=Console(file=out, width=200), now=NOW
    )
    batches = planned_batches()
    sessions = session_factory(make_engine(settings.effective_database_url))
    return Demo(report, out.getvalue(), settings, sessions, batches, reporting.expected_store(batches))


def test_every_deliberate_error_is_rejected_for_its_planted_reason(demo: Demo) -> None:
    r = demo.report
    planted = {b.idempotency_key: b.expected_error for b in demo.batches if b.kind == "deliberate_error"}
    assert len(planted) > 0
    assert r.rejected == planted  # exactly these, each with its reason, and nothing else rejected
    assert r.rejected_as_expected == len(r.rejected) > 0
    assert set(r.rejected.values()) <= set(reporting.ERROR_CODES)
    assert f"validation rejected {len(planted)} deliberate errors ({len(planted)} with the expected reason)" in (
        demo.output
    )


def test_replays_are_ignored(demo: Demo) -> None:
    replays = sum(b.kind == "replay" for b in demo.batches)
    assert demo.report.replays_ignored == replays > 0
    keys = {b.idempotency_key for b in demo.batches if b.kind != "deliberate_error"}
    with transaction(demo.sessions) as s:
        assert int(s.scalar(select(func.count()).select_from(Submission)) or 0) == len(keys)


def test_the_store_holds_what_the_plan_says(demo: Demo) -> None:
    expected = demo.expected
    assert len(expected) > 500
    with transaction(demo.sessions) as s:
        own_figures = int(s.scalar(select(func.count()).select_from(Figure).where(Figure.own_all.is_not(None))) or 0)
    assert own_figures == len(expected)  # every reported key once, nothing else reported at any level
    sample = expected.sample(n=40, random_state=SEED)
    # the corrected community-days are where a wrong store would show first: take them all
    corrected = {(row["jurisdiction"], row["date"]) for b in demo.batches if b.kind == "correction" for row in b.rows}
    extra = expected[[(j, d) in corrected for j, d in zip(expected["jurisdiction"], expected["date"], strict=True)]]
    sample = pd.concat([sample, extra]).drop_duplicates()
    assert len(extra) > 0
    with transaction(demo.sessions) as s:
        for (code, indicator, dis), rows in sample.groupby(["jurisdiction", "indicator", "disaggregation"]):
            frame = service.series(s, str(code), str(indicator), disaggregation=str(dis), view="all")
            stored = dict(zip(frame["date"].dt.strftime("%Y-%m-%d"), frame["own"], strict=True))
            for day, want in zip(rows["date"], rows["value"], strict=True):
                assert stored.get(day) == want, (code, indicator, dis, day)


@pytest.mark.parametrize("indicator", ["new_confirmed", "new_deaths"])
def test_rollup_at_the_country_is_the_sum_of_its_provinces(demo: Demo, indicator: str) -> None:
    with transaction(demo.sessions) as s:
        root = s.scalar(select(Jurisdiction).where(Jurisdiction.code == "AR"))
        assert root is not None
        provinces = list(s.scalars(select(Jurisdiction.code).where(Jurisdiction.parent_id == root.id)))
        national = service.series(s, "AR", indicator, view="all").set_index("date")["value"]
        by_province = pd.concat(
            [service.series(s, code, indicator, view="all").set_index("date")["value"] for code in provinces], axis=1
        ).sum(axis=1, min_count=1)
    assert len(provinces) == 8
    assert len(national) > 0
    pd.testing.assert_series_equal(national, by_province.reindex(national.index), check_names=False)
    # and both are the sum of what the communities reported
    rows = demo.expected[(demo.expected["indicator"] == indicator) & (demo.expected["disaggregation"] == "")]
    truth = rows.groupby("date")["value"].sum()
    assert {d.strftime("%Y-%m-%d"): v for d, v in national.items()} == truth.to_dict()


def test_the_bulletin_carries_the_stock_out_warning_of_the_books_the_demo_keeps(demo: Demo) -> None:
    from accord.disclosure import bulletin
    from accord.disclosure import service as disclosure
    from accord.resources import early_warning

    with transaction(demo.sessions) as s:
        facts = disclosure.bulletin_facts(s, "AR", None)
        alerts = early_warning.early_warning(s, "AR", facts.day, view="public")
    assert not alerts.empty and set(facts.supply) == set(bulletin.LANGS)
    english = bulletin.compose(facts, "en").paragraphs
    assert english[-1] == facts.supply["en"] == early_warning.bulletin_sentence(alerts, "en")
    assert bulletin.compose(facts, "zh").paragraphs[-1] == facts.supply["zh"]


def test_running_it_again_loads_nothing_twice(demo: Demo) -> None:
    before = demo.counts()
    out = io.StringIO()
    again = run_demo(
        seed=SEED,
        days=DAYS,
        communities=COMMUNITIES,
        settings=demo.settings,
        console=Console(file=out, width=200),
        now=NOW + dt.timedelta(days=1),
    )
    assert "already loaded" in out.getvalue()
    assert (again.places, again.batches, again.rows, again.rejected) == (0, 0, 0, {})
    assert demo.counts() == before

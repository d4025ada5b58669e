"""Build the demo instance: a fictional country, a seeded outbreak, reported through the real services.

Everything goes through the same code paths a health commission uses: places import, users and tokens,
schedules, submissions (with their validation, roll-up and flags), approvals and auto-publication.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from accord import migrate
from accord.auth import service as auth
from accord.auth.model import User
from accord.auth.roles import SYSTEM, Actor
from accord.db import engine_from_settings, session_factory, transaction, utcnow
from accord.demo import country, outbreak, reporting
from accord.demo.context import DemoContext
from accord.disclosure.boundaries import generate_voronoi_boundaries
from accord.errors import AccordError
from accord.places import service as places
from accord.settings import Settings, get_settings
from accord.surveillance import service as surveillance

ROOT = "AR"


@dataclass
class DemoReport:
    places: int = 0
    batches: int = 0
    rows: int = 0
    replays_ignored: int = 0
    rejected: dict[str, str] = field(default_factory=dict)  # key -> error code
    rejected_as_expected: int = 0
    auto_published: int = 0
    reporting_flags: int = 0
    tokens: dict[str, str] = field(default_factory=dict)
    extras: list[str] = field(default_factory=list)  # what each capability added


def run_demo(
    seed: int = 7,
    days: int = 120,
    communities: int = 1000,
    console: Console | None = None,
    settings: Settings | None = None,
    now: dt.datetime | None = None,
) -> DemoReport:
    settings = settings or get_settings()
    console = console or Console(stderr=True)
    engine = engine_from_settings(settings)
    migrate.upgrade(engine)
    sessions = session_factory(engine)
    try:
        with transaction(sessions) as s:
            surveillance.seed_indicators(s)
            if places.load_index(s).id_of(ROOT) is not None:
                console.print(
                    f"the demo country '{ROOT}' is already loaded in {settings.effective_database_url}; "
                    "delete the database file to rebuild it"
                )
                return DemoReport()
        return _build(sessions, seed, days, communities, console, settings, now or utcnow())
    finally:
        engine.dispose()


def _build(
    sessions: sessionmaker[Session],
    seed: int,
    days: int,
    communities: int,
    console: Console,
    settings: Settings,
    now: dt.datetime,
) -> DemoReport:
    report = DemoReport()
    cities = max(8, round(communities * 0.06))
    geo = country.generate_country(seed=seed, provinces=8, cities=cities, communities=communities)
    start = (now - dt.timedelta(days=days + 1)).date()
    truth = outbreak.simulate_outbreak(geo, days=days, seed=seed, start=start)
    batches = reporting.merge_for_bulk(reporting.plan_reports(truth, geo, seed=seed, now=now))
    with transaction(sessions) as s:
        report.places = places.import_places(s, geo, file="demo").created
        # the fictional country has no surveyed borders: Voronoi cells of each level give every map a picture
        places.set_boundaries(s, generate_voronoi_boundaries(geo[geo["level"] != "country"]))
        report.tokens = _users(s, geo)
        surveillance.set_schedule(
            s,
            SYSTEM,
            ROOT,
            ["new_confirmed", "new_deaths", "new_recovered", "new_tests"],
            level="community",
            active_from=start,
            deadline_hour=23,
            due_days_after=1,
        )
    columns = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )
    with columns as progress:
        task = progress.add_task("reporting the outbreak", total=len(batches))
        for batch in batches:
            _submit(sessions, batch, report)
            # what `accord serve` does every minute: days nobody held publish themselves after the delay
            with transaction(sessions) as s:
                report.auto_published += surveillance.publish_due(s, batch.submitted_at, settings.auto_publish_hours)
            progress.advance(task)
    with transaction(sessions) as s:
        report.auto_published += surveillance.publish_due(s, now, settings.auto_publish_hours)
        report.reporting_flags = surveillance.record_reporting_flags(
            s, ROOT, start, (now - dt.timedelta(days=1)).date(), now, settings.timezone
        )
        surveillance.deaths_above_confirmed(s, ROOT, now)
    context = DemoContext(sessions, geo, truth, start, now, seed, ROOT, settings, console)
    report.extras = _extend(context)
    _print_summary(console, report, settings)
    return report


def _extend(context: DemoContext) -> list[str]:
    """Let each capability add to the country, in dependency order: measures and risk areas, cases and
    contacts, stocks and needs, then health codes (which read cases, contacts and risk areas)."""
    from accord.healthcode import demo as healthcode_demo
    from accord.policy import demo as policy_demo
    from accord.resources import demo as resources_demo
    from accord.tracing import demo as tracing_demo

    lines: list[str] = []
    for capability in (policy_demo, tracing_demo, resources_demo, healthcode_demo):
        lines += capability.extend(context)
    return lines


def _users(session: Session, geo: pd.DataFrame) -> dict[str, str]:
    """One coordinator per province and the country, one reporter per city: tokens for the tour."""
    specs: list[tuple[str, str, str | None]] = [("admin", "admin", None), ("national", "coordinator", ROOT)]
    first_province = geo.loc[geo["level"] == "province", "code"].iloc[0]
    first_city = geo.loc[geo["parent_code"] == first_province, "code"].iloc[0]
    specs += [
        (f"coord-{first_province}", "coordinator", first_province),
        (f"reporter-{first_city}", "reporter", first_city),
        ("analyst", "analyst", ROOT),
    ]
    tokens = {}
    for username, role, scope in specs:
        if session.scalar(select(User).where(User.username == username)) is None:
            auth.add_user(session, username, role, scope)
        tokens[username] = auth.issue_token(session, username, label="demo")
    return tokens


def _submit(sessions: sessionmaker[Session], batch: reporting.ReportBatch, report: DemoReport) -> None:
    frame = pd.DataFrame(batch.rows, columns=list(reporting.ROW_KEYS))
    actor: Actor = SYSTEM
    try:
        with transaction(sessions) as s:
            result = surveillance.submit(
                s,
                frame,
                actor=actor,
                source=f"demo:{batch.kind}",
                idempotency_key=batch.idempotency_key,
                now=batch.submitted_at,
            )
    except AccordError as exc:
        code = exc.problems[0].code if exc.problems else exc.kind
        report.rejected[batch.idempotency_key] = code
        report.rejected_as_expected += code == batch.expected_error
        return
    report.batches += 1
    report.rows += result.rows
    report.replays_ignored += result.replayed


def _print_summary(console: Console, report: DemoReport, settings: Settings) -> None:
    base = f"http://{settings.host}:{settings.port}"
    lines: list[Any] = [
        f"[bold]Demo country ready[/]: {report.places:,} jurisdictions, {report.rows:,} observations in "
        f"{report.batches:,} submissions ({report.replays_ignored} replays ignored)",
        f"validation rejected {len(report.rejected)} deliberate errors "
        f"({report.rejected_as_expected} with the expected reason); {report.auto_published:,} reporting days "
        f"auto-published; {report.reporting_flags:,} late or missing reports flagged",
        f"API docs:   {base}/docs",
        f"the tree:   {base}/api/v1/jurisdictions/{ROOT}",
        f"a series:   {base}/api/v1/series?jurisdiction={ROOT}&indicator=new_confirmed&format=csv",
        f"public:     {base}/public/{ROOT}",
        f"flags:      {base}/api/v1/flags?jurisdiction={ROOT}  (send a token below as 'Authorization: Bearer ...')",
    ]
    for line in [*report.extras, *lines]:
        console.print(line, highlight=False)
    for user, token in report.tokens.items():
        console.print(f"token {user:<22} {token}", highlight=False)

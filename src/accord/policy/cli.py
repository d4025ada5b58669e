"""``accord policy``: the measures registry, directives down the tree, inboxes and risk areas from a terminal.

(``accord scenario ...`` belongs to the scenario engine.)
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from accord import clikit
from accord.errors import AccordError
from accord.places.model import Jurisdiction
from accord.policy import in_force as measures_in_force
from accord.policy import measures, oxcgrt_import, risk, risk_areas
from accord.policy.measures import MeasureInput

app = typer.Typer(
    help="Interventions: measures registry, directives down the tree, risk areas, scenarios.", no_args_is_help=True
)
measure_app = typer.Typer(help="Measures coded like OxCGRT (C1-C8, E1-E2, H1-H8).", no_args_is_help=True)
risk_app = typer.Typer(help="Risk areas: daily high / medium / low classification.", no_args_is_help=True)
app.add_typer(measure_app, name="measure")
app.add_typer(risk_app, name="risk")

UserOpt = Annotated[str | None, typer.Option("--user", help="act as this user (role and scope apply)")]
FormatOpt = Annotated[str, typer.Option("--format", help="table, csv or json")]


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except AccordError as exc:
        raise typer.Exit(clikit.handle(exc)) from None


def _day(value: str | None) -> dt.date | None:
    return clikit.parse_day(value) if value else None


def _emit(rows: list[dict[str, Any]], fmt: str, columns: list[str], title: str) -> None:
    if fmt == "json":
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=1, default=str) + "\n")
    elif fmt == "csv":
        pd.DataFrame(rows, columns=columns).to_csv(sys.stdout, index=False)
    elif fmt == "table":
        table = Table(title=title)
        for c in columns:
            table.add_column(c)
        for r in rows:
            table.add_row(*("" if r.get(c) is None else str(r.get(c)) for c in columns))
        clikit.console.print(table)
    else:
        clikit.fail(f"unknown format '{fmt}' (use table, csv or json)")


@app.command("import-oxcgrt")
def import_oxcgrt(
    file: Annotated[Path, typer.Argument(help="an OxCGRT CSV: per-indicator rows, or an index time series")],
    map_: Annotated[
        list[str] | None, typer.Option("--map", help="OxCGRT code=Accord code for national rows (default CHN=CN)")
    ] = None,
    user: UserOpt = None,
) -> None:
    """Import OxCGRT measures (as recorded measures) or published indices for the places of the tree."""
    if not file.exists():
        clikit.fail(f"{file}: no such file")
    mapping = {"CHN": "CN"}
    for item in map_ or []:
        left, sep, right = item.partition("=")
        if not sep or not left or not right:
            clikit.fail(f"--map '{item}': write it as OXCGRT_CODE=ACCORD_CODE")
        mapping[left.strip()] = right.strip()
    started = time.perf_counter()
    with _errors(), clikit.session_scope() as session:
        actor = clikit.actor_from(session, user)
        with clikit.console.status(f"importing {file.name}"):
            result = oxcgrt_import.import_oxcgrt(session, actor, file, mapping)
    took = time.perf_counter() - started
    what = f"{result.measures:,} measures" if result.kind == "measures" else f"{result.index_values:,} index values"
    clikit.console.print(
        f"{file.name}: {what} for {len(result.regions)} jurisdictions in {took:.1f} s"
        f" (replaced {result.replaced:,}; {len(result.skipped)} regions not in the tree skipped)",
        highlight=False,
    )


@measure_app.command("add")
def measure_add(
    jurisdiction: Annotated[str, typer.Argument(help="code of the issuing jurisdiction (applies to its subtree)")],
    indicator: Annotated[str, typer.Argument(help="OxCGRT code: C1-C8, E1-E2, H1-H3, H6-H8")],
    level: Annotated[int, typer.Argument(help="ordinal level (0 to the indicator's maximum)")],
    start: Annotated[str, typer.Option(help="first day, YYYY-MM-DD")],
    end: Annotated[str | None, typer.Option(help="last day (inclusive); none = until further notice")] = None,
    targeted: Annotated[bool, typer.Option(help="applies to part of the jurisdiction only (OxCGRT flag 0)")] = False,
    allow_relaxation: Annotated[bool, typer.Option(help="places below may set a lower level")] = False,
    notes: Annotated[str | None, typer.Option(help="free text")] = None,
    source: Annotated[str | None, typer.Option(help="document, decree or link")] = None,
    user: UserOpt = None,
) -> None:
    """Issue a measure (a directive: every place below hears of it in its inbox)."""
    data = MeasureInput(
        jurisdiction,
        indicator.upper(),
        level,
        clikit.parse_day(start),
        _day(end),
        targeted,
        allow_relaxation,
        notes,
        source,
    )
    with _errors(), clikit.session_scope() as session:
        m = measures.add_measure(session, clikit.actor_from(session, user), data)
        mid = m.id
    clikit.console.print(f"measure {mid} issued at {jurisdiction}; the inboxes of its subtree are notified")


@measure_app.command("end")
def measure_end(
    measure_id: Annotated[int, typer.Argument(help="the measure's id")],
    on: Annotated[str, typer.Option("--on", help="its last day, YYYY-MM-DD")],
    user: UserOpt = None,
) -> None:
    """Lift a measure from a day on (its last day is --on)."""
    with _errors(), clikit.session_scope() as session:
        measures.end_measure(session, clikit.actor_from(session, user), measure_id, clikit.parse_day(on))
    clikit.console.print(f"measure {measure_id} ends on {on}")


@measure_app.command("list")
def measure_list(
    at: Annotated[str | None, typer.Option("--at", help="only measures issued at this jurisdiction")] = None,
    indicator: Annotated[str | None, typer.Option(help="only this indicator code")] = None,
    on: Annotated[str | None, typer.Option(help="only measures in force on this day at their jurisdiction")] = None,
    kind: Annotated[str | None, typer.Option(help="directive or recorded")] = None,
    limit: Annotated[int, typer.Option(help="at most this many")] = 200,
    fmt: FormatOpt = "table",
) -> None:
    """List registered measures, newest first."""
    with _errors(), clikit.session_scope() as session:
        rows, total = measures.list_measures(
            session, at, indicator=indicator.upper() if indicator else None, on=_day(on), kind=kind, limit=limit
        )
    cols = ["id", "jurisdiction", "indicator", "level", "targeted", "start", "end", "allow_relaxation", "kind", "notes"]
    _emit(rows, fmt, cols, f"{len(rows)} of {total} measures")


@app.command("in-force")
def in_force(
    code: Annotated[str, typer.Argument(help="a jurisdiction code")],
    date: Annotated[str, typer.Option("--date", help="the day, YYYY-MM-DD")],
    fmt: FormatOpt = "table",
) -> None:
    """What is in force at a place on a day, and who ordered it."""
    with _errors(), clikit.session_scope() as session:
        rows = [f.as_dict() for f in measures_in_force.in_force(session, code, clikit.parse_day(date))]
    flat = [
        {
            **{k: r[k] for k in ("indicator", "indicator_name", "level", "level_label", "targeted", "ordered_by")},
            "measure": r["measure"]["id"],
            "overrides": ", ".join(str(o["id"]) for o in r["overridden"]),
        }
        for r in rows
    ]
    if fmt == "json":
        _emit(rows, fmt, [], "")
        return
    cols = ["indicator", "indicator_name", "level", "level_label", "targeted", "ordered_by", "measure", "overrides"]
    _emit(flat, fmt, cols, f"in force at {code} on {date}")


@app.command("inbox")
def inbox(
    code: Annotated[str, typer.Argument(help="the jurisdiction whose inbox to read")],
    unread: Annotated[bool, typer.Option(help="only what has not been read")] = False,
    mark_read: Annotated[bool, typer.Option(help="mark everything read afterwards")] = False,
    limit: Annotated[int, typer.Option(help="at most this many")] = 50,
    user: UserOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Directives that reached a jurisdiction from itself or above, newest first."""
    with _errors(), clikit.session_scope() as session:
        actor = clikit.actor_from(session, user)
        rows = measures.inbox(session, actor, code, unread_only=unread, limit=limit)
        if mark_read:
            measures.mark_read(session, actor, code)
    flat = [
        {
            "id": r["id"],
            "received_at": r["received_at"][:19],
            "read": "yes" if r["read_at"] else "no",
            "from": r["measure"]["jurisdiction"],
            "measure": f"{r['measure']['indicator']} {r['measure']['level']} ({r['measure']['level_label']})",
            "start": r["measure"]["start"],
            "end": r["measure"]["end"],
        }
        for r in rows
    ]
    if fmt == "json":
        _emit(rows, fmt, [], "")
        return
    _emit(flat, fmt, ["id", "received_at", "read", "from", "measure", "start", "end"], f"inbox of {code}")


@risk_app.command("classify")
def risk_classify(
    date: Annotated[str, typer.Option("--date", help="first day to classify, YYYY-MM-DD")],
    to: Annotated[str | None, typer.Option("--to", help="last day (default: --date)")] = None,
    root: Annotated[str | None, typer.Option(help="classify under this jurisdiction (default: every tree)")] = None,
    rule: Annotated[str | None, typer.Option(help="rule version (default: the latest published)")] = None,
    user: UserOpt = None,
) -> None:
    """Classify every jurisdiction at the rule's level as high / medium / low, day by day (history kept)."""
    start = clikit.parse_day(date)
    end = clikit.parse_day(to) if to else start
    if end < start:
        clikit.fail(f"--to {end} is before --date {start}")
    counts: dict[str, int] = {}
    with _errors(), clikit.session_scope() as session:
        actor = clikit.actor_from(session, user)
        the_rule = risk_areas.current_rule(session, rule)
        roots = (
            [root] if root else list(session.scalars(select(Jurisdiction.code).where(Jurisdiction.parent_id.is_(None))))
        )
        chunks = [(start + dt.timedelta(days=d)) for d in range(0, (end - start).days + 1, 31)]
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=clikit.err) as progress:
            task = progress.add_task(f"classifying ({the_rule.version})", total=len(chunks) * len(roots))
            for r in roots:
                for first in chunks:
                    last = min(end, first + dt.timedelta(days=30))
                    out = risk_areas.classify(session, actor, r, first, last, rule=the_rule)
                    for level, n in out.frame["level"].value_counts().items():
                        counts[str(level)] = counts.get(str(level), 0) + int(n)
                    progress.advance(task)
    summary = ", ".join(f"{counts.get(k, 0):,} {k}" for k in ("high", "medium", "low"))
    clikit.console.print(f"classified {start} to {end} by rule {the_rule.version}: {summary} (region-days)")


@risk_app.command("list")
def risk_list(
    date: Annotated[str, typer.Option("--date", help="the day, YYYY-MM-DD")],
    level: Annotated[str | None, typer.Option(help="only high, medium or low")] = None,
    rule: Annotated[str | None, typer.Option(help="rule version (default: the latest published)")] = None,
    fmt: FormatOpt = "table",
) -> None:
    """The stored classification of a day."""
    if level is not None and level not in risk.LEVELS:
        clikit.fail(f"--level '{level}': use high, medium or low")
    with _errors(), clikit.session_scope() as session:
        table = risk_areas.risk_table(session, clikit.parse_day(date), rule)
    if level:
        table = table[table["level"] == level]
    rows = [{str(k): v for k, v in r.items()} for r in table.drop(columns=["computed_at"]).to_dict("records")]
    _emit(rows, fmt, ["jurisdiction", "jurisdiction_name", "level", "cases_14d", "cluster"], f"risk areas on {date}")


@risk_app.command("rules")
def risk_rules(fmt: FormatOpt = "table") -> None:
    """The published rule versions."""
    with _errors(), clikit.session_scope() as session:
        rows = risk_areas.list_rules(session)
    _emit(rows, fmt, ["version", "created_at", "description"], "risk rules")


@risk_app.command("publish-rule")
def risk_publish_rule(
    version: Annotated[str, typer.Option(help="a new version name, e.g. cn-2020-v2")],
    level: Annotated[str, typer.Option(help="tree level to classify")] = risk.DEFAULT_RULE.level,
    window_days: Annotated[int, typer.Option(help="window in days")] = risk.DEFAULT_RULE.window_days,
    high_cases: Annotated[int, typer.Option(help="high: more than this many cases")] = risk.DEFAULT_RULE.high_cases,
    medium_cases: Annotated[int, typer.Option(help="medium: at least this many")] = risk.DEFAULT_RULE.medium_cases,
    cluster_cases: Annotated[int, typer.Option(help="cluster: cases in one unit")] = risk.DEFAULT_RULE.cluster_cases,
    high_needs_cluster: Annotated[bool, typer.Option(help="high requires a cluster")] = True,
    user: UserOpt = None,
) -> None:
    """Publish a new version of the risk rule (it becomes the current one)."""
    with _errors():
        rule = risk.RiskRule(version, level, window_days, high_cases, medium_cases, cluster_cases, high_needs_cluster)
        with clikit.session_scope() as session:
            risk_areas.publish_rule(session, clikit.actor_from(session, user), rule)
    clikit.console.print(f"risk rule {version} published: {rule.describe()}", highlight=False)

"""``accord report``, ``accord import`` and ``accord export``: daily reporting from a terminal."""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from accord import clikit
from accord.db import utcnow
from accord.surveillance import exchange, integrity, service
from accord.surveillance import formats as formats_

app = typer.Typer(help="Daily reports: submit, approve, schedules, flags, series.", no_args_is_help=True)

UserOpt = Annotated[str | None, typer.Option("--user", help="act as this user (scope and role apply)")]


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=clikit.err, transient=True
    )


def import_command(
    file: Annotated[Path, typer.Argument(help="the file to import")],
    format: Annotated[str, typer.Option("--format", "-f", help="csv, owid, jhu, who, dhis2, adx, canghailan")],
    user: UserOpt = None,
    key: Annotated[str | None, typer.Option(help="idempotency key (default: the file's content hash)")] = None,
    country: Annotated[str | None, typer.Option(help="canghailan: the country to import (default CN)")] = None,
    encoding: Annotated[str | None, typer.Option(help="decode the file with this encoding (e.g. gb18030)")] = None,
) -> None:
    """Import observations from a file: one all-or-nothing submission."""
    s = clikit.settings()
    data = clikit.read_file(file, s.max_upload_bytes)
    options: dict[str, object] = {}
    if country:
        options["country"] = country
    if encoding:
        options["encoding"] = encoding
    with _progress() as progress:
        task = progress.add_task(f"importing {file.name}", total=None)
        with clikit.session_scope() as session:
            actor = clikit.actor_from(session, user)
            result = exchange.import_bytes(
                session,
                format,
                data,
                file.name,
                actor=actor,
                idempotency_key=key,
                options=options,
                progress=lambda msg: progress.update(task, description=f"{file.name}: {msg}"),
            )
    _print_result(result)


def _print_result(result: dict[str, object]) -> None:
    if result.get("replayed"):
        clikit.console.print(f"already imported as submission {result['submission_id']}: nothing changed")
        return
    clikit.console.print(
        f"submission {result['submission_id']}: {result['rows']:,} rows — {result['new']:,} new, "
        f"{result['revised']:,} revised, {result['unchanged']:,} unchanged"
    )
    for note in list(result.get("notes") or []):  # type: ignore[call-overload]
        clikit.console.print(f"note: {note}")
    warnings = result.get("warnings") or []
    if warnings:
        clikit.console.print(f"{len(warnings)} warning(s), e.g.:")  # type: ignore[arg-type]
        for w in warnings[:5]:  # type: ignore[index]
            clikit.console.print(f"  - {w['jurisdiction']} {w['date']}: {w['message']}")


def export_command(
    format: Annotated[str, typer.Option("--format", "-f", help="csv, owid, jhu, who, dhis2, adx")],
    jurisdiction: Annotated[str, typer.Option("--jurisdiction", "-j", help="root of the export")],
    level: Annotated[str | None, typer.Option(help="only jurisdictions at this level (e.g. province)")] = None,
    start: Annotated[str | None, typer.Option(help="first date (YYYY-MM-DD)")] = None,
    end: Annotated[str | None, typer.Option(help="last date (YYYY-MM-DD)")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="file to write (default stdout)")] = None,
    include_provisional: Annotated[bool, typer.Option(help="include unapproved figures")] = False,
) -> None:
    """Export published figures in a standard layout."""
    with clikit.session_scope() as session:
        data, _, _name = exchange.export_bytes(
            session,
            format,
            jurisdiction,
            level=level,
            start=clikit.parse_day(start) if start else None,
            end=clikit.parse_day(end) if end else None,
            view="all" if include_provisional else "public",
        )
    if output:
        output.write_bytes(data)
        clikit.err.print(f"wrote {len(data):,} bytes to {output}")
    else:
        sys.stdout.buffer.write(data)


@app.command()
def submit(
    file: Annotated[Path, typer.Argument(help="long CSV: jurisdiction,date,indicator,disaggregation,value,reason")],
    user: UserOpt = None,
    key: Annotated[str | None, typer.Option(help="idempotency key")] = None,
) -> None:
    """Submit a day's report as a long CSV (same as `accord import --format csv`)."""
    import_command(file, "csv", user, key, None, None)


def _days(values: list[str]) -> list[date]:
    out: list[date] = []
    for v in values:
        if ".." in v:
            a, b = (clikit.parse_day(x) for x in v.split("..", 1))
            out.extend(d.date() for d in __import__("pandas").date_range(a, b))
        else:
            out.append(clikit.parse_day(v))
    return out


@app.command()
def approve(
    code: str, dates: Annotated[list[str], typer.Argument(help="days or ranges A..B")], user: UserOpt = None
) -> None:
    """Approve (lock and publish) a unit's reporting days."""
    with clikit.session_scope() as session:
        n = service.approve(session, clikit.actor_from(session, user), code, _days(dates), now=utcnow())
    clikit.console.print(f"approved {n} day(s) of {code}")


@app.command()
def hold(
    code: str,
    dates: Annotated[list[str], typer.Argument(help="days or ranges A..B")],
    release: bool = False,
    user: UserOpt = None,
) -> None:
    """Hold days from auto-publication (or --release them)."""
    with clikit.session_scope() as session:
        n = service.set_hold(session, clikit.actor_from(session, user), code, _days(dates), hold=not release)
    clikit.console.print(f"{'released' if release else 'held'} {n} day(s) of {code}")


@app.command("publish-due")
def publish_due() -> None:
    """Publish every unapproved day older than ACCORD_AUTO_PUBLISH_HOURS that nobody held."""
    s = clikit.settings()
    with clikit.session_scope() as session:
        n = service.publish_due(session, utcnow(), s.auto_publish_hours)
    clikit.console.print(f"auto-published {n} day(s)")


@app.command()
def schedule(
    code: str,
    indicators: Annotated[
        str, typer.Option(help="comma-separated indicator codes")
    ] = "new_confirmed,new_deaths,new_recovered",
    level: Annotated[str | None, typer.Option(help="apply to every unit at this level below CODE")] = None,
    frequency: str = "daily",
    deadline_hour: int = 10,
    due_days_after: int = 1,
    active_from: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default today)")] = None,
    user: UserOpt = None,
) -> None:
    """Set the reporting schedule of a unit or of every unit at a level."""
    with clikit.session_scope() as session:
        n = service.set_schedule(
            session,
            clikit.actor_from(session, user),
            code,
            [c.strip() for c in indicators.split(",") if c],
            level=level,
            frequency=frequency,
            deadline_hour=deadline_hour,
            due_days_after=due_days_after,
            active_from=clikit.parse_day(active_from) if active_from else utcnow().date(),
        )
    clikit.console.print(f"scheduled {n} unit(s)")


@app.command()
def compliance(
    code: str,
    start: str,
    end: str,
    record: Annotated[bool, typer.Option(help="store late/missing reports as flags")] = False,
) -> None:
    """Which scheduled reports came on time, late, or not at all."""
    s = clikit.settings()
    with clikit.session_scope() as session:
        frame = service.compliance(session, code, clikit.parse_day(start), clikit.parse_day(end), utcnow(), s.timezone)
        added = (
            service.record_reporting_flags(
                session, code, clikit.parse_day(start), clikit.parse_day(end), utcnow(), s.timezone
            )
            if record
            else 0
        )
    counts = frame["status"].value_counts().to_dict() if len(frame) else {}
    clikit.console.print(", ".join(f"{k}: {v:,}" for k, v in sorted(counts.items())) or "no scheduled reports")
    if record:
        clikit.console.print(f"{added} new flag(s)")


@app.command()
def flags(
    code: Annotated[str | None, typer.Argument(help="only under this jurisdiction")] = None,
    kind: Annotated[str | None, typer.Option("--code", help="flag code")] = None,
    limit: int = 50,
) -> None:
    """List validation flags."""
    with clikit.session_scope() as session:
        rows, total = service.flags(session, root_code=code, code=kind, limit=limit)
    table = Table("id", "code", "jurisdiction", "date", "message")
    for r in rows:
        table.add_row(str(r["id"]), r["code"], r["jurisdiction"] or "", r["date"] or "", r["message"])
    clikit.console.print(table)
    clikit.console.print(f"{total:,} flag(s) in all")


@app.command()
def series(
    code: str,
    indicator: str = "new_confirmed",
    disaggregation: str = "",
    start: str | None = None,
    end: str | None = None,
    as_of: Annotated[str | None, typer.Option(help="what was known at this time (ISO, with offset)")] = None,
    provisional: Annotated[bool, typer.Option(help="include unapproved figures")] = True,
) -> None:
    """Print a daily series as CSV."""
    with clikit.session_scope() as session:
        frame = service.series(
            session,
            code,
            indicator,
            disaggregation=disaggregation,
            start=clikit.parse_day(start) if start else None,
            end=clikit.parse_day(end) if end else None,
            view="all" if provisional else "public",
            as_of=_as_of(as_of) if as_of else None,
        )
    sys.stdout.write(frame.to_csv(index=False, date_format="%Y-%m-%d"))


def _as_of(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        clikit.fail(f"'{value}' is not a time (ISO 8601 with an offset, e.g. 2020-02-13T00:00:00+08:00)")
        raise
    if moment.tzinfo is None:
        clikit.fail(f"'{value}' needs a time zone offset (e.g. {value}T00:00:00+00:00), or it is ambiguous")
    return moment


@app.command()
def history(code: str, indicator: str, day: str, disaggregation: str = "") -> None:
    """Every revision behind one figure."""
    with clikit.session_scope() as session:
        frame = service.history(session, code, indicator, clikit.parse_day(day), disaggregation)
    sys.stdout.write(frame.to_csv(index=False))


@app.command()
def check(
    code: str,
    start: Annotated[str | None, typer.Option(help="first day checked (YYYY-MM-DD); default: all")] = None,
    end: Annotated[str | None, typer.Option(help="last day checked (YYYY-MM-DD); default: all")] = None,
    repair: Annotated[bool, typer.Option(help="recompute the sums that are wrong from the own reports")] = False,
) -> None:
    """Check the store under a jurisdiction: every parent's figure is its own report or its children's sum
    (exit 1 when one is not, each flagged), and deaths do not exceed confirmed cases."""
    first = clikit.parse_day(start) if start else None
    last = clikit.parse_day(end) if end else None
    now = utcnow()
    with clikit.session_scope() as session:
        mismatches = integrity.check_rollup(session, code, first, last)
        flagged = integrity.flag_mismatches(session, mismatches, now)
        deaths = service.deaths_above_confirmed(session, code, now)
        rewritten = (
            integrity.repair_rollup(session, integrity.find_mismatches(session, code, first, last)) if repair else 0
        )
    for m in mismatches[:20]:
        clikit.err.print(f"  - {m.sentence()}", highlight=False, soft_wrap=True)
    if len(mismatches) > 20:
        clikit.err.print(f"  ... and {len(mismatches) - 20} more", highlight=False)
    clikit.console.print(
        f"{len(mismatches)} roll-up mismatch(es) ({flagged} newly flagged), {deaths} new deaths-above-confirmed flag(s)"
        + (f"; repaired {rewritten} figure(s)" if repair else "")
    )
    if mismatches and not repair:
        clikit.fail("the roll-up is not consistent with the reports; run again with --repair to recompute it")


@app.command("formats")
def list_formats() -> None:
    """List the supported file formats."""
    for name in formats_.names():
        clikit.console.print(name)

"""``accord resources``: the resources capability from a terminal.

stock (read or book movements), need, offer, route, pair, plan (from the database, or ``--instance FILE`` without
one), approve, receive, warn, import-capacity, reverse, catalog, rules. Errors are one sentence and the documented
exit code; ``--user NAME`` acts as that user (role and scope apply), otherwise as the local operator.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.progress import Progress
from rich.table import Table

from accord import clikit
from accord.errors import AccordError
from accord.resources import (
    capacity_import,
    catalog_store,
    early_warning,
    ledger_store,
    movements,
    needs_offers,
    network,
    shipments,
    warning,
)
from accord.resources import plans as allocation_plans

app = typer.Typer(
    help="Resource mobilisation: stock ledger, needs and offers, allocation plans, early warning.", no_args_is_help=True
)

UserOpt = Annotated[str | None, typer.Option("--user", help="act as this user (role and scope apply)")]
FormatOpt = Annotated[str, typer.Option("--format", help="table, csv or json")]


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except AccordError as exc:
        raise typer.Exit(clikit.handle(exc)) from None


def _day(value: str | None) -> date | None:
    return clikit.parse_day(value) if value else None


def _show(frame: pd.DataFrame, fmt: str, title: str) -> None:
    if fmt == "csv":
        clikit.console.print(frame.to_csv(index=False), end="", highlight=False, soft_wrap=True)
        return
    if fmt == "json":
        clikit.console.print(frame.to_json(orient="records", force_ascii=False), highlight=False, soft_wrap=True)
        return
    table = Table(title=title, title_justify="left")
    for col in frame.columns:
        table.add_column(str(col), justify="right" if pd.api.types.is_numeric_dtype(frame[col]) else "left")
    for row in frame.itertuples(index=False):
        table.add_row(
            *[
                ""
                if v is None or (isinstance(v, float) and pd.isna(v))
                else f"{v:,.6g}"
                if isinstance(v, float)
                else str(v)
                for v in row
            ]
        )
    clikit.console.print(table)


# ---------------------------------------------------------------------------------------------- stock
@app.command()
def stock(
    root: Annotated[str, typer.Argument(help="jurisdiction code: its subtree is listed")],
    at: Annotated[str | None, typer.Option("--date", help="end of this day (YYYY-MM-DD; default today)")] = None,
    resource: Annotated[str | None, typer.Option(help="only this resource")] = None,
    fmt: FormatOpt = "table",
) -> None:
    """Stock on hand, burn rate and days of supply of every holding account in a subtree."""
    with _errors(), clikit.session_scope() as session:
        frame = ledger_store.stock(session, root, _day(at), resource)
    _show(frame, fmt, f"Stock under {root}")


@app.command()
def book(
    movement: Annotated[str, typer.Argument(help="receipt, donation, transfer, consume or count")],
    resource: Annotated[str, typer.Argument(help="resource code (accord resources catalog)")],
    quantity: Annotated[str, typer.Argument(help="how many (in --unit, default the resource's unit)")],
    source: Annotated[str, typer.Option("--from", help="kind:CODE[:warehouse], e.g. supply:AR-01 or stock:AR-01")],
    target: Annotated[str, typer.Option("--to", help="kind:CODE[:warehouse], e.g. stock:AR-01-01 or consumed:AR-01")],
    unit: Annotated[str | None, typer.Option(help="unit of the quantity (converted when unambiguous)")] = None,
    day: Annotated[str | None, typer.Option("--date", help="the day it happened (default today)")] = None,
    memo: Annotated[str | None, typer.Option(help="a note kept with the transaction")] = None,
    user: UserOpt = None,
) -> None:
    """Book one stock movement as a balanced ledger transaction."""
    with _errors(), clikit.session_scope() as session:
        actor = clikit.actor_from(session, user)
        txn = movements.post_movement(
            session,
            actor,
            movement,
            resource=resource,
            quantity=quantity,
            unit=unit,
            source=movements.parse_side(source),
            target=movements.parse_side(target),
            day=_day(day),
            memo=memo,
        )
        tid = txn.id
    clikit.console.print(f"transaction {tid} booked", highlight=False)


@app.command()
def reverse(
    txn: Annotated[int, typer.Argument(help="transaction id")],
    reason: Annotated[str, typer.Option(help="why it was wrong")],
    user: UserOpt = None,
) -> None:
    """Correct a transaction with a reversing one (the original stays in the books)."""
    with _errors(), clikit.session_scope() as session:
        rev = movements.reverse_transaction(session, clikit.actor_from(session, user), txn, reason)
        rid = rev.id
    clikit.console.print(f"transaction {txn} reversed by transaction {rid}", highlight=False)


@app.command()
def ledger(
    root: Annotated[str, typer.Argument(help="jurisdiction code")],
    limit: Annotated[int, typer.Option(help="most recent legs")] = 50,
    fmt: FormatOpt = "table",
) -> None:
    """The latest ledger legs of a subtree."""
    with _errors(), clikit.session_scope() as session:
        frame = movements.transactions_frame(session, root, limit)
    _show(frame, fmt, f"Ledger under {root}")


@app.command()
def catalog(fmt: FormatOpt = "table") -> None:
    """The resource types, their units and kinds."""
    with _errors(), clikit.session_scope() as session:
        frame = catalog_store.catalog_frame(session)
    _show(frame, fmt, "Resources")


@app.command()
def rules(
    file: Annotated[
        Path | None, typer.Argument(help="CSV resource,basis,per_day,source to add or replace rules")
    ] = None,
    fmt: FormatOpt = "table",
    user: UserOpt = None,
) -> None:
    """Show the need rules (load -> daily need), or change them from a CSV file."""
    with _errors(), clikit.session_scope() as session:
        if file is not None:
            raw = clikit.read_file(file, clikit.settings().max_upload_bytes)
            n = catalog_store.set_rules(
                session, clikit.actor_from(session, user), pd.read_csv(io.BytesIO(raw)), file.name
            )
            clikit.console.print(f"{n} rule(s) set", highlight=False)
        frame = catalog_store.rules_frame(session)
    _show(frame, fmt, "Need rules")


# -------------------------------------------------------------------------------------- needs, offers
@app.command()
def need(
    jurisdiction: Annotated[str, typer.Argument(help="who needs it")],
    resource: Annotated[str, typer.Argument(help="resource code")],
    quantity: Annotated[str, typer.Argument(help="how many")],
    why: Annotated[str, typer.Option("--why", help="justification")],
    by: Annotated[str | None, typer.Option("--by", help="needed by (YYYY-MM-DD; default today)")] = None,
    priority: Annotated[int, typer.Option(help="1 (normal) to 5 (most urgent)")] = 1,
    unit: Annotated[str | None, typer.Option(help="unit of the quantity")] = None,
    user: UserOpt = None,
) -> None:
    """Post a need."""
    with _errors(), clikit.session_scope() as session:
        n = needs_offers.post_need(
            session,
            clikit.actor_from(session, user),
            jurisdiction,
            resource,
            quantity,
            unit=unit,
            by_date=_day(by),
            priority=priority,
            justification=why,
        )
        nid = n.id
    clikit.console.print(f"need {nid} posted", highlight=False)


@app.command()
def offer(
    jurisdiction: Annotated[str, typer.Argument(help="who offers")],
    resource: Annotated[str, typer.Argument(help="resource code")],
    quantity: Annotated[str, typer.Argument(help="how many")],
    start: Annotated[str | None, typer.Option("--from", help="available from (YYYY-MM-DD; default today)")] = None,
    terms: Annotated[str, typer.Option(help="donation or sale")] = "donation",
    price: Annotated[float, typer.Option(help="unit price for a sale")] = 0.0,
    earmark: Annotated[str | None, typer.Option(help="only for this jurisdiction (and its subtree)")] = None,
    partners_only: Annotated[bool, typer.Option(help="only to the places it is paired with")] = False,
    source: Annotated[str, typer.Option(help="stock or stockpile")] = "stock",
    warehouse: Annotated[str, typer.Option(help="warehouse name")] = "main",
    unit: Annotated[str | None, typer.Option(help="unit of the quantity")] = None,
    user: UserOpt = None,
) -> None:
    """Post an offer."""
    with _errors(), clikit.session_scope() as session:
        o = needs_offers.post_offer(
            session,
            clikit.actor_from(session, user),
            jurisdiction,
            resource,
            quantity,
            unit=unit,
            from_date=_day(start),
            terms=terms,
            unit_price=price,
            earmark=earmark,
            partners_only=partners_only,
            source=source,
            warehouse=warehouse,
        )
        oid = o.id
    clikit.console.print(f"offer {oid} posted", highlight=False)


@app.command()
def needs(
    root: Annotated[str, typer.Argument(help="jurisdiction code")],
    status: Annotated[str | None, typer.Option(help="open, matched, dispatched, received or closed")] = None,
    fmt: FormatOpt = "table",
) -> None:
    """Needs of a subtree with their status and what is left."""
    with _errors(), clikit.session_scope() as session:
        frame = needs_offers.needs_frame(session, root, status)
    _show(frame, fmt, f"Needs under {root}")


@app.command()
def offers(
    root: Annotated[str, typer.Argument(help="jurisdiction code")],
    status: Annotated[str | None, typer.Option(help="open, matched, dispatched, received or closed")] = None,
    fmt: FormatOpt = "table",
) -> None:
    """Offers of a subtree."""
    with _errors(), clikit.session_scope() as session:
        frame = needs_offers.offers_frame(session, root, status)
    _show(frame, fmt, f"Offers under {root}")


@app.command()
def close(
    what: Annotated[str, typer.Argument(help="need or offer")],
    item: Annotated[int, typer.Argument(help="its id")],
    user: UserOpt = None,
) -> None:
    """Close a need (no longer needed) or withdraw an offer."""
    if what not in ("need", "offer"):
        clikit.fail(f"close a need or an offer, not '{what}'", 2)
    with _errors(), clikit.session_scope() as session:
        actor = clikit.actor_from(session, user)
        (needs_offers.close_need if what == "need" else needs_offers.close_offer)(session, actor, item)
    clikit.console.print(f"{what} {item} closed", highlight=False)


@app.command()
def route(
    origin: Annotated[str, typer.Argument(help="from")],
    destination: Annotated[str, typer.Argument(help="to")],
    lead_days: Annotated[int, typer.Option(help="days on the way")] = 1,
    cost: Annotated[float, typer.Option(help="cost per unit")] = 1.0,
    closed: Annotated[bool, typer.Option(help="closed (or an export ban): no shipments")] = False,
    note: Annotated[str | None, typer.Option()] = None,
    user: UserOpt = None,
) -> None:
    """Set a route's lead time and cost, or close it."""
    with _errors(), clikit.session_scope() as session:
        network.set_route(
            session,
            clikit.actor_from(session, user),
            origin,
            destination,
            lead_days=lead_days,
            unit_cost=cost,
            closed=closed,
            note=note,
        )
    clikit.console.print(f"route {origin} -> {destination} {'closed' if closed else 'set'}", highlight=False)


@app.command()
def pair(
    supporter: Annotated[str, typer.Argument(help="the helping jurisdiction")],
    supported: Annotated[str, typer.Argument(help="the one it helps")],
    exclusive: Annotated[bool, typer.Option(help="the supporter helps only its partners")] = False,
    note: Annotated[str | None, typer.Option()] = None,
    user: UserOpt = None,
) -> None:
    """Pair a supporter with a supported jurisdiction (pairing assistance)."""
    with _errors(), clikit.session_scope() as session:
        network.set_pairing(
            session, clikit.actor_from(session, user), supporter, supported, exclusive=exclusive, note=note
        )
    clikit.console.print(f"{supporter} supports {supported}{' (exclusive)' if exclusive else ''}", highlight=False)


# ---------------------------------------------------------------------------------------------- plans
@app.command()
def plan(
    root: Annotated[str | None, typer.Argument(help="plan for this subtree (omit with --instance)")] = None,
    resource: Annotated[
        list[str] | None, typer.Option(help="resource code (repeat; default: all with open needs)")
    ] = None,
    horizon: Annotated[int, typer.Option(help="days planned")] = 14,
    start: Annotated[str | None, typer.Option(help="first day (default today)")] = None,
    equity: Annotated[str | None, typer.Option(help="total, minmax or participation")] = None,
    duals: Annotated[
        bool | None, typer.Option("--duals/--no-duals", help="dual prices: where a unit helps most")
    ] = None,
    max_shortfall_share: Annotated[float | None, typer.Option(help="hard cap on any need's unmet share")] = None,
    instance: Annotated[
        Path | None, typer.Option("--instance", help="solve a standalone instance file instead")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="with --instance: folder for the plan")] = None,
    solver: Annotated[str | None, typer.Option("--solver", help="with --instance: auto, network or lp")] = None,
    user: UserOpt = None,
) -> None:
    """Solve an allocation plan from the store's stockpiles, offers, needs and routes (stored as proposed), or,
    with --instance FILE, a standalone instance without any database."""
    if instance is not None:
        from accord.resources.plan_cli import plan_from_instance_command

        plan_from_instance_command(instance=instance, out=out, equity=equity, solver=solver, duals=duals)
        return
    if root is None:
        clikit.fail("give the jurisdiction to plan for, or --instance FILE", 2)
        return
    with _errors(), clikit.session_scope() as session:
        p = allocation_plans.solve_plan(
            session,
            clikit.actor_from(session, user),
            root,
            resource or None,
            horizon,
            start=_day(start),
            equity=equity or "total",
            duals=bool(duals),
            max_shortfall_share=max_shortfall_share,
        )
        _, ships = allocation_plans.plan_frames(session, p.id)
        summary, pid = p.summary, p.id
    _show(
        ships[["id", "resource", "origin", "destination", "need", "depart_day", "arrive_day", "quantity"]],
        "table",
        f"Plan {pid} (proposed)",
    )
    clikit.console.print(
        f"plan {pid}: demand {summary['demand']:,.0f}, served {summary['served']:,.0f}, "
        f"shortfall {summary['shortfall']:,.0f} ({summary['solver']}, {summary['solve_seconds']:.3f} s)",
        highlight=False,
    )
    for w in summary.get("warnings", []):
        clikit.err.print(f"warning: {w}", highlight=False, soft_wrap=True)
    clikit.console.print(
        f"review it at /public/resources/plans/{pid}; approve with 'accord resources approve {pid}'", highlight=False
    )


@app.command()
def plans(root: Annotated[str, typer.Argument(help="jurisdiction code")], fmt: FormatOpt = "table") -> None:
    """The allocation plans of a subtree, newest first."""
    with _errors(), clikit.session_scope() as session:
        frame = allocation_plans.plans_frame(session, root)
    _show(frame, fmt, f"Plans under {root}")


@app.command()
def show(plan_id: Annotated[int, typer.Argument(help="plan id")], fmt: FormatOpt = "table") -> None:
    """A plan's shipments."""
    with _errors(), clikit.session_scope() as session:
        p, ships = allocation_plans.plan_frames(session, plan_id)
        data = allocation_plans.plan_dict(session, p)
    if fmt == "json":
        clikit.console.print(
            json.dumps({**data, "shipments": json.loads(ships.to_json(orient="records"))}),
            highlight=False,
            soft_wrap=True,
        )
        return
    _show(ships, fmt, f"Plan {plan_id} ({data['status']})")


@app.command()
def edit(
    plan_id: Annotated[int, typer.Argument(help="plan id")],
    shipment: Annotated[int, typer.Argument(help="shipment id")],
    quantity: Annotated[str, typer.Argument(help="new quantity (0 drops the lane)")],
    user: UserOpt = None,
) -> None:
    """Change a shipment's quantity in a proposed plan."""
    with _errors(), clikit.session_scope() as session:
        allocation_plans.edit_shipment(session, clikit.actor_from(session, user), plan_id, shipment, quantity)
    clikit.console.print(f"shipment {shipment} of plan {plan_id} set to {quantity}", highlight=False)


@app.command()
def approve(plan_id: Annotated[int, typer.Argument(help="plan id")], user: UserOpt = None) -> None:
    """Approve a plan: its shipments are dispatched in the ledger (all or none)."""
    with _errors(), clikit.session_scope() as session:
        allocation_plans.approve_plan(session, clikit.actor_from(session, user), plan_id)
        _, ships = allocation_plans.plan_frames(session, plan_id)
    clikit.console.print(
        f"plan {plan_id} approved: {int((ships['status'] == 'dispatched').sum())} shipment(s) dispatched",
        highlight=False,
    )


@app.command()
def receive(
    shipment: Annotated[int, typer.Argument(help="shipment id")],
    quantity: Annotated[str, typer.Argument(help="how many arrived")],
    day: Annotated[str | None, typer.Option("--date", help="day received (default today)")] = None,
    note: Annotated[str | None, typer.Option(help="e.g. what was damaged")] = None,
    final: Annotated[bool, typer.Option(help="nothing more will come: book the rest as a discrepancy")] = False,
    unit: Annotated[str | None, typer.Option(help="unit of the quantity")] = None,
    user: UserOpt = None,
) -> None:
    """Record a receipt against a shipment."""
    with _errors(), clikit.session_scope() as session:
        s = shipments.receive(
            session,
            clikit.actor_from(session, user),
            shipment,
            quantity,
            unit=unit,
            day=_day(day),
            note=note,
            final=final,
        )
        status, disc = s.status, s.discrepancy / 1000
    extra = f", discrepancy {disc:g} recorded" if disc else ""
    clikit.console.print(f"shipment {shipment}: {status}{extra}", highlight=False)


# ---------------------------------------------------------------------------------------------- warn
@app.command()
def warn(
    root: Annotated[str, typer.Argument(help="jurisdiction code")],
    at: Annotated[str | None, typer.Option("--date", help="as of this day (default today)")] = None,
    level: Annotated[
        str | None, typer.Option(help="rank regions at this level (default: the children of root)")
    ] = None,
    horizon: Annotated[int, typer.Option(help="days ahead")] = 14,
    only_alerts: Annotated[bool, typer.Option("--alerts", help="only warning and critical rows")] = False,
    fed_share: Annotated[float, typer.Option(help="share of the population fed from public stock (food rules)")] = 0.0,
    thresholds: Annotated[
        str | None, typer.Option(help="alert days per category, e.g. medical:3:7,food:5:14 (critical:warning)")
    ] = None,
    fmt: FormatOpt = "table",
) -> None:
    """Days of supply per region and resource, worst first, with alert levels."""
    with _errors(), clikit.session_scope() as session:
        frame = early_warning.early_warning(
            session,
            root,
            _day(at),
            level=level,
            horizon=horizon,
            fed_share=fed_share,
            thresholds=warning.parse_thresholds(thresholds),
        )
    if only_alerts:
        frame = frame[frame["level"] != "ok"]
    cols = [
        "jurisdiction",
        "resource",
        "on_hand",
        "burn_rate",
        "demand_today",
        "days_of_supply",
        "stockout_date",
        "level",
    ]
    _show(frame if fmt != "table" else frame[cols], fmt, f"Days of supply under {root}")


@app.command("import-capacity")
def import_capacity(
    files: Annotated[list[Path], typer.Argument(help="SANER-like CSV files, or covid19scenarios TSV tables")],
    fmt: Annotated[str, typer.Option("--format", help="saner or covid19scenarios")] = "saner",
    day: Annotated[str | None, typer.Option("--date", help="covid19scenarios: the day the figures are for")] = None,
    skip_unknown: Annotated[
        bool, typer.Option(help="skip places not in the tree instead of refusing the file")
    ] = False,
    warehouse: Annotated[str, typer.Option(help="warehouse the counts are for")] = "main",
    user: UserOpt = None,
) -> None:
    """Import capacity (beds, ICU beds, ventilators, PPE on hand) as stock counts; each file whole or not at all."""
    limit = clikit.settings().max_upload_bytes
    with Progress(console=clikit.err, transient=True) as progress:
        task = progress.add_task("importing", total=len(files))
        for path in files:
            text = clikit.read_file(path, limit).decode("utf-8-sig")
            with _errors(), clikit.session_scope() as session:
                result = capacity_import.import_capacity(
                    session,
                    clikit.actor_from(session, user),
                    text,
                    file=path.name,
                    fmt=fmt,
                    day=_day(day),
                    skip_unknown=skip_unknown,
                    warehouse=warehouse,
                )
            progress.advance(task)
            skipped = f"; skipped census measures {result.skipped_measures}" if result.skipped_measures else ""
            unknown = (
                f"; {len(result.unknown_places)} place(s) not in the tree skipped" if result.unknown_places else ""
            )
            clikit.console.print(
                f"{path.name}: {result.rows} figure(s), {result.postings} ledger posting(s){skipped}{unknown}",
                highlight=False,
            )

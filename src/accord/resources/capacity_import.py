"""Importing capacity reports (SANER-like CSV, covid19scenarios tables, parsed by
:mod:`accord.resources.capacity_reports`): reported stock levels booked as counts against the books.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.auth import service as auth
from accord.auth.roles import SUBMITTERS, Actor
from accord.db import utcnow
from accord.errors import AccordError, Problem
from accord.places import service as places
from accord.resources import capacity_reports, catalog
from accord.resources.catalog_store import ensure_catalog
from accord.resources.checks import require_role
from accord.resources.ledger import AccountKind, Leg, Movement
from accord.resources.ledger_store import Posting, account, write
from accord.resources.model import Entry, ResourceType


@dataclass
class CapacityImport:
    rows: int
    postings: int
    skipped_measures: dict[str, int]
    unknown_places: list[str]


def import_capacity(
    session: Session,
    actor: Actor,
    text: str,
    *,
    file: str = "capacity.csv",
    fmt: str = "saner",
    day: date | None = None,
    skip_unknown: bool = False,
    warehouse: str = "main",
) -> CapacityImport:
    """Book reported stock levels as counts: the difference to the books becomes a movement on the report's day
    (more than the books: a receipt for consumables, a count for reusables; less: consumption for consumables, a
    count for reusables). All rows are checked first; nothing is written if any is wrong."""
    require_role(actor, SUBMITTERS, "import capacity")
    ensure_catalog(session)
    types = {r.code: r for r in session.scalars(select(ResourceType))}
    parsed = _parse(text, set(types), file, fmt, day)
    problems = list(parsed.problems)
    tree = places.load_index(session)
    unknown: list[str] = []
    rows = _placed_rows(parsed.rows.copy(), tree, types, fmt, file, problems, unknown, skip_unknown)
    rows = _prefer_specific_names(rows, unknown, problems, skip_unknown, file)
    twice = _given_twice(rows, file)
    if twice is not None:
        problems.append(twice)
    if problems:
        raise AccordError(f"{file}: the capacity report was not imported", problems[:50], total=len(problems))
    for jid in sorted({int(j) for j in rows["jid"]}):
        auth.require_scope(session, actor, jid, str(tree.codes[tree.ids == jid][0]), "report capacity")
    postings = _count_postings(session, rows, types, warehouse)
    write(session, actor, postings)
    auth.audit(session, actor.user_id, "resources.import_capacity", None, {"file": file, "rows": len(rows)})
    return CapacityImport(len(rows), len(postings), parsed.skipped, sorted(set(unknown)))


def _parse(text: str, codes: set[str], file: str, fmt: str, day: date | None) -> capacity_reports.Parsed:
    if fmt == "saner":
        return capacity_reports.parse_saner(text, codes, file)
    if fmt == "covid19scenarios":
        return capacity_reports.parse_covid19scenarios(text, day or utcnow().date(), file)
    raise AccordError("unknown format", [Problem(f"format is saner or covid19scenarios, not '{fmt}'", field="format")])


def _placed_rows(
    rows: pd.DataFrame,
    tree: places.TreeIndex,
    types: dict[str, ResourceType],
    fmt: str,
    file: str,
    problems: list[Problem],
    unknown: list[str],
    skip_unknown: bool,
) -> pd.DataFrame:
    """The rows whose place is known, with its id (``jid``) and the quantity in thousandths of the resource's
    unit (``milli``); unknown places and units are added to ``problems`` (places only without ``skip_unknown``)."""
    jids: list[int] = []
    milli: list[int] = []
    for rec in rows.to_dict(orient="records"):
        line, name = int(rec["line"]), str(rec["jurisdiction"])
        jid = _resolve_place(tree, name, fmt)
        if jid is None:
            unknown.append(name)
            if not skip_unknown:
                problems.append(Problem(f"no jurisdiction with code or name '{name}'", file, line, "jurisdiction"))
        jids.append(jid if jid is not None else -1)
        r = types[str(rec["resource"])]
        factor = 1.0
        if rec["unit"]:
            try:
                factor = catalog.conversion_factor(str(rec["unit"]), r.unit)
            except AccordError as exc:
                problems.append(Problem(exc.problems[0].message, file, line, "unit"))
        milli.append(catalog.to_milli(float(rec["quantity"]) * factor))
    rows["jid"] = jids
    rows["milli"] = milli
    return rows[rows["jid"] >= 0]


def _given_twice(rows: pd.DataFrame, file: str) -> Problem | None:
    """One resource of one place on one day given on two rows (named on the last of them)."""
    dups = rows[rows.duplicated(["date", "jid", "resource"], keep=False)]
    if not len(dups):
        return None
    first = dups.to_dict(orient="records")[-1]
    return Problem(
        f"{first['resource']} of {first['jurisdiction']} on {first['date']} is given twice", file, int(first["line"])
    )


def _prefer_specific_names(
    rows: pd.DataFrame, unknown: list[str], problems: list[Problem], skip_unknown: bool, file: str
) -> pd.DataFrame:
    """Two names of a table on one place (the country "Georgia" and "USA-Georgia" in a tree of US states): the
    prefixed, sub-national name wins; the other is skipped (or refused without ``skip_unknown``)."""
    names = rows.groupby("jid")["jurisdiction"].nunique()
    clashing = set(names[names > 1].index)
    if not clashing:
        return rows
    plain = rows["jid"].isin(clashing) & ~rows["jurisdiction"].str.contains("-", regex=False)
    for rec in rows[plain].drop_duplicates("jurisdiction").to_dict(orient="records"):
        unknown.append(str(rec["jurisdiction"]))
        if not skip_unknown:
            problems.append(
                Problem(f"'{rec['jurisdiction']}' names the same place as a more specific row", file, int(rec["line"]))
            )
    return rows[~plain]


def _resolve_place(tree: places.TreeIndex, name: str, fmt: str) -> int | None:
    for candidate in capacity_reports.name_candidates(name) if fmt == "covid19scenarios" else [name]:
        if candidate in tree.by_code:
            return tree.by_code[candidate]
        found = tree.names.get(candidate.casefold(), [])
        if len(found) == 1:
            return found[0]
    return None


def _count_postings(
    session: Session, rows: pd.DataFrame, types: dict[str, ResourceType], warehouse: str
) -> list[Posting]:
    postings: list[Posting] = []
    records: dict[tuple[int, str], list[tuple[date, int, int, str]]] = {}
    for rec in rows.to_dict(orient="records"):
        key = (int(rec["jid"]), str(rec["resource"]))
        records.setdefault(key, []).append((rec["date"], int(rec["milli"]), int(rec["line"]), str(rec["source"])))
    for (jid, code), items in sorted(records.items()):
        r = types[code]
        stock_acc = account(session, AccountKind.STOCK, jid, warehouse)
        book = [
            (d, int(q))
            for d, q in session.execute(
                select(Entry.day, Entry.quantity).where(Entry.account_id == stock_acc.id, Entry.resource_id == r.id)
            )
        ]
        reusable = r.kind == catalog.Kind.REUSABLE
        for when, target, line, source in sorted(items):
            diff = target - sum(q for d, q in book if d <= when)
            if diff == 0:
                continue
            if reusable:
                mv, other = Movement.COUNT, AccountKind.ADJUSTMENT
            elif diff > 0:
                mv, other = Movement.RECEIPT, AccountKind.SUPPLY
            else:
                mv, other = Movement.CONSUME, AccountKind.CONSUMED
            acc = account(session, other, jid)
            legs = [Leg(stock_acc.id, r.id, diff), Leg(acc.id, r.id, -diff)]
            postings.append(Posting(mv, when, legs, f"capacity report {source} line {line}"))
            book.append((when, diff))
    return postings

"""Early warning over the store: days of supply per region and resource, worst first, from the stock on
hand, the recorded consumption and the census times the need rules; the sentence for the daily bulletin. The
numerics are pure, in :mod:`accord.resources.warning`.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accord.auth.roles import Actor
from accord.db import utcnow
from accord.errors import AccordError, Problem
from accord.places import service as places
from accord.places.model import Jurisdiction, JurisdictionClosure
from accord.resources import catalog, ledger, warning
from accord.resources.catalog_store import ensure_catalog, resource_of, rules
from accord.resources.checks import MAX_HORIZON_DAYS
from accord.resources.ledger import Movement
from accord.resources.ledger_store import held_at
from accord.resources.model import Account, Balance, Entry, ResourceType, Transaction

WARNING_COLUMNS = [
    "jurisdiction",
    "jurisdiction_name",
    "local_name",
    "resource",
    "resource_name",
    "resource_local_name",
    "category",
    "kind",
    "unit",
    "on_hand",
    "burn_rate",
    "demand_today",
    "days_of_supply",
    "stockout_date",
    "level",
]
CENSUS = {"hospitalised": "hospitalised", "icu": "icu_occupied", "ventilated": "ventilated"}


def _regions(session: Session, root: Jurisdiction, level: str | None) -> list[Jurisdiction]:
    """The regions to rank: jurisdictions at ``level`` under root (default: root's children; root if a leaf)."""
    if level:
        found = [j for j, _ in places.subtree(session, root.id, level=level)]
        if not found:
            raise AccordError("unknown level", [Problem(f"there is no '{level}' under {root.code}", field="level")])
        return found
    kids = places.children(session, root.id)
    return kids or [root]


def early_warning(
    session: Session,
    root_code: str,
    day: date | None = None,
    *,
    level: str | None = None,
    horizon: int = 14,
    window: int = 7,
    thresholds: dict[str, warning.Thresholds] | None = None,
    resource: str | None = None,
    view: str = "all",
    fed_share: float = 0.0,
) -> pd.DataFrame:
    """Days of supply per region and resource, worst first (see :mod:`accord.resources.warning`).

    Stock is everything on hand in the region's subtree (warehouses and stockpiles); the burn rate its recorded
    consumption; the forecast the region's census (``view`` = "public" uses approved figures only) times the need
    rules. Food rules apply to the share of the population fed from public stock (``fed_share``, e.g. the people
    in quarantine); at the default 0 food warns on its burn rate alone.
    """
    if not (0.0 <= fed_share <= 1.0):
        raise AccordError("invalid share", [Problem(f"fed_share is 0 to 1, not {fed_share}", field="fed_share")])
    ensure_catalog(session)
    root = places.get(session, root_code)
    day = day or utcnow().date()
    if not (1 <= horizon <= MAX_HORIZON_DAYS):
        raise AccordError("invalid horizon", [Problem(f"the horizon is 1 to {MAX_HORIZON_DAYS} days", field="horizon")])
    regions = _regions(session, root, level)
    region_ids = [j.id for j in regions]
    types = _tracked_types(session, root.id) if not resource else [resource_of(session, resource)]
    rpos = {r.id: k for k, r in enumerate(types)}

    on_hand, used = _region_totals(session, root.id, region_ids, rpos, day, window)
    burn = used / window
    load = _census_load(session, root, regions, day, horizon, window, view)
    load["population"] = load["population"] * fed_share
    by_res = catalog.rules_by_resource(rules(session))
    limits = {**warning.DEFAULT_THRESHOLDS, **(thresholds or {})}
    parts = [
        _warning_part(regions, r, day, on_hand[:, k], burn[:, k], load, by_res.get(r.code, []), limits, horizon)
        for k, r in enumerate(types)
    ]
    parts = [p for p in parts if not p.empty]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=WARNING_COLUMNS)
    order = frame["days_of_supply"].astype(float).fillna(np.inf)
    return (
        frame.assign(_o=order).sort_values(["_o", "jurisdiction", "resource"]).drop(columns="_o").reset_index(drop=True)
    )


def warning_view(session: Session, actor: Actor, root_code: str) -> str:
    """The census the early warning of ``root_code`` may use for this actor: provisional figures ("all") only
    for users whose subtree holds the root, approved figures ("public") for everyone else."""
    from accord.surveillance import service as surveillance

    root = places.get(session, root_code)
    return "all" if surveillance.can_see_provisional(session, actor, root.id) else "public"


def _tracked_types(session: Session, root_id: int) -> list[ResourceType]:
    """The resources the subtree keeps books of (a resource nobody here tracks is not an alert): those with a
    running balance (any, even zero) in an account of the subtree, read from the small balance table rather than a
    DISTINCT over every leg."""
    booked = (
        select(Balance.resource_id)
        .join(Account, Account.id == Balance.account_id)
        .join(JurisdictionClosure, JurisdictionClosure.descendant_id == Account.jurisdiction_id)
        .where(JurisdictionClosure.ancestor_id == root_id)
        .distinct()
    )
    return list(session.scalars(select(ResourceType).where(ResourceType.id.in_(booked)).order_by(ResourceType.id)))


def _region_totals(
    session: Session, root_id: int, region_ids: list[int], rpos: dict[int, int], day: date, window: int
) -> tuple[np.ndarray, np.ndarray]:
    """(regions, resources) units on hand at the end of ``day`` and units consumed over the ``window`` days up to
    it, over each region's subtree (on-hand accounts: warehouses and stockpiles)."""
    on_hand, used = np.zeros((len(region_ids), len(rpos))), np.zeros((len(region_ids), len(rpos)))
    if not region_ids or not rpos:
        return on_hand, used
    member = dict(
        session.execute(
            select(JurisdictionClosure.descendant_id, JurisdictionClosure.ancestor_id).where(
                JurisdictionClosure.ancestor_id.in_(region_ids)
            )
        ).all()
    )
    accounts = dict(
        session.execute(
            select(Account.id, Account.jurisdiction_id)
            .join(JurisdictionClosure, JurisdictionClosure.descendant_id == Account.jurisdiction_id)
            .where(JurisdictionClosure.ancestor_id == root_id, Account.kind.in_([k.value for k in ledger.ON_HAND]))
        ).all()
    )
    pos = {jid: k for k, jid in enumerate(region_ids)}
    region_of = {a: pos[member[j]] for a, j in accounts.items() if j in member}
    chosen = select(Account.id).where(Account.id.in_(list(region_of)))
    spent = session.execute(
        select(Entry.account_id, Entry.resource_id, func.sum(Entry.quantity))
        .join(Transaction, Transaction.id == Entry.txn_id)
        .where(
            Transaction.kind == Movement.CONSUME.value,
            Transaction.day > day - timedelta(days=window),
            Transaction.day <= day,
            Entry.quantity < 0,
        )
        .group_by(Entry.account_id, Entry.resource_id)
    ).all()  # every account's use in the window, through the day index; the subtree's are picked below
    for out, rows, sign in ((on_hand, held_at(session, chosen, day), 1), (used, spent, -1)):
        picked = [(region_of[a], rpos[r], int(q)) for a, r, q in rows if a in region_of and r in rpos]
        if picked:
            i, k, q = (np.array(c) for c in zip(*picked, strict=True))
            np.add.at(out, (i, k), sign * q / catalog.SCALE)
    return on_hand, used


def _warning_part(
    regions: list[Jurisdiction],
    r: ResourceType,
    day: date,
    on_hand: np.ndarray,
    burn: np.ndarray,
    load: dict[str, Any],
    rules_: list[catalog.NeedRule],
    limits: dict[str, warning.Thresholds],
    horizon: int,
) -> pd.DataFrame:
    """The rows of one resource, built column-wise (no Python loop over regions)."""
    n_reg = len(regions)
    need = warning.forecast_need(load, rules_, (n_reg, horizon))
    if r.kind == catalog.Kind.REUSABLE:
        days_left = warning.days_of_supply_reusable(on_hand, need)
        demand = need
    else:
        demand = np.maximum(need, burn[:, None])
        days_left = warning.days_of_supply_consumable(on_hand, demand)
    t = limits.get(r.category, warning.Thresholds(3.0, 7.0))
    levels = warning.alert_levels(days_left, np.full(n_reg, t.critical_days), np.full(n_reg, t.warning_days))
    keep = np.flatnonzero((on_hand > 0) | (demand.sum(axis=1) > 0))
    left = days_left[keep]
    finite = np.isfinite(left)
    whole = np.where(finite, np.floor(np.where(finite, left, 0.0)), 0).astype("int64")
    runs_out = pd.Timestamp(day) + pd.to_timedelta(whole, unit="D")
    return pd.DataFrame(
        {
            "jurisdiction": [regions[i].code for i in keep],
            "jurisdiction_name": [regions[i].name for i in keep],
            "local_name": [regions[i].local_name for i in keep],
            "resource": r.code,
            "resource_name": r.name,
            "resource_local_name": r.local_name,
            "category": r.category,
            "kind": r.kind,
            "unit": r.unit,
            "on_hand": np.round(on_hand[keep], 3),
            "burn_rate": np.round(burn[keep], 3),
            "demand_today": np.round(demand[keep, 0], 3),
            "days_of_supply": pd.Series(np.round(left, 2), dtype=object).where(finite, None),
            "stockout_date": pd.Series(runs_out.strftime("%Y-%m-%d"), dtype=object).where(finite, None),
            "level": levels[keep].tolist(),
        },
        columns=WARNING_COLUMNS,
    )


def _census_load(
    session: Session, root: Jurisdiction, regions: list[Jurisdiction], day: date, horizon: int, window: int, view: str
) -> dict[str, Any]:
    """Projected load per basis, (regions, horizon): census projected forward, population held constant."""
    from accord.surveillance import service as surveillance

    level = regions[0].level
    n = len(regions)
    load: dict[str, Any] = {
        "population": np.array([[float(j.population or 0)] for j in regions]) * np.ones((1, horizon))
    }
    start = day - timedelta(days=2 * window)
    try:
        figures = surveillance.figures_at_level(session, root.code, level, list(CENSUS.values()), start, day, view=view)
    except AccordError:
        return load
    pos = {j.code: k for k, j in enumerate(regions)}
    dates = pd.date_range(start, day)
    for basis, indicator in CENSUS.items():
        part = figures[(figures["indicator"] == indicator) & (figures["disaggregation"] == "")]
        census = np.full((n, len(dates)), np.nan)
        if not part.empty:
            wide = part.pivot_table(index="jurisdiction", columns="date", values="value", aggfunc="last")
            wide = wide.reindex(columns=dates)
            for code, row in wide.iterrows():
                if code in pos:
                    census[pos[str(code)]] = row.to_numpy(dtype=float)
        load[basis] = warning.project(census, horizon, window)
    return load


def bulletin_paragraph(session: Session, root_code: str, day: date, lang: str = "en") -> str:
    """The early-warning sentence for the daily bulletin (public figures only)."""
    return bulletin_sentence(early_warning(session, root_code, day, view="public"), lang)


def bulletin_sentence(frame: pd.DataFrame, lang: str = "en") -> str:
    """The sentence for an early-warning frame already computed (worst first)."""
    zh = lang == "zh"
    frame = frame[frame["level"].isin(["critical", "warning"])]  # the sentence reads only the alerts
    rows = [
        {
            "region_name": (rec["local_name"] if zh and rec["local_name"] else rec["jurisdiction_name"]),
            "resource_name": (
                rec["resource_local_name"] if zh and rec["resource_local_name"] else rec["resource_name"]
            ),
            "days": rec["days_of_supply"],
            "level": rec["level"],
        }
        for rec in frame.to_dict(orient="records")
    ]
    return warning.bulletin_sentence(rows, lang)

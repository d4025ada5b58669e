"""Is every stored roll-up right? Check (and repair) that each parent's children's sum is what its children say.

The roll-up is maintained incrementally inside every submitting transaction (``service.submit``); this module
verifies the invariant it keeps, from the stored figures alone: for every parent and every (indicator, day,
disaggregation), ``child_all`` is the sum of its children's effective figures (own report, else their own
children's sum) and ``child_pub`` the same over published figures. A parent's effective figure is then its own
report or that sum by definition, so checking the sums checks every level.

The comparison is one SQL statement (one snapshot, on SQLite and PostgreSQL), so a check running beside live
submissions never sees half of one. Repair recomputes the affected slices from the own reports, top to bottom,
under the write lock of every day it touches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from accord.db import utcnow
from accord.places import service as places
from accord.surveillance import rollup, service, store
from accord.surveillance.model import Flag

KEY = rollup.KEY
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
SLICE = ["indicator_id", "date", "disaggregation"]
#: relative tolerance of a sum (figures are float64; counts are exact far beyond any real total)
TOLERANCE = 1e-9

_MISMATCHES = """
WITH sums AS (
    SELECT j.parent_id AS jurisdiction_id, f.indicator_id, f.date, f.disaggregation,
           SUM(COALESCE(f.own_all, f.child_all)) AS sum_all, SUM(COALESCE(f.own_pub, f.child_pub)) AS sum_pub
    FROM figure f JOIN jurisdiction j ON j.id = f.jurisdiction_id{sums_scope}
    WHERE j.parent_id IS NOT NULL{days}
    GROUP BY j.parent_id, f.indicator_id, f.date, f.disaggregation
), stored AS (
    SELECT f.jurisdiction_id, f.indicator_id, f.date, f.disaggregation, f.child_all, f.child_pub
    FROM figure f{stored_scope}
    WHERE (f.child_all IS NOT NULL OR f.child_pub IS NOT NULL){days}
)
SELECT COALESCE(s.jurisdiction_id, p.jurisdiction_id) AS jurisdiction_id,
       COALESCE(s.indicator_id, p.indicator_id) AS indicator_id,
       COALESCE(s.date, p.date) AS date,
       COALESCE(s.disaggregation, p.disaggregation) AS disaggregation,
       p.child_all AS stored_all, s.sum_all AS expected_all, p.child_pub AS stored_pub, s.sum_pub AS expected_pub
FROM sums s FULL OUTER JOIN stored p
  ON p.jurisdiction_id = s.jurisdiction_id AND p.indicator_id = s.indicator_id AND p.date = s.date
 AND p.disaggregation = s.disaggregation
WHERE (s.sum_all IS NULL) <> (p.child_all IS NULL) OR ABS(s.sum_all - p.child_all) > :tol * (1 + ABS(p.child_all))
   OR (s.sum_pub IS NULL) <> (p.child_pub IS NULL) OR ABS(s.sum_pub - p.child_pub) > :tol * (1 + ABS(p.child_pub))
"""


@dataclass(frozen=True)
class Mismatch:
    jurisdiction: str
    indicator: str
    date: date
    disaggregation: str
    view: str  # 'all' (provisional included) or 'public'
    stored: float | None
    expected: float | None

    def sentence(self) -> str:
        dis = f" ({self.disaggregation})" if self.disaggregation else ""
        return (
            f"{self.jurisdiction} {self.indicator}{dis} on {self.date}: the stored sum of its children ({self.view}) "
            f"is {_show(self.stored)}, its children add up to {_show(self.expected)}"
        )


def _show(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"


def find_mismatches(
    session: Session, root_code: str | None = None, start: date | None = None, end: date | None = None
) -> pd.DataFrame:
    """Every (parent, indicator, day, disaggregation) whose stored children's sum is not its children's sum.

    Columns: KEY + stored_all, expected_all, stored_pub, expected_pub. ``root_code`` limits it to a subtree,
    ``start``/``end`` to a range of days."""
    name = store.dialect(session)
    params: dict[str, Any] = {"tol": TOLERANCE}
    sums_scope = stored_scope = ""
    if root_code is not None:
        params["root"] = places.get(session, root_code).id
        sums_scope = " JOIN jurisdiction_closure c ON c.descendant_id = j.parent_id AND c.ancestor_id = :root"
        stored_scope = " JOIN jurisdiction_closure c ON c.descendant_id = f.jurisdiction_id AND c.ancestor_id = :root"
    days = ""
    if start is not None:
        days += " AND f.date >= :start"
        params["start"] = store.date_param(start, name)
    if end is not None:
        days += " AND f.date <= :end"
        params["end"] = store.date_param(end, name)
    sql = _MISMATCHES.format(sums_scope=sums_scope, stored_scope=stored_scope, days=days)
    frame = store.read_frame(session, sql, params)
    if frame.empty:
        return pd.DataFrame(columns=[*KEY, "stored_all", "expected_all", "stored_pub", "expected_pub"])
    frame["date"] = pd.to_datetime(frame["date"])
    for col in ("jurisdiction_id", "indicator_id"):
        frame[col] = frame[col].astype(np.int64)
    frame["disaggregation"] = frame["disaggregation"].astype(str)
    for col in ("stored_all", "expected_all", "stored_pub", "expected_pub"):
        frame[col] = pd.to_numeric(frame[col]).astype(float)
    return frame.sort_values(KEY).reset_index(drop=True)


def check_rollup(
    session: Session, root_code: str | None = None, start: date | None = None, end: date | None = None
) -> list[Mismatch]:
    """The mismatches, one per figure and view, in words a coordinator can act on."""
    frame = find_mismatches(session, root_code, start, end)
    if frame.empty:
        return []
    index = places.load_index(session)
    code_of = dict(zip(index.ids.tolist(), index.codes.tolist(), strict=True))
    indicator_of = {iid: code for code, iid in service.indicator_ids(session).items()}
    out: list[Mismatch] = []
    for view, suffix in (("all", "all"), ("public", "pub")):
        stored = frame[f"stored_{suffix}"].to_numpy(dtype=float)
        expected = frame[f"expected_{suffix}"].to_numpy(dtype=float)
        hit = _differ(stored, expected)
        rows = frame[hit]
        for jid, iid, day, dis, was, should in zip(
            rows["jurisdiction_id"].tolist(),
            rows["indicator_id"].tolist(),
            rows["date"].dt.date.tolist(),
            rows["disaggregation"].tolist(),
            stored[hit].tolist(),
            expected[hit].tolist(),
            strict=True,
        ):
            out.append(
                Mismatch(
                    jurisdiction=str(code_of.get(jid, jid)),
                    indicator=indicator_of.get(iid, str(iid)),
                    date=day,
                    disaggregation=str(dis),
                    view=view,
                    stored=None if np.isnan(was) else was,
                    expected=None if np.isnan(should) else should,
                )
            )
    return sorted(out, key=lambda m: (m.jurisdiction, m.indicator, m.date, m.disaggregation, m.view))


def _differ(stored: FloatArray, expected: FloatArray) -> BoolArray:
    """Elementwise: one side missing, or both present and apart by more than the tolerance."""
    missing = np.isnan(stored) != np.isnan(expected)
    with np.errstate(invalid="ignore"):
        apart = np.abs(stored - expected) > TOLERANCE * (1 + np.abs(stored))
    out: BoolArray = missing | (apart & ~np.isnan(stored) & ~np.isnan(expected))
    return out


def flag_mismatches(session: Session, mismatches: list[Mismatch], now: datetime | None = None) -> int:
    """Store each mismatch as an error flag (once per figure and view). Returns flags added."""
    if not mismatches:
        return 0
    now = now or utcnow()
    index = places.load_index(session)
    ids = service.indicator_ids(session)
    existing = set(
        session.scalars(select(Flag.message).where(Flag.code == "rollup_mismatch", Flag.resolved_at.is_(None)))
    )
    added = 0
    for m in mismatches:
        message = m.sentence()
        if message in existing:
            continue
        session.add(
            Flag(
                code="rollup_mismatch",
                severity="error",
                message=message,
                jurisdiction_id=index.by_code.get(m.jurisdiction),
                indicator_id=ids.get(m.indicator),
                date=m.date,
                created_at=now,
            )
        )
        added += 1
    session.flush()
    return added


def repair_rollup(session: Session, mismatches: pd.DataFrame) -> int:
    """Recompute the children's sums of every slice (indicator, day, disaggregation) that has a mismatch, from
    the own reports up, and write the rows that differ. Returns figure rows rewritten."""
    if mismatches.empty:
        return 0
    slices = mismatches[SLICE].drop_duplicates().reset_index(drop=True)
    store.lock_figure_days(session, [d.date() for d in pd.to_datetime(slices["date"].unique())])
    index = places.load_index(session)
    parent_row = pd.Index(index.ids).get_indexer(index.parent_ids)  # -1 for roots (their parent id is -1)
    rewritten = 0
    for iid, day, dis in zip(
        slices["indicator_id"].tolist(), slices["date"].dt.date.tolist(), slices["disaggregation"].tolist(), strict=True
    ):
        stored = _slice(session, iid, day, dis)
        rewritten += _rewrite_slice(session, stored, index, np.asarray(parent_row, dtype=np.int64), (iid, day, dis))
        session.execute(
            update(Flag)
            .where(
                Flag.code == "rollup_mismatch", Flag.resolved_at.is_(None), Flag.indicator_id == iid, Flag.date == day
            )
            .values(resolved_at=utcnow())
        )
    return rewritten


def _slice(session: Session, iid: int, day: date, disaggregation: str) -> pd.DataFrame:
    frame = store.read_frame(
        session,
        "SELECT jurisdiction_id, own_all, own_pub, child_all, child_pub, revisions FROM figure "
        "WHERE indicator_id = :i AND date = :d AND disaggregation = :dis",
        {"i": iid, "d": store.date_param(day, store.dialect(session)), "dis": disaggregation},
    )
    for col in rollup.STATE_COLUMNS:
        frame[col] = pd.to_numeric(frame[col]).astype(float)
    return frame


def _rewrite_slice(
    session: Session,
    stored: pd.DataFrame,
    index: places.TreeIndex,
    parent_row: npt.NDArray[np.int64],
    key: tuple[int, date, str],
) -> int:
    pos = pd.Index(index.ids).get_indexer(stored["jurisdiction_id"].to_numpy(dtype=np.int64))
    own = np.full((len(index.ids), 2), np.nan)
    own[pos] = stored[["own_all", "own_pub"]].to_numpy(dtype=float)
    child, _ = rollup.full_rollup(parent_row, own)
    old = np.full((len(index.ids), 2), np.nan)
    old[pos] = stored[["child_all", "child_pub"]].to_numpy(dtype=float)
    rows_changed = np.flatnonzero(_differ(old, child).any(axis=1))
    if len(rows_changed) == 0:
        return 0
    revisions = pd.Series(stored["revisions"].to_numpy(), index=stored["jurisdiction_id"].to_numpy())
    iid, day, dis = key
    day_param = store.date_param(day, store.dialect(session))
    rows = [
        (
            int(index.ids[r]),
            iid,
            day_param,
            dis,
            *store.py(own[r]),
            *store.py(child[r]),
            int(revisions.get(int(index.ids[r]), 0)),
        )
        for r in rows_changed
    ]
    store.upsert_rows(
        session,
        "figure",
        KEY,
        [*KEY, "own_all", "own_pub", "child_all", "child_pub", "revisions"],
        rows,
        update=["child_all", "child_pub"],
    )
    return len(rows)

"""Case records against reported counts: confirmed cases per community and day derived from the records,
beside the reported ``new_confirmed``; each difference a warning flag where coordinators already look.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.auth.roles import Actor, Role
from accord.db import utcnow
from accord.places import service as places
from accord.surveillance import store
from accord.surveillance.model import Flag, IndicatorRow
from accord.tracing.access import PERSONAL, allow

MISMATCH_FLAG = "case_count_mismatch"


def case_counts(session: Session, root_code: str, start: date, end: date) -> pd.DataFrame:
    """Confirmed cases per community and confirmation day derived from the case records (total and
    imported/local), for every jurisdiction under ``root_code`` that has any."""
    root = places.get(session, root_code)
    name = store.dialect(session)
    frame = store.read_frame(
        session,
        "SELECT c.residence_id AS jurisdiction_id, c.confirmation_date AS date, c.origin, COUNT(*) AS n "
        "FROM tracing_case c JOIN jurisdiction_closure k ON k.descendant_id = c.residence_id AND k.ancestor_id = :root "
        "WHERE c.classification = 'confirmed' AND c.confirmation_date BETWEEN :a AND :b "
        "GROUP BY c.residence_id, c.confirmation_date, c.origin",
        {"root": root.id, "a": store.date_param(start, name), "b": store.date_param(end, name)},
    )
    if frame.empty:
        return pd.DataFrame(columns=["jurisdiction_id", "date", "case_based", "imported", "local"])
    wide = frame.pivot_table(
        index=["jurisdiction_id", "date"], columns="origin", values="n", aggfunc="sum", fill_value=0
    )
    wide = wide.reindex(columns=["imported", "local"], fill_value=0)
    wide["case_based"] = wide["imported"] + wide["local"]
    out = wide.reset_index()
    out["date"] = pd.to_datetime(out["date"]).dt.date
    return out[["jurisdiction_id", "date", "case_based", "imported", "local"]]


def reconcile(
    session: Session, root_code: str, start: date, end: date, now: datetime | None = None, store_flags: bool = True
) -> pd.DataFrame:
    """Case-based daily confirmed counts beside the reported ``new_confirmed`` of the same community and day;
    each difference becomes a warning flag ``case_count_mismatch`` (once per community-day) in the spine's
    flag list, where coordinators already look."""
    now = now or utcnow()
    root = places.get(session, root_code)
    name = store.dialect(session)
    counts = case_counts(session, root_code, start, end)
    iid = session.scalar(select(IndicatorRow.id).where(IndicatorRow.code == "new_confirmed"))
    reported = store.read_frame(
        session,
        "SELECT f.jurisdiction_id, f.date, f.own_all AS reported FROM figure f "
        "JOIN jurisdiction_closure k ON k.descendant_id = f.jurisdiction_id AND k.ancestor_id = :root "
        "JOIN jurisdiction j ON j.id = f.jurisdiction_id "
        "WHERE f.indicator_id = :i AND f.disaggregation = '' AND f.date BETWEEN :a AND :b AND f.own_all IS NOT NULL "
        "AND j.id IN (SELECT DISTINCT residence_id FROM tracing_case)",
        {"root": root.id, "i": iid or -1, "a": store.date_param(start, name), "b": store.date_param(end, name)},
    )
    reported["date"] = pd.to_datetime(reported["date"]).dt.date
    merged = counts.merge(reported, on=["jurisdiction_id", "date"], how="outer")
    merged[["case_based", "imported", "local"]] = merged[["case_based", "imported", "local"]].fillna(0).astype(int)
    merged["difference"] = merged["case_based"] - merged["reported"]
    merged["mismatch"] = merged["reported"].notna() & merged["difference"].ne(0)
    index = places.load_index(session)
    code_of = dict(zip(index.ids.tolist(), index.codes.tolist(), strict=True))
    merged.insert(0, "jurisdiction", merged["jurisdiction_id"].map(code_of))
    merged = merged.sort_values(["jurisdiction", "date"]).reset_index(drop=True)
    if store_flags:
        _flag_mismatches(session, merged[merged["mismatch"]], iid, now)
    return merged.drop(columns=["jurisdiction_id"]).assign(jurisdiction_id=merged["jurisdiction_id"])


def reconcile_for(session: Session, actor: Actor, root_code: str, start: date, end: date) -> pd.DataFrame:
    """:func:`reconcile` for a reader of the subtree (counts are not personal: analysts may run it)."""
    root = places.get(session, root_code)
    allow(session, actor, root.id, "reconcile case counts", PERSONAL | {Role.ANALYST})
    return reconcile(session, root_code, start, end)


def _flag_mismatches(session: Session, bad: pd.DataFrame, iid: int | None, now: datetime) -> None:
    seen = set(
        session.execute(
            select(Flag.jurisdiction_id, Flag.date).where(Flag.code == MISMATCH_FLAG, Flag.resolved_at.is_(None))
        ).all()
    )
    for row in bad.itertuples(index=False):
        jid = int(row.jurisdiction_id)  # type: ignore[arg-type]
        if (jid, row.date) in seen:
            continue
        session.add(
            Flag(
                code=MISMATCH_FLAG,
                severity="warning",
                message=f"{row.jurisdiction} reported {row.reported:g} new confirmed cases on {row.date} but its "
                f"case records hold {row.case_based}",
                jurisdiction_id=jid,
                indicator_id=iid,
                date=row.date,
                created_at=now,
            )
        )
    session.flush()

"""What follows from a person's cases and contacts: case status and date (the strongest classification
decides) and quarantine end, recomputed in bulk; and those inputs as the health-code capability reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from accord.db import db_timestamp
from accord.surveillance import store
from accord.tracing import crypto, tasks
from accord.tracing.rawsql import cursor_sql

#: precedence when a person has several cases: the strongest classification decides their status
RANK = {"none": 0, "discarded": 1, "suspected": 2, "probable": 3, "confirmed": 4}


def refresh_persons(session: Session, person_ids: Sequence[int] | None, now: datetime) -> int:
    """Recompute the derived inputs (case status and date, quarantine end) of persons (all when None);
    ``changed_at`` moves only where a value changed. Returns how many changed."""
    days = crypto.PersonalDataSettings().quarantine_days
    where, params = "", dict[str, Any]()
    if person_ids is not None and len(person_ids) > 50_000:
        person_ids = None  # a whole-table pass is cheaper than a huge IN list
    if person_ids is not None:
        if not person_ids:
            return 0
        id_list = ",".join(str(int(i)) for i in person_ids)  # integers only: safe to inline
        where = f" WHERE p.id IN ({id_list})"
    persons = store.read_frame(
        session,
        f"SELECT p.id, p.case_status, p.case_date, p.quarantine_until, p.merged_into_id FROM tracing_person p{where}",
        params,
    )
    if persons.empty:
        return 0
    cases = store.read_frame(
        session,
        "SELECT c.person_id, c.classification, COALESCE(c.confirmation_date, c.report_date) AS day "
        f"FROM tracing_case c JOIN tracing_person p ON p.id = c.person_id{where}",
    )
    exposures = store.read_frame(
        session,
        "SELECT c.contact_id, c.last_exposure FROM tracing_contact c "
        f"JOIN tracing_person p ON p.id = c.contact_id{where}",
    )
    status, day = _case_status(cases)
    until = tasks.quarantine_end(
        exposures["contact_id"].to_numpy(np.int64), exposures["last_exposure"].to_numpy(), days
    )
    new = pd.DataFrame({"id": persons["id"]})
    live = persons["merged_into_id"].isna().to_numpy()
    ids = persons["id"].to_numpy(np.int64)
    new["case_status"] = np.where(live, status.reindex(ids).fillna("none").to_numpy(object), "none")
    new["case_date"] = _dates_or_none(day.reindex(ids), live)
    new["quarantine_until"] = _dates_or_none(until.reindex(ids), live)
    changed = _differs(persons, new)
    if not changed.any():
        return 0
    name = store.dialect(session)
    rows = [
        (s, _day(d, name), _day(q, name), db_timestamp(now, name), int(i))
        for i, s, d, q in new[changed].itertuples(index=False)
    ]
    store.raw_cursor(session).executemany(
        cursor_sql(
            name,
            "UPDATE tracing_person SET case_status = ?, case_date = ?, quarantine_until = ?, changed_at = ? "
            "WHERE id = ?",
        ),
        rows,
    )
    session.expire_all()
    return int(changed.sum())


def _dates_or_none(values: pd.Series, keep: np.ndarray) -> np.ndarray:
    days = pd.to_datetime(values.astype(object)).dt.date.astype(object)
    out = days.where(values.notna().to_numpy() & keep, None).to_numpy(dtype=object)
    return out


def _day(value: Any, dialect_name: str) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    d = pd.Timestamp(value).date()
    return store.date_param(d, dialect_name)


def _case_status(cases: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    if cases.empty:
        return pd.Series(dtype=object), pd.Series(dtype=object)
    ranked = cases.assign(rank=cases["classification"].map(RANK)).sort_values(["person_id", "rank", "day"])
    best = ranked.drop_duplicates("person_id", keep="last").set_index("person_id")
    return best["classification"], best["day"]


def _differs(old: pd.DataFrame, new: pd.DataFrame) -> np.ndarray:
    out = old["case_status"].to_numpy() != new["case_status"].to_numpy()
    for col in ("case_date", "quarantine_until"):
        a = pd.to_datetime(old[col]).to_numpy("datetime64[D]")
        b = pd.to_datetime(pd.Series(new[col].to_numpy())).to_numpy("datetime64[D]")
        out |= ~((a == b) | (np.isnat(a) & np.isnat(b)))
    return np.asarray(out)


def health_inputs(session: Session, changed_since: datetime | None = None) -> pd.DataFrame:
    """One row per person whose health-code inputs changed since ``changed_since`` (all when None):
    person_id, case_status, case_date, quarantine_until, residence_code, changed_at (and merged_into, the ref a
    merged record now points to). Pseudonymous: no identifying field. One indexed query."""
    sql = (
        "SELECT p.ref AS person_id, p.case_status, p.case_date, p.quarantine_until, j.code AS residence_code, "
        "p.changed_at, m.ref AS merged_into FROM tracing_person p JOIN jurisdiction j ON j.id = p.residence_id "
        "LEFT JOIN tracing_person m ON m.id = p.merged_into_id"
    )
    params: dict[str, Any] = {}
    if changed_since is not None:
        sql += " WHERE p.changed_at > :since"
        params["since"] = db_timestamp(changed_since, store.dialect(session))
    frame = store.read_frame(session, sql + " ORDER BY p.changed_at, p.id", params)
    frame["person_id"] = frame["person_id"].astype(str)
    frame["case_date"] = pd.to_datetime(frame["case_date"])
    frame["quarantine_until"] = pd.to_datetime(frame["quarantine_until"])
    frame["changed_at"] = pd.to_datetime(frame["changed_at"], utc=True, format="mixed")
    return frame

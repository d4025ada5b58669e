"""Use cases of surveillance: submit, approve, publish, query. Each runs in the caller's transaction.

A submission is applied whole or not at all: validation runs on the entire batch before anything is
written, and every write happens in the one transaction the caller commits (or rolls back on error).
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from accord.auth.roles import APPROVERS, SUBMITTERS, Actor
from accord.db import db_timestamp, utcnow
from accord.errors import AccordError, Conflict, Forbidden, NotFound, Problem
from accord.places import service as places
from accord.places.model import Jurisdiction, JurisdictionClosure
from accord.surveillance import indicators as ind
from accord.surveillance import rollup, schedule, store, validation
from accord.surveillance.model import (
    Flag,
    IndicatorRow,
    ReportDay,
    ReportingSchedule,
    Submission,
)

KEY = rollup.KEY
FRAME_COLUMNS = ["jurisdiction", "jurisdiction_name", "date", "indicator", "disaggregation", "value", "reason", "line"]


# ---------------------------------------------------------------------------------------------- catalog
def seed_indicators(session: Session) -> None:
    """Make the indicator table match the catalog (idempotent)."""
    existing = {r.code: r for r in session.scalars(select(IndicatorRow))}
    next_id = max((r.id for r in existing.values()), default=0) + 1
    for spec in ind.CORE_INDICATORS:
        row = existing.get(spec.code)
        if row is None:
            row = IndicatorRow(id=next_id, code=spec.code)
            next_id += 1
            session.add(row)
        row.label, row.label_zh, row.unit = spec.label, spec.label_zh, spec.unit
        row.aggregation, row.derived_from = spec.aggregation.value, spec.derived_from
    session.flush()


def indicator_ids(session: Session) -> dict[str, int]:
    ids = {code: iid for iid, code in session.execute(select(IndicatorRow.id, IndicatorRow.code))}
    if len(ids) < len(ind.CORE_INDICATORS):  # a store created by migrations alone: seed the catalog once
        seed_indicators(session)
        ids = {code: iid for iid, code in session.execute(select(IndicatorRow.id, IndicatorRow.code))}
    return ids


# ------------------------------------------------------------------------------------------- submission
@dataclass
class SubmissionResult:
    submission_id: int
    replayed: bool
    rows: int
    new: int
    revised: int
    unchanged: int
    recorded_at: datetime
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "submission_id": self.submission_id,
            "replayed": self.replayed,
            "rows": self.rows,
            "new": self.new,
            "revised": self.revised,
            "unchanged": self.unchanged,
            "recorded_at": self.recorded_at.isoformat(),
            "warnings": self.warnings,
        }


def normalise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col, default in (("jurisdiction", ""), ("jurisdiction_name", ""), ("disaggregation", ""), ("reason", "")):
        if col not in out:
            out[col] = default
        out[col] = out[col].fillna(default).astype(str)
    if "line" not in out:
        out["line"] = np.arange(2, len(out) + 2)
    # out-of-range days (a typo like 0224 or 9999) become NaT here and a located error in validation
    days = pd.to_datetime(out["date"].astype(str).str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    days = days.where((days >= validation.EARLIEST_DAY) & (days <= validation.LATEST_DAY))
    out["date"] = days.astype("datetime64[ns]").dt.normalize()
    out["value"] = pd.to_numeric(out["value"], errors="coerce").astype(float)
    return out[FRAME_COLUMNS].reset_index(drop=True)


def content_hash(frame: pd.DataFrame) -> str:
    cols = ["jurisdiction", "jurisdiction_name", "date", "indicator", "disaggregation", "value", "reason"]
    hashed = pd.util.hash_pandas_object(frame[cols], index=False).to_numpy()
    return hashlib.sha256(np.sort(hashed).tobytes()).hexdigest()


def submit(
    session: Session,
    frame: pd.DataFrame,
    *,
    actor: Actor,
    source: str,
    idempotency_key: str | None = None,
    file: str | None = None,
    now: datetime | None = None,
) -> SubmissionResult:
    """Validate and apply one batch of observations, with roll-up, in the caller's transaction."""
    now = now or utcnow()
    if not actor.can(SUBMITTERS):
        raise Forbidden(f"{actor.username} may not submit reports (role {actor.role or 'public'})")
    frame = normalise_frame(frame)
    digest = content_hash(frame)
    index = places.load_index(session)
    frame["jurisdiction_id"] = _resolve_jurisdictions(frame, index)
    # scope first: a replay must not tell anyone about (or vouch for) a batch they may not submit
    _check_scope(session, actor, frame, index)
    replay = _replay(session, idempotency_key, digest)
    if replay is not None:
        return replay
    if frame.empty:
        raise AccordError("the batch is empty", [Problem("no observations to submit", file=file)])

    ids = indicator_ids(session)
    frame["jurisdiction_known"] = frame["jurisdiction_id"] >= 0
    frame["in_batch_duplicate"] = (
        frame.duplicated(["jurisdiction_id", "date", "indicator", "disaggregation"], keep=False)
        & frame["jurisdiction_known"]
    )
    today = now.date()
    findings = validation.check_rows(frame, today)
    _raise_on_errors(findings, frame, file)

    frame["indicator_id"] = frame["indicator"].map(ids).astype(np.int64)
    # from here on this transaction is the only writer of the batch's days: what it reads stays true until commit
    store.lock_figure_days(session, _days_of(frame), idempotency_key)
    replay = _replay(session, idempotency_key, digest)  # a request with the same key may have committed meanwhile
    if replay is not None:
        return replay
    state = _load_state(session, frame, index)
    frame = _attach_store_context(session, frame, state)
    store_findings = validation.check_against_store(frame)
    _raise_on_errors(store_findings, frame, file)

    changed = frame["previous"].isna() | (frame["previous"] != frame["value"])
    sub = Submission(
        idempotency_key=idempotency_key,
        content_hash=digest,
        submitter_id=actor.user_id,
        source=source[:200],
        recorded_at=now,
        n_rows=len(frame),
    )
    session.add(sub)
    session.flush()
    work = frame[changed].sort_values(KEY)  # key order: the clustered tables take appends, not scatter
    changes = work[KEY].copy()
    changes["own_all"] = work["value"].to_numpy()
    changes["own_pub"] = np.where(work["locked"].to_numpy(dtype=bool), work["value"].to_numpy(), np.nan)
    # the database appends the revision log (the driver releases the GIL) while numpy rolls the batch up the
    # tree; the session is touched by one thread at a time: the writer, then, after it is done, this one
    dialect_name = store.dialect(session)
    with ThreadPoolExecutor(max_workers=1) as writer:
        logged = writer.submit(_insert_revisions, session, work, sub.id, now)
        new_state, figure_rows = _rolled_up(
            dialect_name, state, changes, index, revised_keys=work[KEY], own_written=work[KEY]
        )
        logged.result()
    _write_figures(session, figure_rows)
    _touch_report_days(session, frame, now)

    warnings = [f for f in findings + store_findings if f.severity is validation.Severity.WARNING]
    flags = _row_flags(warnings, frame, sub.id, now)
    flags += _tree_flags(new_state, state, sub.id, now, index)
    _store_flags(session, flags)
    n_new = int(work["previous"].isna().sum())
    result = SubmissionResult(
        submission_id=sub.id,
        replayed=False,
        rows=len(frame),
        new=n_new,
        revised=len(work) - n_new,
        unchanged=int((~changed).sum()),
        recorded_at=now,
        warnings=[
            {k: v for k, v in f.items() if k in ("code", "message", "jurisdiction", "date")} for f in flags[:200]
        ],
    )
    sub.summary = {k: v for k, v in result.as_dict().items() if k != "recorded_at"}
    sub.summary["warning_count"] = len(flags)
    return result


def _days_of(frame: pd.DataFrame) -> list[date]:
    return [d.date() for d in pd.to_datetime(frame["date"].unique())]


def _as_int(value: object) -> int:
    return int(str(value)) if value is not None else 0


def _replay(session: Session, idempotency_key: str | None, digest: str) -> SubmissionResult | None:
    """The stored result of an earlier batch under the same key (None when there is none)."""
    if not idempotency_key:
        return None
    prior = session.scalar(select(Submission).where(Submission.idempotency_key == idempotency_key))
    if prior is None:
        return None
    if prior.content_hash != digest:
        raise Conflict(f"idempotency key '{idempotency_key}' was already used for a different batch")
    return _replayed(prior)


def _replayed(prior: Submission) -> SubmissionResult:
    s = prior.summary or {}
    return SubmissionResult(
        submission_id=prior.id,
        replayed=True,
        rows=prior.n_rows,
        new=_as_int(s.get("new")),
        revised=_as_int(s.get("revised")),
        unchanged=_as_int(s.get("unchanged")),
        recorded_at=prior.recorded_at,
        warnings=list(s.get("warnings") or []),  # type: ignore[call-overload]
    )


def _resolve_jurisdictions(frame: pd.DataFrame, index: places.TreeIndex) -> np.ndarray:
    # map the distinct codes (thousands), not every row (millions)
    codes, uniques = pd.factorize(frame["jurisdiction"])
    looked_up = pd.Index(list(index.by_code)).get_indexer(pd.Index(uniques))
    known_ids = np.array(list(index.by_code.values()), dtype=np.float64)
    per_code = np.where(looked_up >= 0, known_ids[np.maximum(looked_up, 0)] if len(known_ids) else np.nan, np.nan)
    ids = pd.Series(
        np.where(codes >= 0, per_code[np.maximum(codes, 0)] if len(per_code) else np.nan, np.nan), index=frame.index
    )
    need_name = ids.isna() & (frame["jurisdiction"] == "") & (frame["jurisdiction_name"] != "")
    if need_name.any():

        def by_name(name: str) -> float:
            hits = index.names.get(name.casefold(), [])
            return float(hits[0]) if len(hits) == 1 else np.nan

        ids[need_name] = frame.loc[need_name, "jurisdiction_name"].map(by_name)
    # show the name where no code was given, so messages say what the file said
    frame.loc[frame["jurisdiction"] == "", "jurisdiction"] = frame["jurisdiction_name"]
    return ids.fillna(-1).astype(np.int64).to_numpy()


def _check_scope(session: Session, actor: Actor, frame: pd.DataFrame, index: places.TreeIndex) -> None:
    if actor.unrestricted:
        return
    if actor.scope_id is None:
        raise Forbidden(f"{actor.username} has no jurisdiction to report for")
    allowed = set(
        session.scalars(
            select(JurisdictionClosure.descendant_id).where(JurisdictionClosure.ancestor_id == actor.scope_id)
        )
    )
    known = frame["jurisdiction_id"] >= 0
    outside = known & ~frame["jurisdiction_id"].isin(allowed)
    if outside.any():
        codes = sorted(set(frame.loc[outside, "jurisdiction"]))
        scope_code = index.codes[index.ids == actor.scope_id][0]
        more = f" (and {len(codes) - 1} more)" if len(codes) > 1 else ""
        raise Forbidden(
            f"{actor.username} may report only within '{scope_code}', not for '{codes[0]}'{more}; nothing was stored"
        )


def _raise_on_errors(findings: list[validation.Finding], frame: pd.DataFrame, file: str | None) -> None:
    problems = validation.problems_from(findings, frame["line"].to_numpy(), file)
    if problems:
        n = len(problems)
        raise AccordError(
            f"the batch was rejected ({n} problem{'s' if n > 1 else ''}); nothing was stored", problems[:500], total=n
        )


def _ancestor_ids(ids: np.ndarray, index: places.TreeIndex) -> np.ndarray:
    out = [ids]
    cur = ids
    while len(cur):
        cur = index.parent_of.reindex(cur).fillna(-1).to_numpy(dtype=np.int64)
        cur = np.unique(cur[cur >= 0])
        out.append(cur)
    return np.unique(np.concatenate(out))


def _load_state(session: Session, frame: pd.DataFrame, index: places.TreeIndex) -> pd.DataFrame:
    """Stored figures for the batch's keys and every ancestor key (the input of the roll-up)."""
    jids = _ancestor_ids(np.unique(frame["jurisdiction_id"].to_numpy(dtype=np.int64)), index)
    iids = sorted(set(frame["indicator_id"].astype(int)))
    state = _read_figures(
        session,
        jids.tolist(),
        iids,
        frame["date"].min().date(),
        frame["date"].max().date(),
        "own_all, own_pub, child_all, child_pub, revisions",
    )
    if len(state) and frame["date"].nunique() > 1:
        # a multi-day batch read the whole date range: keep only the batch's own dates
        state = state[state["date"].isin(frame["date"].unique())]
    for c in rollup.STATE_COLUMNS:
        state[c] = pd.to_numeric(state[c]).astype(float)
    return state.reset_index(drop=True)


def _read_figures(session: Session, jids: list[int], iids: list[int], d0: date, d1: date, columns: str) -> pd.DataFrame:
    name = store.dialect(session)
    parts = [
        store.read_frame(
            session,
            f"SELECT jurisdiction_id, indicator_id, date, disaggregation, {columns} FROM figure WHERE jurisdiction_id "
            f"IN ({','.join(map(str, chunk))}) AND indicator_id IN ({','.join(map(str, iids))}) "
            "AND date BETWEEN :d0 AND :d1",
            {"d0": store.date_param(d0, name), "d1": store.date_param(d1, name)},
        )
        for chunk in store.in_chunks(jids)
    ]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if out.empty:
        out = pd.DataFrame(columns=[*KEY, *[c.strip() for c in columns.split(",")]])
    out["date"] = pd.to_datetime(out["date"])
    out["jurisdiction_id"] = out["jurisdiction_id"].astype(np.int64)
    out["indicator_id"] = out["indicator_id"].astype(np.int64)
    out["disaggregation"] = out["disaggregation"].astype(str)
    return out


def _attach_store_context(session: Session, frame: pd.DataFrame, state: pd.DataFrame) -> pd.DataFrame:
    merged = frame.merge(state[[*KEY, "own_all", "revisions"]], on=KEY, how="left")
    merged = merged.rename(columns={"own_all": "previous"})
    merged["revisions"] = merged["revisions"].fillna(0).astype(int)
    merged["locked"] = _locked(session, merged)
    merged["trailing_mean"] = _trailing_mean(session, merged)
    return merged


def _locked(session: Session, frame: pd.DataFrame) -> np.ndarray:
    name = store.dialect(session)
    jids = sorted(set(frame["jurisdiction_id"].astype(int)))
    d0, d1 = frame["date"].min().date(), frame["date"].max().date()
    parts = [
        store.read_frame(
            session,
            f"SELECT jurisdiction_id, date FROM report_day WHERE status = 'approved' AND jurisdiction_id IN "
            f"({','.join(map(str, chunk))}) AND date BETWEEN :d0 AND :d1",
            {"d0": store.date_param(d0, name), "d1": store.date_param(d1, name)},
        )
        for chunk in store.in_chunks(jids)
    ]
    approved = pd.concat(parts, ignore_index=True)
    if approved.empty:
        return np.zeros(len(frame), dtype=bool)
    approved["date"] = pd.to_datetime(approved["date"])
    approved["jurisdiction_id"] = approved["jurisdiction_id"].astype(np.int64)
    approved["locked"] = True
    m = frame[["jurisdiction_id", "date"]].merge(approved, on=["jurisdiction_id", "date"], how="left")
    return m["locked"].fillna(False).to_numpy(dtype=bool)


def _trailing_mean(session: Session, frame: pd.DataFrame) -> np.ndarray:
    """Mean of a count over the 7 days before each row (stored values, overridden by the batch's own);
    NaN with fewer than 3 days of history. Only totals are checked: parts follow their total."""
    count_codes = [c for c, i in ind.CATALOG.items() if i.aggregation is ind.Aggregation.COUNT]
    # only values above the floor can be outliers: history is read for those rows alone
    check = (
        frame["indicator"].isin(count_codes)
        & (frame["disaggregation"] == ind.TOTAL)
        & (frame["value"] > validation.OUTLIER_FLOOR)
    )
    out = np.full(len(frame), np.nan)
    if not check.any():
        return out
    rows = frame[check]
    d0 = rows["date"].min().date() - timedelta(days=7)
    stored = _read_figures(
        session,
        sorted(set(rows["jurisdiction_id"].astype(int))),
        sorted(set(rows["indicator_id"].astype(int))),
        d0,
        (rows["date"].max() - pd.Timedelta(days=1)).date(),
        "own_all",
    )
    stored = stored[stored["disaggregation"] == ind.TOTAL].dropna(subset=["own_all"])
    series = ["jurisdiction_id", "indicator_id"]
    hist = pd.concat(
        [stored[[*series, "date", "own_all"]], rows[[*series, "date"]].assign(own_all=rows["value"].to_numpy())]
    )
    hist = hist.drop_duplicates([*series, "date"], keep="last")
    # a dense (series x day) matrix: the trailing window is then one vectorised pass
    # indicator ids are small: one int64 per series keeps the factorisation cheap
    series_key = hist["jurisdiction_id"].to_numpy(np.int64) * 4096 + hist["indicator_id"].to_numpy(np.int64)
    codes, uniques = pd.factorize(series_key)
    first = hist["date"].min()
    col = ((hist["date"] - first).dt.days).to_numpy()
    matrix = np.full((len(uniques), int(col.max()) + 1), np.nan)
    matrix[codes, col] = hist["own_all"].to_numpy(dtype=float)
    means = validation.trailing_mean(matrix, window=7, min_periods=3)
    row_key = rows["jurisdiction_id"].to_numpy(np.int64) * 4096 + rows["indicator_id"].to_numpy(np.int64)
    rcodes = pd.Index(uniques).get_indexer(row_key)
    rcol = ((rows["date"] - first).dt.days).to_numpy()
    out[np.flatnonzero(check.to_numpy())] = means[np.asarray(rcodes, dtype=np.int64), rcol]
    return out


def _insert_revisions(session: Session, work: pd.DataFrame, submission_id: int, now: datetime) -> None:
    """Append the batch's changed values to the revision log and set them as their places' own figures."""
    name = store.dialect(session)
    reasons = work["reason"].astype(object)
    fresh = work["previous"].isna() & (reasons == "") & ~work["locked"].astype(bool) & (work["revisions"] == 0)
    # most of a bulk load is first reports: bind five values per row instead of nine
    first = work[fresh.to_numpy()]
    rest = work[~fresh.to_numpy()]
    store.stage_revisions(session, _revision_rows(rest, name, full=True))
    store.stage_fresh_values(session, _revision_rows(first, name, full=False))
    store.apply_staged_revisions(session, submission_id, db_timestamp(now, name))


def _revision_rows(work: pd.DataFrame, dialect_name: str, *, full: bool) -> list[tuple[Any, ...]]:
    columns: list[list[Any]] = [
        store.py(work["jurisdiction_id"].to_numpy()),
        store.py(work["indicator_id"].to_numpy()),
        store.to_db_dates(work["date"], dialect_name),
        work["disaggregation"].astype(object).tolist(),
        store.py(work["value"].to_numpy()),
    ]
    if full:
        reasons = work["reason"].astype(object)
        columns += [
            store.py((work["revisions"] + 1).to_numpy()),
            store.py(work["previous"].to_numpy()),
            reasons.where(reasons != "", None).tolist(),
            work["locked"].to_numpy(dtype=np.int64).tolist(),
        ]
    return list(zip(*columns, strict=True))


def _apply(
    session: Session,
    state: pd.DataFrame,
    changes: pd.DataFrame,
    index: places.TreeIndex,
    revised_keys: pd.DataFrame | None = None,
    own_written: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Propagate changed own values up the tree and write every changed figure row."""
    new, write = _rolled_up(session.get_bind().dialect.name, state, changes, index, revised_keys, own_written)
    _write_figures(session, write)
    return new


def _rolled_up(
    dialect_name: str,
    state: pd.DataFrame,
    changes: pd.DataFrame,
    index: places.TreeIndex,
    revised_keys: pd.DataFrame | None = None,
    own_written: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, list[tuple[Any, ...]]]:
    """The new state of every affected figure, and the rows to write (no database access: it may run while
    another thread writes the revision log).

    ``own_written``: keys whose own values the revision log already wrote to ``figure``."""
    involved = _ancestor_ids(np.unique(changes["jurisdiction_id"].to_numpy(dtype=np.int64)), index)
    parents = index.parent_of.reindex(involved)
    base = state.drop(columns=["revisions"], errors="ignore")
    new = rollup.propagate(base, changes, parents)
    if new.empty:
        return new, []
    revisions = state[[*KEY, "revisions"]] if "revisions" in state else None
    new = new.merge(revisions, on=KEY, how="left") if revisions is not None else new.assign(revisions=0)
    new["revisions"] = new["revisions"].fillna(0).astype(int)
    if revised_keys is not None and len(revised_keys):
        bump = revised_keys.assign(_b=1).drop_duplicates(KEY)
        new = new.merge(bump, on=KEY, how="left")
        new["revisions"] += new["_b"].fillna(0).astype(int)
        new = new.drop(columns="_b")
    if own_written is not None:
        # rows whose only change is their own report were written with the revision log (see store)
        leaf_only = new["child_all"].isna() & new["child_pub"].isna() & _in_keys(new, own_written)
        new_to_write = new[~leaf_only]
    else:
        new_to_write = new
    write = new_to_write.sort_values(KEY)
    rows = list(
        zip(
            store.py(write["jurisdiction_id"].to_numpy()),
            store.py(write["indicator_id"].to_numpy()),
            store.to_db_dates(write["date"], dialect_name),
            write["disaggregation"].astype(object).tolist(),
            store.py(write["own_all"].to_numpy()),
            store.py(write["own_pub"].to_numpy()),
            store.py(write["child_all"].to_numpy()),
            store.py(write["child_pub"].to_numpy()),
            store.py(write["revisions"].to_numpy()),
            strict=True,
        )
    )
    return new, rows


def _write_figures(session: Session, rows: list[tuple[Any, ...]]) -> None:
    store.upsert_rows(session, "figure", KEY, [*KEY, "own_all", "own_pub", "child_all", "child_pub", "revisions"], rows)


def _in_keys(frame: pd.DataFrame, keys: pd.DataFrame) -> pd.Series:
    marked = frame[KEY].merge(keys[KEY].drop_duplicates().assign(_hit=True), on=KEY, how="left")
    return pd.Series(marked["_hit"].notna().to_numpy(), index=frame.index)


def _touch_report_days(session: Session, frame: pd.DataFrame, now: datetime) -> None:
    """A new unit-day starts provisional; a known one only records when it was last reported."""
    name = store.dialect(session)
    days = frame[["jurisdiction_id", "date"]].drop_duplicates()
    ts = db_timestamp(now, name)
    n = len(days)
    rows = list(
        zip(
            store.py(days["jurisdiction_id"].to_numpy()),
            store.to_db_dates(days["date"], name),
            ["provisional"] * n,
            [ts] * n,
            [ts] * n,
            [False] * n,
            strict=True,
        )
    )
    store.upsert_rows(
        session,
        "report_day",
        ["jurisdiction_id", "date"],
        ["jurisdiction_id", "date", "status", "first_submitted_at", "last_submitted_at", "auto_published"],
        rows,
        update=["last_submitted_at"],
    )


def _row_flags(
    warnings: list[validation.Finding], frame: pd.DataFrame, submission_id: int, now: datetime
) -> list[dict[str, Any]]:
    if not warnings:
        return []
    rows = frame.iloc[[f.row for f in warnings]]
    days = rows["date"].dt.strftime("%Y-%m-%d").tolist()
    return [
        {
            "code": f.code,
            "severity": "warning",
            "message": f.message,
            "jurisdiction_id": j,
            "jurisdiction": code,
            "indicator_id": i,
            "date": day,
            "submission_id": submission_id,
            "created_at": now,
        }
        for f, j, code, i, day in zip(
            warnings,
            rows["jurisdiction_id"].tolist(),
            rows["jurisdiction"].tolist(),
            rows["indicator_id"].tolist(),
            days,
            strict=True,
        )
    ]


def _tree_flags(
    new: pd.DataFrame, old: pd.DataFrame, submission_id: int, now: datetime, index: places.TreeIndex
) -> list[dict[str, Any]]:
    """Children summing to more than their parent's own report (only where it newly happens)."""
    if new.empty:
        return []
    exceed = validation.children_exceed_parent(new["own_all"].to_numpy(float), new["child_all"].to_numpy(float))
    cand = new[exceed]
    if cand.empty:
        return []
    before = cand[KEY].merge(old[[*KEY, "own_all", "child_all"]], on=KEY, how="left")
    was = validation.children_exceed_parent(before["own_all"].to_numpy(float), before["child_all"].to_numpy(float))
    cand = cand[~was]
    code_of = dict(zip(index.ids.tolist(), index.codes.tolist(), strict=False))
    out = []
    for r in cand.itertuples(index=False):
        out.append(
            {
                "code": "children_exceed_parent",
                "severity": "warning",
                "message": f"children of {code_of.get(r.jurisdiction_id)} sum to {r.child_all:g}, more than its own "
                f"report {r.own_all:g}",
                "jurisdiction_id": _as_int(r.jurisdiction_id),
                "jurisdiction": code_of.get(r.jurisdiction_id),
                "indicator_id": _as_int(r.indicator_id),
                "date": str(r.date)[:10],
                "submission_id": submission_id,
                "created_at": now,
            }
        )
    return out


def _store_flags(session: Session, flags: list[dict[str, Any]]) -> None:
    if not flags:
        return
    name = store.dialect(session)
    rows = [
        (
            f["code"],
            f["severity"],
            f["message"],
            f["jurisdiction_id"],
            f["indicator_id"],
            store.date_param(date.fromisoformat(f["date"]), name) if f.get("date") else None,
            f["submission_id"],
            db_timestamp(f["created_at"], name),
        )
        for f in flags
    ]
    store.insert_rows(
        session,
        "flag",
        ["code", "severity", "message", "jurisdiction_id", "indicator_id", "date", "submission_id", "created_at"],
        rows,
    )


# --------------------------------------------------------------------------------------------- approval
def _day_keys(session: Session, jid: int, dates: list[date]) -> list[ReportDay]:
    return list(session.scalars(select(ReportDay).where(ReportDay.jurisdiction_id == jid, ReportDay.date.in_(dates))))


def _check_approver(session: Session, actor: Actor, node: Jurisdiction) -> None:
    if not actor.can(APPROVERS):
        raise Forbidden(f"{actor.username} may not approve reports (role {actor.role or 'public'})")
    if actor.unrestricted:
        return
    # the level above approves: the unit must be strictly below the coordinator's own jurisdiction
    if actor.scope_id is None or actor.scope_id == node.id or not places.is_within(session, actor.scope_id, node.id):
        raise Forbidden(
            f"{actor.username} may not approve '{node.code}': reports are approved by a coordinator of a level above it"
        )


def approve(
    session: Session, actor: Actor, code: str, dates: list[date], now: datetime | None = None, auto: bool = False
) -> int:
    """Approve (lock and publish) a unit's days. Returns how many days changed state."""
    now = now or utcnow()
    node = places.get(session, code)
    if not auto:
        _check_approver(session, actor, node)
    days = _day_keys(session, node.id, dates)
    found = {d.date for d in days}
    missing = [d for d in dates if d not in found]
    if missing:
        raise NotFound(f"'{code}' has no report for {', '.join(str(d) for d in missing[:5])} to approve")
    todo = [d for d in days if d.status != "approved"]
    for d in todo:
        d.status, d.approved_at, d.auto_published = "approved", now, auto
        d.approved_by = actor.user_id
    session.flush()
    if todo:
        publish_days(session, node.id, dates=[d.date for d in todo])
    return len(todo)


def publish_days(
    session: Session, jid: int | None = None, approved_at: datetime | None = None, dates: list[date] | None = None
) -> None:
    """Make own values of approved days public and roll the public figures up.

    Works from an invariant instead of a list: every figure of an approved day whose public value differs
    from its current value is pending publication. One read, one roll-up, however many days. ``dates`` narrows
    it to those days (the caller knows them); otherwise they are read first, so their figures can be locked
    before they are read.
    """
    name = store.dialect(session)
    where, params = "", dict[str, Any]()
    if jid is not None:
        where += " AND r.jurisdiction_id = :j"
        params["j"] = jid
    if approved_at is not None:
        where += " AND r.approved_at = :at"
        params["at"] = db_timestamp(approved_at, name)
    if dates is None:
        approved = store.read_frame(
            session, f"SELECT DISTINCT r.date FROM report_day r WHERE r.status = 'approved'{where}", params
        )
        dates = [d.date() for d in pd.to_datetime(approved["date"])]
    if not dates:
        return
    store.lock_figure_days(session, dates)
    iids = ",".join(str(i) for i in sorted(indicator_ids(session).values()))
    rows = store.read_frame(
        session,
        "SELECT f.jurisdiction_id, f.indicator_id, f.date, f.disaggregation, f.own_all FROM report_day r "
        "JOIN figure f ON f.jurisdiction_id = r.jurisdiction_id AND f.date = r.date "
        f"AND f.indicator_id IN ({iids}) WHERE r.status = 'approved'{where} AND f.own_all IS NOT NULL "
        "AND (f.own_pub IS NULL OR f.own_pub <> f.own_all)",
        params,
    )
    rows["date"] = pd.to_datetime(rows["date"])
    rows = rows[rows["date"].isin(pd.to_datetime(dates))]  # only the locked days
    if rows.empty:
        return
    index = places.load_index(session)
    rows["jurisdiction_id"] = rows["jurisdiction_id"].astype(np.int64)
    rows["indicator_id"] = rows["indicator_id"].astype(np.int64)
    rows["disaggregation"] = rows["disaggregation"].astype(str)
    state = _load_state(session, rows, index)
    changes = rows[KEY].copy()
    changes["own_all"] = np.nan
    changes["own_pub"] = rows["own_all"].astype(float).to_numpy()
    _apply(session, state, changes, index)


def set_hold(session: Session, actor: Actor, code: str, dates: list[date], hold: bool) -> int:
    node = places.get(session, code)
    _check_approver(session, actor, node)
    days = _day_keys(session, node.id, dates)
    n = 0
    for d in days:
        if d.status == "approved":
            raise Conflict(f"'{code}' {d.date} is already approved; correct it with a revision instead")
        new = "held" if hold else "provisional"
        n += d.status != new
        d.status = new
    return n


def publish_due(session: Session, now: datetime, delay_hours: float) -> int:
    """Auto-publish provisional days older than the delay that nobody held. Returns days published."""
    if delay_hours <= 0:
        return 0
    cutoff = now - timedelta(hours=delay_hours)
    updated = session.execute(
        update(ReportDay)
        .where(ReportDay.status == "provisional", ReportDay.first_submitted_at <= cutoff)
        .values(status="approved", approved_at=now, auto_published=True)
    )
    n = int(getattr(updated, "rowcount", 0) or 0)
    if n:
        publish_days(session, approved_at=now)  # exactly the days this update approved (their approved_at is now)
    return n


# ---------------------------------------------------------------------------------------------- queries
def _indicator(session: Session, code: str) -> tuple[ind.Indicator, int]:
    spec = ind.get(code)
    if spec is None:
        raise NotFound(f"unknown indicator '{code}'; see /api/v1/indicators")
    base = spec.derived_from or spec.code
    iid = indicator_ids(session).get(base)
    if iid is None:
        raise NotFound(f"indicator '{base}' is not in this store; run 'accord init'")
    return spec, iid


def can_see_provisional(session: Session, actor: Actor, jid: int) -> bool:
    if actor.is_public:
        return False
    return actor.unrestricted or (actor.scope_id is not None and places.is_within(session, actor.scope_id, jid))


def series(
    session: Session,
    code: str,
    indicator: str,
    *,
    disaggregation: str = "",
    start: date | None = None,
    end: date | None = None,
    view: str = "public",
    as_of: datetime | None = None,
) -> pd.DataFrame:
    """Daily series of one jurisdiction: value, own report, children sum, unallocated, provisional.

    ``view='public'`` reads approved figures only; ``'all'`` includes provisional ones. Cumulative
    indicators are running sums of their count over the whole history.
    """
    node = places.get(session, code)
    spec, iid = _indicator(session, indicator)
    if disaggregation not in spec.disaggregations:
        raise NotFound(f"'{disaggregation}' is not a disaggregation of {spec.code}")
    if as_of is not None:
        frame = _series_as_of(session, node, iid, disaggregation, end, view, as_of)
    else:
        frame = _series_current(session, node.id, iid, disaggregation, end, view)
    if spec.aggregation is ind.Aggregation.CUMULATIVE:
        for col in ("value", "own", "children"):
            frame[col] = frame[col].fillna(0).cumsum() if col == "value" else np.nan
        frame["unallocated"] = np.nan
    if start is not None:
        frame = frame[frame["date"] >= pd.Timestamp(start)]
    return frame.reset_index(drop=True)


def _series_current(session: Session, jid: int, iid: int, dis: str, end: date | None, view: str) -> pd.DataFrame:
    name = store.dialect(session)
    sql = (
        "SELECT date, own_all, own_pub, child_all, child_pub FROM figure WHERE jurisdiction_id = :j "
        "AND indicator_id = :i AND disaggregation = :dis"
    )
    params: dict[str, Any] = {"j": jid, "i": iid, "dis": dis}
    if end is not None:
        sql += " AND date <= :end"
        params["end"] = store.date_param(end, name)
    raw = store.read_frame(session, sql + " ORDER BY date", params)
    return _shape_series(raw, view)


def _shape_series(raw: pd.DataFrame, view: str) -> pd.DataFrame:
    cols = ["own_all", "own_pub", "child_all", "child_pub"]
    if raw.empty:
        return pd.DataFrame(
            {
                "date": pd.Series(dtype="datetime64[ns]"),
                "value": [],
                "own": [],
                "children": [],
                "unallocated": [],
                "provisional": pd.Series(dtype=bool),
            }
        )
    raw["date"] = pd.to_datetime(raw["date"])
    for c in cols:
        raw[c] = pd.to_numeric(raw[c]).astype(float)
    eff_all = rollup.effective(raw["own_all"].to_numpy(), raw["child_all"].to_numpy())
    eff_pub = rollup.effective(raw["own_pub"].to_numpy(), raw["child_pub"].to_numpy())
    suffix = "pub" if view == "public" else "all"
    own, child = raw[f"own_{suffix}"].to_numpy(), raw[f"child_{suffix}"].to_numpy()
    out = pd.DataFrame(
        {
            "date": raw["date"],
            "value": eff_pub if view == "public" else eff_all,
            "own": own,
            "children": child,
            "unallocated": rollup.unallocated(own, child),
            "provisional": ~np.isclose(np.nan_to_num(eff_all, nan=-1), np.nan_to_num(eff_pub, nan=-1)),
        }
    )
    shown: pd.DataFrame = out[~np.isnan(out["value"].to_numpy())].reset_index(drop=True)
    return shown


def _series_as_of(
    session: Session, node: Jurisdiction, iid: int, dis: str, end: date | None, view: str, as_of: datetime
) -> pd.DataFrame:
    """Recompute the subtree from the revisions recorded by ``as_of`` (what was known then)."""
    name = store.dialect(session)
    ts = db_timestamp(as_of, name)
    pub_join = (
        (
            " JOIN report_day rd ON rd.jurisdiction_id = o.jurisdiction_id AND rd.date = o.date "
            "AND rd.approved_at IS NOT NULL AND rd.approved_at <= :ts"
        )
        if view == "public"
        else ""
    )
    end_clause = " AND o.date <= :end" if end is not None else ""
    sql = (
        "SELECT jurisdiction_id, date, value FROM ("
        " SELECT o.jurisdiction_id, o.date, o.value, ROW_NUMBER() OVER (PARTITION BY o.jurisdiction_id, o.date "
        "  ORDER BY o.revision DESC) AS rn FROM observation o"
        " JOIN jurisdiction_closure c ON c.descendant_id = o.jurisdiction_id AND c.ancestor_id = :root"
        f"{pub_join}"
        f" WHERE o.indicator_id = :i AND o.disaggregation = :dis AND o.recorded_at <= :ts{end_clause}"
        ") latest WHERE rn = 1"
    )
    params: dict[str, Any] = {"root": node.id, "i": iid, "dis": dis, "ts": ts}
    if end is not None:
        params["end"] = store.date_param(end, name)
    obs = store.read_frame(session, sql, params)
    empty = pd.DataFrame(
        {
            "date": pd.Series(dtype="datetime64[ns]"),
            "value": [],
            "own": [],
            "children": [],
            "unallocated": [],
            "provisional": pd.Series(dtype=bool),
        }
    )
    if obs.empty:
        return empty
    obs["date"] = pd.to_datetime(obs["date"])
    members = [(j.id, j.parent_id) for j, _ in places.subtree(session, node.id)]
    pos = {jid: i for i, (jid, _) in enumerate(members)}
    parent_index = np.array(
        [pos.get(p, -1) if p is not None and jid != node.id else -1 for jid, p in members], dtype=np.int64
    )
    dates = np.sort(obs["date"].unique())
    own = np.full((len(members), len(dates)), np.nan)
    rows = obs["jurisdiction_id"].map(pos).to_numpy(dtype=np.int64)
    cols = np.searchsorted(dates, obs["date"].to_numpy())
    own[rows, cols] = obs["value"].to_numpy(dtype=float)
    child, eff = rollup.full_rollup(parent_index, own)
    r = pos[node.id]
    out = pd.DataFrame({"date": pd.to_datetime(dates), "value": eff[r], "own": own[r], "children": child[r]})
    out["unallocated"] = out["own"] - out["children"]
    out["provisional"] = False if view == "public" else np.nan
    return out[out["value"].notna()].reset_index(drop=True)


def history(session: Session, code: str, indicator: str, day: date, disaggregation: str = "") -> pd.DataFrame:
    """Every revision behind one figure of one jurisdiction (its own reports), oldest first."""
    node = places.get(session, code)
    _, iid = _indicator(session, indicator)
    name = store.dialect(session)
    frame = store.read_frame(
        session,
        "SELECT o.revision, o.value, o.previous_value, o.reason, o.recorded_at, s.id AS submission_id, "
        "s.source, u.username AS submitter FROM observation o JOIN submission s ON s.id = o.submission_id "
        "LEFT JOIN app_user u ON u.id = s.submitter_id WHERE o.jurisdiction_id = :j AND o.indicator_id = :i "
        "AND o.date = :d AND o.disaggregation = :dis ORDER BY o.revision",
        {"j": node.id, "i": iid, "d": store.date_param(day, name), "dis": disaggregation},
    )
    return frame


def report_day_status(
    session: Session, code: str, start: date | None = None, end: date | None = None
) -> list[ReportDay]:
    node = places.get(session, code)
    q = select(ReportDay).where(ReportDay.jurisdiction_id == node.id)
    if start:
        q = q.where(ReportDay.date >= start)
    if end:
        q = q.where(ReportDay.date <= end)
    return list(session.scalars(q.order_by(ReportDay.date)))


def flags(
    session: Session,
    *,
    root_code: str | None = None,
    code: str | None = None,
    severity: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    q = (
        select(Flag, Jurisdiction.code, IndicatorRow.code)
        .outerjoin(Jurisdiction, Jurisdiction.id == Flag.jurisdiction_id)
        .outerjoin(IndicatorRow, IndicatorRow.id == Flag.indicator_id)
    )
    count_q = select(func.count(Flag.id))
    if root_code:
        root = places.get(session, root_code)
        sub = select(JurisdictionClosure.descendant_id).where(JurisdictionClosure.ancestor_id == root.id)
        q = q.where(Flag.jurisdiction_id.in_(sub))
        count_q = count_q.where(Flag.jurisdiction_id.in_(sub))
    for col, val in ((Flag.code, code), (Flag.severity, severity)):
        if val:
            q = q.where(col == val)
            count_q = count_q.where(col == val)
    total = int(session.scalar(count_q) or 0)
    rows = session.execute(q.order_by(Flag.id).limit(limit).offset(offset)).all()
    return [
        {
            "id": f.id,
            "code": f.code,
            "severity": f.severity,
            "message": f.message,
            "jurisdiction": jcode,
            "indicator": icode,
            "date": f.date.isoformat() if f.date else None,
            "submission_id": f.submission_id,
            "created_at": f.created_at.isoformat(),
            "resolved": f.resolved_at is not None,
        }
        for f, jcode, icode in rows
    ], total


def figures_at_level(
    session: Session,
    root_code: str,
    level: str | None,
    indicators: list[str],
    start: date | None,
    end: date | None,
    view: str = "public",
    max_distance: int | None = None,
) -> pd.DataFrame:
    """Long frame of effective figures for every jurisdiction at ``level`` under ``root`` (for exports)."""
    root = places.get(session, root_code)
    members = places.subtree(session, root.id, max_distance=max_distance, level=level)
    if not members:
        return pd.DataFrame(
            columns=[
                "jurisdiction",
                "jurisdiction_name",
                "local_name",
                "population",
                "date",
                "indicator",
                "disaggregation",
                "value",
            ]
        )
    meta = pd.DataFrame(
        [
            {
                "jurisdiction_id": j.id,
                "jurisdiction": j.code,
                "jurisdiction_name": j.name,
                "local_name": j.local_name,
                "population": j.population,
            }
            for j, _ in members
        ]
    )
    ids = indicator_ids(session)
    name = store.dialect(session)
    stored = [c for c in indicators if ind.CATALOG[c].stored]
    iid_list = [ids[c] for c in stored if c in ids]
    clauses, params = "", {}
    if start:
        clauses += " AND f.date >= :start"
        params["start"] = store.date_param(start, name)
    if end:
        clauses += " AND f.date <= :end"
        params["end"] = store.date_param(end, name)
    suffix = "pub" if view == "public" else "all"
    parts = []
    for chunk in store.in_chunks(meta["jurisdiction_id"].tolist()):
        parts.append(
            store.read_frame(
                session,
                f"SELECT f.jurisdiction_id, f.indicator_id, f.date, f.disaggregation, "
                f"COALESCE(f.own_{suffix}, f.child_{suffix}) AS value FROM figure f WHERE f.jurisdiction_id IN "
                f"({','.join(map(str, chunk))}) AND f.indicator_id IN ({','.join(map(str, iid_list or [-1]))})"
                f"{clauses}",
                params,
            )
        )
    data = pd.concat(parts, ignore_index=True).dropna(subset=["value"])
    code_of = {v: k for k, v in ids.items()}
    data["indicator"] = data["indicator_id"].map(code_of)
    data["date"] = pd.to_datetime(data["date"])
    data["value"] = data["value"].astype(float)
    out = data.merge(meta, on="jurisdiction_id").drop(columns=["indicator_id"])
    return out.sort_values(["jurisdiction", "indicator", "disaggregation", "date"]).reset_index(drop=True)


# ------------------------------------------------------------------------------------------- schedules
def set_schedule(
    session: Session,
    actor: Actor,
    code: str,
    indicators: list[str],
    *,
    level: str | None = None,
    frequency: str = "daily",
    deadline_hour: int = 10,
    due_days_after: int = 1,
    active_from: date,
) -> int:
    """Give a unit (or every unit at ``level`` below it) a reporting schedule. Returns units scheduled."""
    node = places.get(session, code)
    allowed = actor.unrestricted or (
        actor.can(APPROVERS) and actor.scope_id is not None and places.is_within(session, actor.scope_id, node.id)
    )
    if not allowed:
        raise Forbidden(f"{actor.username} may not set reporting schedules for '{code}'")
    bad = [c for c in indicators if c not in ind.CATALOG or not ind.CATALOG[c].stored]
    problems = [Problem(f"'{c}' is not a reportable indicator", field="indicators") for c in bad]
    if frequency not in ("daily", "weekly"):
        problems.append(Problem(f"frequency must be daily or weekly, not '{frequency}'", field="frequency"))
    if not 0 <= deadline_hour <= 23:
        problems.append(Problem("deadline hour must be between 0 and 23", field="deadline_hour"))
    if problems:
        raise AccordError("the schedule was not set", problems)
    units = [j for j, _ in places.subtree(session, node.id, level=level)] if level else [node]
    for unit in units:
        row = session.get(ReportingSchedule, unit.id) or ReportingSchedule(jurisdiction_id=unit.id)
        row.indicators, row.frequency, row.deadline_hour = indicators, frequency, deadline_hour
        row.due_days_after, row.active_from = due_days_after, active_from
        session.add(row)
    session.flush()
    return len(units)


def compliance(
    session: Session, root_code: str, start: date, end: date, now: datetime, tz: str = "UTC"
) -> pd.DataFrame:
    """For every scheduled unit under ``root`` and every expected day: on time, late, missing or pending."""
    root = places.get(session, root_code)
    rows = session.execute(
        select(ReportingSchedule, Jurisdiction.code)
        .join(Jurisdiction, Jurisdiction.id == ReportingSchedule.jurisdiction_id)
        .join(JurisdictionClosure, JurisdictionClosure.descendant_id == ReportingSchedule.jurisdiction_id)
        .where(JurisdictionClosure.ancestor_id == root.id)
    ).all()
    expected = []
    for sched, code in rows:
        for day in schedule.expected_days(sched.active_from, start, end, sched.frequency):
            expected.append(
                {
                    "jurisdiction_id": sched.jurisdiction_id,
                    "jurisdiction": code,
                    "date": day,
                    "due_at": schedule.due_at(day, sched.deadline_hour, sched.due_days_after, tz),
                }
            )
    cols = ["jurisdiction", "date", "due_at", "received_at", "status"]
    if not expected:
        return pd.DataFrame(columns=cols)
    exp = pd.DataFrame(expected)
    exp["date"] = pd.to_datetime(exp["date"])
    received = pd.DataFrame(
        session.execute(
            select(ReportDay.jurisdiction_id, ReportDay.date, ReportDay.first_submitted_at)
            .join(JurisdictionClosure, JurisdictionClosure.descendant_id == ReportDay.jurisdiction_id)
            .where(JurisdictionClosure.ancestor_id == root.id, ReportDay.date >= start, ReportDay.date <= end)
        ).all(),
        columns=["jurisdiction_id", "date", "received_at"],
    )
    received["date"] = pd.to_datetime(received["date"])
    merged = exp.merge(received, on=["jurisdiction_id", "date"], how="left")
    merged["status"] = schedule.classify(merged["due_at"], merged["received_at"], now)
    return merged[cols].sort_values(["jurisdiction", "date"]).reset_index(drop=True)


def record_reporting_flags(
    session: Session, root_code: str, start: date, end: date, now: datetime, tz: str = "UTC"
) -> int:
    """Store late and missing reports as warning flags (each unit-day once). Returns flags added."""
    comp = compliance(session, root_code, start, end, now, tz)
    bad = comp[comp["status"].isin(["late", "missing"])]
    if bad.empty:
        return 0
    index = places.load_index(session)
    existing = pd.DataFrame(
        session.execute(
            select(Flag.code, Flag.jurisdiction_id, Flag.date).where(Flag.code.in_(["late_report", "missing_report"]))
        ).all(),
        columns=["code", "jurisdiction_id", "day"],
    )
    bad = bad.assign(
        code=bad["status"] + "_report",
        jurisdiction_id=bad["jurisdiction"].map(index.by_code),
        day=pd.to_datetime(bad["date"]).dt.date,
    )
    if len(existing):
        seen = bad.merge(existing.assign(_seen=True), on=["code", "jurisdiction_id", "day"], how="left")
        bad = bad[seen["_seen"].isna().to_numpy()]
    due = pd.to_datetime(bad["due_at"], utc=True).dt.strftime("%Y-%m-%d %H:%M UTC")
    messages: pd.Series = (
        "report of "
        + bad["jurisdiction"]
        + " for "
        + bad["day"].astype(str)
        + " was due "
        + due
        + np.where(bad["status"] == "late", " and arrived late", " and has not arrived")
    )
    flags_ = [
        {
            "code": c,
            "severity": "warning",
            "message": m,
            "jurisdiction_id": int(j),
            "indicator_id": None,
            "date": d.isoformat(),
            "submission_id": None,
            "created_at": now,
        }
        for c, m, j, d in zip(bad["code"], messages, bad["jurisdiction_id"], bad["day"], strict=True)
    ]
    _store_flags(session, flags_)
    return len(flags_)


def deaths_above_confirmed(session: Session, root_code: str, now: datetime) -> int:
    """Flag jurisdictions whose cumulative deaths exceed cumulative confirmed cases (one grouped query)."""
    root = places.get(session, root_code)
    ids = indicator_ids(session)
    frame = store.read_frame(
        session,
        "SELECT f.jurisdiction_id, f.indicator_id, SUM(COALESCE(f.own_all, f.child_all)) AS total FROM figure f "
        "JOIN jurisdiction_closure c ON c.descendant_id = f.jurisdiction_id AND c.ancestor_id = :root "
        "WHERE f.indicator_id IN (:c, :d) AND f.disaggregation = '' GROUP BY f.jurisdiction_id, f.indicator_id",
        {"root": root.id, "c": ids["new_confirmed"], "d": ids["new_deaths"]},
    )
    if frame.empty:
        return 0
    wide = frame.pivot(index="jurisdiction_id", columns="indicator_id", values="total").fillna(0)
    wide = wide.reindex(columns=[ids["new_confirmed"], ids["new_deaths"]], fill_value=0)
    bad = wide[wide[ids["new_deaths"]] > wide[ids["new_confirmed"]]]
    index = places.load_index(session)
    code_of = dict(zip(index.ids.tolist(), index.codes.tolist(), strict=False))
    existing = set(session.scalars(select(Flag.jurisdiction_id).where(Flag.code == "deaths_above_confirmed")))
    flags_ = [
        {
            "code": "deaths_above_confirmed",
            "severity": "warning",
            "message": f"{code_of[jid]} reports {row[ids['new_deaths']]:g} deaths but only "
            f"{row[ids['new_confirmed']]:g} confirmed cases in total",
            "jurisdiction_id": _as_int(jid),
            "indicator_id": ids["new_deaths"],
            "date": None,
            "submission_id": None,
            "created_at": now,
        }
        for jid, row in bad.iterrows()
        if jid not in existing
    ]
    _store_flags(session, flags_)
    return len(flags_)

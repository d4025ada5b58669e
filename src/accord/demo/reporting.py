"""How the communities of the demo country report the truth, with the imperfections of real reporting.

``plan_reports`` turns a truth frame (as from :func:`accord.demo.outbreak.simulate_outbreak`) into the batches
the communities submit, in submission order:

- ``daily``: one batch per community and day with all its indicators, submitted the next evening (local time,
  ``UTC+8`` by default);
- ``late``: the same, 2-4 days late (about 6% of community-days);
- gaps: about 2% of community-days are never reported;
- ``correction``: a few reports are wrong at first -- late lab results not yet in, a duplicate record, a
  miscounted test tally -- and a correction follows days later with the true values and a reason. After all
  accepted batches the store holds exactly the truth on every reported community-day (see ``expected_store``);
- ``replay``: a few batches are sent twice (a retry after a lost response): same idempotency key, same rows,
  a no-op for the store;
- ``deliberate_error``: a handful of small batches that validation must reject, each naming the error code it
  should be rejected with in ``expected_error`` (``ERROR_CODES``).

Randomness: the ``delays``, ``gaps``, ``corrections``, ``replays`` and ``errors`` streams of
:func:`accord.demo.country.stream`, each drawn in one go over all community-days, so changing one aspect
leaves the others identical.

Pure: no database, web or CLI code.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from accord.demo.country import stream

KINDS: Final = ("daily", "late", "correction", "replay", "deliberate_error", "bulk")
CLEAN_KINDS: Final = frozenset({"daily", "late"})
ERROR_CODES: Final = ("negative_count", "future_date", "unknown_jurisdiction", "non_integer_count")
#: the deliberate errors planned (error code, indicator of the bad row), in order, cycled when more are asked
ERROR_PLAN: Final = (
    ("negative_count", "new_confirmed"),
    ("future_date", "new_confirmed"),
    ("unknown_jurisdiction", "new_confirmed"),
    ("non_integer_count", "new_tests"),
    ("negative_count", "new_deaths"),
)
ROW_KEYS: Final = ("jurisdiction", "date", "indicator", "disaggregation", "value", "reason")

#: correction reasons: how the first report was wrong
LATE_LAB: Final = "late lab results added"
DUPLICATE: Final = "duplicate record removed"
TEST_TALLY: Final = "test tally recounted"

_UTC: Final = dt.UTC
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=_UTC)

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReportBatch:
    """One submission: a community's report for one day (or, after ``merge_for_bulk``, a day's worth)."""

    idempotency_key: str
    jurisdiction: str
    submitted_at: dt.datetime
    rows: list[Row] = field(hash=False)
    kind: str = "daily"
    expected_error: str | None = None


@dataclass(frozen=True, slots=True)
class ReportingParams:
    #: local time zone of the reporters, hours east of UTC
    utc_offset_hours: int = 8
    #: daily reports: local hour the evening window opens, and its length in minutes
    evening_hour: int = 18
    evening_minutes: int = 240
    #: probabilities of a delay of 2, 3, 4 days (the rest: 1 day)
    late_probabilities: tuple[float, float, float] = (0.03, 0.02, 0.01)
    gap_rate: float = 0.02
    #: reported community-days (with cases) whose first report is wrong and corrected days later
    corrections: int = 24
    replays: int = 8
    errors: int = 5


@contextmanager
def _bulk_allocation() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small acyclic objects (it would rescan them
    again and again); restore it afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _seconds(values: npt.NDArray[np.int64]) -> list[dt.datetime]:
    return [_EPOCH + dt.timedelta(seconds=s) for s in values.tolist()]


def _as_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(str(value)).date()


def _unknown_code(base: str, known: set[str]) -> str:
    """A code shaped like ``base`` that is not a known jurisdiction."""
    head, _, tail = base.rpartition("-")
    width = max(3, len(tail))
    number = 10**width - 1
    while True:
        code = f"{head}-{number:0{width}d}" if head else f"{base}-{number:0{width}d}"
        if code not in known:
            return code
        number -= 1


def plan_reports(
    truth: pd.DataFrame,
    places: pd.DataFrame,
    seed: int = 7,
    now: dt.datetime | None = None,
    params: ReportingParams | None = None,
) -> list[ReportBatch]:
    """The batches the communities submit for ``truth``, sorted by ``submitted_at`` (then key).

    ``truth`` has columns ``jurisdiction, date, indicator, disaggregation, value`` (``date`` as
    ``datetime.date``, ``Timestamp`` or ISO string); ``places`` is the jurisdiction frame (to know which codes
    exist). ``now`` (timezone-aware): leave out every batch submitted after it. Rows are dicts with
    ``ROW_KEYS``: ``date`` an ISO string, ``value`` an ``int`` (a ``float`` only in a deliberate
    non-integer error), ``reason`` ``''`` except in corrections.
    """
    p = params or ReportingParams()
    if now is not None and now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    with _bulk_allocation():
        return _plan(truth, places, seed, now, p)


def _plan(
    truth: pd.DataFrame, places: pd.DataFrame, seed: int, now: dt.datetime | None, p: ReportingParams
) -> list[ReportBatch]:
    prefix = f"demo{seed}"
    offset = dt.timedelta(hours=p.utc_offset_hours)
    known = set(places["code"].astype(str))

    # group the rows by community-day, in (code, date) order
    j_codes, j_uniques = pd.factorize(truth["jurisdiction"].astype(str), sort=True)
    d_codes, d_uniques = pd.factorize(truth["date"], sort=True)
    dates = [_as_date(u) for u in d_uniques]
    iso = [d.isoformat() for d in dates]
    key = j_codes.astype(np.int64) * len(dates) + d_codes
    order = np.argsort(key, kind="stable")
    key_sorted = key[order]
    starts = np.flatnonzero(np.r_[True, key_sorted[1:] != key_sorted[:-1]])
    bounds = np.r_[starts, len(order)]
    group_j = (key_sorted[starts] // len(dates)).astype(np.int64)
    group_d = (key_sorted[starts] % len(dates)).astype(np.int64)
    n_groups = len(starts)

    ind_sorted = truth["indicator"].astype(str).to_numpy()[order]
    part_sorted = truth["disaggregation"].astype(str).to_numpy()[order]
    value_sorted = np.rint(truth["value"].to_numpy(dtype=np.float64)[order]).astype(np.int64)
    total_rows = np.flatnonzero((ind_sorted == "new_confirmed") & (part_sorted == ""))
    indicators, parts, values = ind_sorted.tolist(), part_sorted.tolist(), value_sorted.tolist()

    # when: next evening, or 2-4 days later at any office hour; gaps never come
    delays_rng = stream(seed, "delays")
    late_p = np.asarray(p.late_probabilities, dtype=np.float64)
    delay = delays_rng.choice(np.arange(1, 5), size=n_groups, p=np.r_[1.0 - late_p.sum(), late_p])
    evening = delays_rng.integers(0, p.evening_minutes * 60, n_groups)
    office = delays_rng.integers(0, 13 * 3600, n_groups)
    day_seconds = np.array([(dt.datetime.combine(d, dt.time(), _UTC) - _EPOCH).total_seconds() for d in dates])
    local_start = day_seconds[group_d].astype(np.int64) + delay * 86_400 - int(offset.total_seconds())
    at = local_start + np.where(delay == 1, p.evening_hour * 3600 + evening, 9 * 3600 + office)
    gap = stream(seed, "gaps").random(n_groups) < p.gap_rate
    reported = np.flatnonzero(~gap)

    # corrections: wrong at first (the original's values are changed), the truth later
    corr_rng = stream(seed, "corrections")
    originals: dict[int, list[Row]] = {}
    corrections: list[ReportBatch] = []
    confirmed_total = np.zeros(n_groups, np.int64)
    confirmed_total[np.searchsorted(starts, total_rows, side="right") - 1] = value_sorted[total_rows]
    candidates = reported[confirmed_total[reported] > 0]
    n_corr = min(len(candidates), max(0, p.corrections))
    picked = np.sort(corr_rng.choice(candidates, size=n_corr, replace=False)) if n_corr else candidates[:0]
    modes = corr_rng.integers(0, 3, n_corr)
    sizes = corr_rng.integers(1, 4, n_corr)
    later = corr_rng.integers(2 * 86_400, 7 * 86_400, n_corr)

    j_strings = [str(j) for j in j_uniques]
    g_j, g_d, g_lo = group_j.tolist(), group_d.tolist(), bounds.tolist()

    def group_rows(g: int, changed: dict[int, int] | None = None) -> list[Row]:
        jc, ds = j_strings[g_j[g]], iso[g_d[g]]
        lo, hi = g_lo[g], g_lo[g + 1]
        vals = values[lo:hi]
        if changed:
            vals = [changed.get(r, v) for r, v in zip(range(lo, hi), vals, strict=True)]
        return [
            {
                "jurisdiction": jc,
                "date": ds,
                "indicator": ind,
                "disaggregation": part,
                "value": v,
                "reason": "",
            }
            for ind, part, v in zip(indicators[lo:hi], parts[lo:hi], vals, strict=True)
        ]

    for g, mode, size, delta in zip(picked.tolist(), modes.tolist(), sizes.tolist(), later.tolist(), strict=True):
        lo, hi = g_lo[g], g_lo[g + 1]
        where = {(indicators[r], parts[r]): r for r in range(lo, hi)}
        total_r = where.get(("new_confirmed", ""))
        changed: dict[int, int] = {}
        reason = ""
        if mode == 2 and ("new_tests", "") in where:
            r = where[("new_tests", "")]
            changed[r] = values[r] + 2 * size if values[r] < 2 * size else values[r] - 2 * size
            reason = TEST_TALLY
        elif total_r is not None:
            part_r = next(
                (where[k] for k in (("new_confirmed", "local"), ("new_confirmed", "imported")) if k in where
                 and values[where[k]] > 0),
                None,
            )  # fmt: skip
            if mode == 0:  # the first report lacks late lab results
                k = min(size, values[total_r] if part_r is None else values[part_r])
                reason = LATE_LAB
            else:  # the first report counts a case twice
                k = -size
                reason = DUPLICATE
            changed[total_r] = values[total_r] - k
            if part_r is not None:
                changed[part_r] = values[part_r] - k
        if not changed:
            continue
        originals[g] = group_rows(g, changed)
        jc, ds = j_strings[g_j[g]], iso[g_d[g]]
        rows = [
            {"jurisdiction": jc, "date": ds, "indicator": indicators[r], "disaggregation": parts[r],
             "value": values[r], "reason": reason}
            for r in sorted(changed)
        ]  # fmt: skip
        corrections.append(
            ReportBatch(
                idempotency_key=f"{prefix}:correction:{jc}:{ds}",
                jurisdiction=jc,
                submitted_at=_EPOCH + dt.timedelta(seconds=int(at[g]) + delta),
                rows=rows,
                kind="correction",
            )
        )

    # the regular reports
    when = _seconds(at)
    late_flags = (delay > 1).tolist()
    batches: list[ReportBatch] = []
    for g in reported.tolist():
        jc, ds = j_strings[g_j[g]], iso[g_d[g]]
        batches.append(
            ReportBatch(
                idempotency_key=f"{prefix}:report:{jc}:{ds}",
                jurisdiction=jc,
                submitted_at=when[g],
                rows=originals[g] if g in originals else group_rows(g),
                kind="late" if late_flags[g] else "daily",
            )
        )

    # replays: the same batch again, minutes to an hour later
    replay_rng = stream(seed, "replays")
    n_rep = min(p.replays, len(batches))
    replays = [
        ReportBatch(
            idempotency_key=b.idempotency_key,
            jurisdiction=b.jurisdiction,
            submitted_at=b.submitted_at + dt.timedelta(seconds=int(s)),
            rows=[dict(row) for row in b.rows],
            kind="replay",
        )
        for b, s in zip(
            (batches[i] for i in np.sort(replay_rng.choice(len(batches), size=n_rep, replace=False)).tolist()),
            replay_rng.integers(60, 3600, n_rep).tolist(),
            strict=True,
        )
    ]

    errors = _deliberate_errors(batches, known, stream(seed, "errors"), p, prefix, offset)
    plan = batches + corrections + replays + errors
    if now is not None:
        plan = [b for b in plan if b.submitted_at <= now]
    plan.sort(key=lambda b: (b.submitted_at, b.idempotency_key, KINDS.index(b.kind)))
    return plan


def _deliberate_errors(
    batches: list[ReportBatch],
    known: set[str],
    rng: np.random.Generator,
    p: ReportingParams,
    prefix: str,
    offset: dt.timedelta,
) -> list[ReportBatch]:
    """Small batches that validation must reject, each after a real report of the same community-day."""
    if not batches or p.errors <= 0:
        return []
    bases = rng.choice(len(batches), size=p.errors, replace=len(batches) < p.errors)
    later = rng.integers(5 * 60, 3600, p.errors)
    out: list[ReportBatch] = []
    for n, (b_index, delta) in enumerate(zip(bases.tolist(), later.tolist(), strict=True)):
        base = batches[b_index]
        code, indicator = ERROR_PLAN[n % len(ERROR_PLAN)]
        at = base.submitted_at + dt.timedelta(seconds=delta)
        first = base.rows[0]
        value = next((r["value"] for r in base.rows if r["indicator"] == indicator), first["value"])
        row: Row = {**first, "indicator": indicator, "disaggregation": "", "value": value, "reason": ""}
        jurisdiction = base.jurisdiction
        if code == "negative_count":
            row["value"] = -(1 + n % 3)
        elif code == "future_date":
            row["date"] = ((at + offset).date() + dt.timedelta(days=2 + n % 3)).isoformat()
        elif code == "unknown_jurisdiction":
            jurisdiction = _unknown_code(base.jurisdiction, known)
            row["jurisdiction"] = jurisdiction
        elif code == "non_integer_count":
            row["value"] = float(value) + 0.5
        out.append(
            ReportBatch(
                idempotency_key=f"{prefix}:error:{n + 1}:{code}",
                jurisdiction=jurisdiction,
                submitted_at=at,
                rows=[row],
                kind="deliberate_error",
                expected_error=code,
            )
        )
    return out


def describe_plan(batches: list[ReportBatch]) -> dict[str, int]:
    """Counts: ``batches``, ``rows``, one entry per kind in ``KINDS``, ``unique_keys``."""
    kinds = Counter(b.kind for b in batches)
    summary = {"batches": len(batches), "rows": sum(len(b.rows) for b in batches)}
    summary.update({k: kinds.get(k, 0) for k in KINDS})
    summary["unique_keys"] = len({b.idempotency_key for b in batches})
    return summary


def _common_ancestor(codes: set[str]) -> str:
    """The deepest code that every code starts with, cut at ``-`` boundaries (``AR-01-02-003`` style)."""
    split = [c.split("-") for c in codes]
    common: list[str] = []
    for parts in zip(*split, strict=False):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    return "-".join(common)


def merge_for_bulk(batches: list[ReportBatch], by: str = "day") -> list[ReportBatch]:
    """Merge the clean ``daily`` / ``late`` batches submitted on the same UTC calendar day into one ``bulk``
    batch per day, for a fast demo load.

    A bulk batch is submitted at the last of its members' times, by their common ancestor (the country), with
    a key made from the day and its members' keys. Corrections and deliberate errors stay as they are; a
    replay of a merged batch becomes a replay of its bulk batch, so it is still a no-op.
    """
    if by != "day":
        raise ValueError(f"cannot merge by {by!r}; only by='day' is supported")
    with _bulk_allocation():
        return _merge_by_day(batches)


def _merge_by_day(batches: list[ReportBatch]) -> list[ReportBatch]:
    groups: dict[dt.date, list[ReportBatch]] = {}
    others: list[ReportBatch] = []
    for b in batches:
        if b.kind in CLEAN_KINDS:
            groups.setdefault(b.submitted_at.astimezone(_UTC).date(), []).append(b)
        else:
            others.append(b)
    merged: list[ReportBatch] = []
    bulk_of: dict[str, ReportBatch] = {}
    for day, members in sorted(groups.items()):
        members.sort(key=lambda b: (b.submitted_at, b.idempotency_key))
        digest = hashlib.sha256("\n".join(b.idempotency_key for b in members).encode()).hexdigest()[:12]
        bulk = ReportBatch(
            idempotency_key=f"bulk:{day.isoformat()}:{digest}",
            jurisdiction=_common_ancestor({b.jurisdiction for b in members}),
            submitted_at=members[-1].submitted_at,
            rows=[row for b in members for row in b.rows],
            kind="bulk",
        )
        merged.append(bulk)
        bulk_of.update((b.idempotency_key, bulk) for b in members)
    for b in others:
        target = bulk_of.get(b.idempotency_key) if b.kind == "replay" else None
        if target is None:
            merged.append(b)
        else:
            merged.append(
                ReportBatch(
                    idempotency_key=target.idempotency_key,
                    jurisdiction=target.jurisdiction,
                    submitted_at=max(b.submitted_at, target.submitted_at + dt.timedelta(minutes=1)),
                    rows=target.rows,
                    kind="replay",
                )
            )
    merged.sort(key=lambda b: (b.submitted_at, b.idempotency_key, KINDS.index(b.kind)))
    return merged


def expected_store(batches: list[ReportBatch]) -> pd.DataFrame:
    """What a correct store holds after all ``batches`` in order: deliberate errors rejected, replays
    (a key already seen) ignored, the latest value per (jurisdiction, date, indicator, disaggregation) kept.
    Columns ``jurisdiction, date (ISO str), indicator, disaggregation, value`` (float64)."""
    seen: set[str] = set()
    accepted: list[Row] = []
    for b in sorted(batches, key=lambda b: b.submitted_at):
        if b.expected_error is not None or b.idempotency_key in seen:
            continue
        seen.add(b.idempotency_key)
        accepted.extend(b.rows)
    columns = ["jurisdiction", "date", "indicator", "disaggregation"]
    frame = pd.DataFrame(
        {
            **{c: [row[c] for row in accepted] for c in columns},
            "value": np.array([row["value"] for row in accepted], dtype=np.float64),
        }
    )
    frame = frame.drop_duplicates(columns, keep="last")
    return frame.sort_values(columns, ignore_index=True)

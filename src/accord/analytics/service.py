"""Epidemic analytics from the store: Rt for every unit under a jurisdiction at once, and hospital demand.

Thin around the pure numerics of :mod:`accord.epi`: read the effective figures of every unit in one query
(:func:`accord.surveillance.service.figures_at_level`), build ``regions x days`` arrays, make **one** vectorised
call, and return arrays and tidy frames. Each function runs inside the caller's transaction and only reads.

**Local and imported cases.** Rt needs them apart (imported cases infect but were not infected here). Per unit
and day we read ``new_confirmed`` with the disaggregations ``local``, ``imported`` and the total:

- where parts are reported, they are used; a total above ``local + imported`` (cases whose origin is not yet
  known, e.g. a province total including cases not assigned to a city) adds the difference to the local cases;
- where only the total is reported, all cases count as local.

Both are said in the result (``unknown_origin`` per unit and day, ``origin`` per unit: ``parts``,
``total as local`` or ``mixed``), because counting imported cases as local inflates Rt.

**Missing days: reported days, zero-filled gaps flagged.** The renewal equation needs consecutive days, but a day
a unit did not report is unknown, not zero (the spine records late and missing reports as facts). So:

- the common date axis runs from the first to the last day any unit reported;
- a unit's estimates start once a full window lies after its first reported day (as EpiEstim on the unit's own
  series: its first day's cases have no infection pressure inside the series) and stop at its **last reported
  day** (zero-filling the trailing edge would fake a fall in Rt);
- days without a report *inside* a unit's span are filled with 0 so that one vectorised call serves every unit,
  and every estimate that depends on such a day (its window and the serial interval's reach before it) carries
  ``missing_days > 0`` and ``warning = true``.

A unit's effective figure is its own report or the sum of its children (roll-up), so a day on which only some
communities of a city reported is an under-count the city's estimate cannot see; the schedule compliance of the
spine tells which days those are.

**Hospital demand.** The model's census (issue 4, item 6) is not built yet. For now :func:`hospital_demand` reads
the reported point-in-time figures ``hospitalised`` and ``icu_occupied`` (latest per unit) and compares them with
capacity given by the caller (:func:`read_capacity`: a CSV ``jurisdiction,beds,icu_beds``), since the store holds
no capacity indicator yet. Nothing is invented: without capacity the comparison columns are empty. Days to
capacity come from :func:`accord.epi.hospital.days_to_capacity` on a *trend projection* of the reported census
(log-linear fit over the last ``trend_days`` reported days), documented as such.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sqlalchemy.orm import Session

from accord.analytics import skill
from accord.db import db_timestamp, utcnow
from accord.disclosure.suppression import SuppressionPolicy
from accord.epi import calibrate, forecast, hospital, nowcast, params, renewal, rt, scoring, serial_interval
from accord.errors import AccordError, NotFound, Problem
from accord.places import service as places
from accord.places.model import Jurisdiction
from accord.surveillance import rollup, store
from accord.surveillance import service as surveillance
from accord.surveillance.formats.common import shape_problem

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: serial interval for COVID-19 by default: 7.5 +- 3.4 days (Li et al., NEJM 2020); see docs/epi.md
SI_MEAN = 7.5
SI_SD = 3.4
WINDOW = 7
MAX_WINDOW = 60
VIEWS = ("public", "all")

ORIGIN_PARTS = "parts"
ORIGIN_TOTAL = "total as local"
ORIGIN_MIXED = "mixed"

RT_COLUMNS = [
    "jurisdiction",
    "jurisdiction_name",
    "local_name",
    "level",
    "date",
    "window_start",
    "mean",
    "sd",
    "lower",
    "upper",
    "cases_in_window",
    "imported_in_window",
    "unknown_origin_in_window",
    "missing_days",
    "warning",
]


# ------------------------------------------------------------------------------------------------ Rt
@dataclass(frozen=True)
class RegionalRt:
    """Rt of every unit (rows, in ``units`` order) on a common day axis (columns, ``dates``)."""

    root: Jurisdiction
    level: str | None
    units: list[Jurisdiction]
    dates: pd.DatetimeIndex
    #: the arrays given to :func:`accord.epi.rt.estimate_rt` (local includes cases of unknown origin)
    local: FloatArray
    imported: FloatArray
    unknown_origin: FloatArray
    #: True where the unit had a figure on the day
    reported: BoolArray
    #: True where an estimate is shown (inside the unit's span, a full window after its first day)
    valid: BoolArray
    #: unreported days each estimate depends on (its window and the serial interval's reach before it)
    missing_days: FloatArray
    estimate: rt.RtEstimate
    si: FloatArray
    si_mean: float
    si_sd: float
    view: str
    origin: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def window(self) -> int:
        return self.estimate.window

    @property
    def warning(self) -> BoolArray:
        return np.asarray(self.estimate.warning | (self.missing_days > 0), dtype=np.bool_)

    def meta(self) -> dict[str, Any]:
        return {
            "jurisdiction": self.root.code,
            "level": self.level,
            "view": self.view,
            "window": self.window,
            "si_mean": self.si_mean,
            "si_sd": self.si_sd,
            "credible_level": self.estimate.level,
            "method": "Cori et al. 2013; estimates dated by the last day of their window",
            "origin": self.origin,
            "notes": self.notes,
        }

    def frame(self, withheld: BoolArray | None = None) -> pd.DataFrame:
        """One row per unit and day with an estimate (see :data:`RT_COLUMNS`). ``withheld`` (regions x days)
        blanks the numbers of those cells and marks them in a ``withheld`` column."""
        rows, cols = np.nonzero(self.valid)
        if rows.size == 0:
            return pd.DataFrame({c: [] for c in RT_COLUMNS})
        e = self.estimate
        dates = self.dates[cols]
        out = pd.DataFrame(
            {
                "jurisdiction": [self.units[i].code for i in rows],
                "jurisdiction_name": [self.units[i].name for i in rows],
                "local_name": [self.units[i].local_name for i in rows],
                "level": [self.units[i].level for i in rows],
                "date": dates,
                "window_start": dates - pd.Timedelta(days=self.window - 1),
                "mean": e.mean[rows, cols],
                "sd": e.sd[rows, cols],
                "lower": e.lower[rows, cols],
                "upper": e.upper[rows, cols],
                "cases_in_window": e.cases_in_window[rows, cols],
                "imported_in_window": _window_sum(self.imported, self.window)[rows, cols],
                "unknown_origin_in_window": _window_sum(self.unknown_origin, self.window)[rows, cols],
                "missing_days": self.missing_days[rows, cols].astype(np.int64),
                "warning": self.warning[rows, cols],
            }
        )
        for c in ("cases_in_window", "imported_in_window", "unknown_origin_in_window"):
            if np.all(out[c] == np.round(out[c])):
                out[c] = out[c].astype(np.int64)
        if withheld is not None:
            hide = withheld[rows, cols]
            out = out.astype({c: object for c in _NUMBERS})
            out.loc[hide, _NUMBERS] = None
            out["withheld"] = hide
        return out

    def latest(self, withheld: BoolArray | None = None) -> pd.DataFrame:
        """The last estimate of every unit (a map's colours), with a plain-words ``trend``; units without an
        estimate are listed with empty numbers and the reason in ``status``."""
        frame = self.frame(withheld)
        last = frame.groupby("jurisdiction", sort=False).tail(1).set_index("jurisdiction")
        rows = []
        for i, u in enumerate(self.units):
            if u.code in last.index:
                r = {str(k): v for k, v in last.loc[u.code].to_dict().items()}
                status = "withheld" if r.get("withheld") else "estimated"
                rows.append({"jurisdiction": u.code, **r, "status": status, "trend": _trend(r)})
                continue
            reported = bool(self.reported[i].any())
            blank: dict[str, Any] = {str(c): None for c in frame.columns if c != "jurisdiction"}
            blank.update(jurisdiction_name=u.name, local_name=u.local_name, level=u.level)
            status = "too few days" if reported else "no reports"
            rows.append({"jurisdiction": u.code, **blank, "status": status, "trend": None})
        out = pd.DataFrame(rows)
        if not len(out):
            return pd.DataFrame({c: [] for c in [*RT_COLUMNS, "status", "trend"]})
        out["population"] = [u.population for u in self.units]
        return out


_NUMBERS = [
    "mean",
    "sd",
    "lower",
    "upper",
    "cases_in_window",
    "imported_in_window",
    "unknown_origin_in_window",
]


def _trend(row: dict[str, Any]) -> str | None:
    lower, upper = row.get("lower"), row.get("upper")
    if lower is None or upper is None or pd.isna(lower) or pd.isna(upper):
        return None
    if float(lower) > 1:
        return "growing"
    if float(upper) < 1:
        return "declining"
    return "uncertain"


def check_parameters(window: int, si_mean: float, si_sd: float, view: str) -> FloatArray:
    """The discretised serial interval, or an :class:`AccordError` naming every bad parameter."""
    problems = []
    if not 1 <= window <= MAX_WINDOW:
        problems.append(Problem(f"the window must be 1 to {MAX_WINDOW} days, not {window}", field="window"))
    if not (np.isfinite(si_mean) and 1 < si_mean <= 60):
        problems.append(
            Problem(f"the mean serial interval must be over 1 and at most 60 days, not {si_mean}", field="si_mean")
        )
    if not (np.isfinite(si_sd) and 0 < si_sd <= 60):
        problems.append(
            Problem(f"the sd of the serial interval must be over 0 and at most 60 days, not {si_sd}", field="si_sd")
        )
    if view not in VIEWS:
        problems.append(Problem(f"view must be one of {', '.join(VIEWS)}, not '{view}'", field="view"))
    if problems:
        raise AccordError("invalid Rt parameters", problems, status=400)
    try:
        return serial_interval.discretise_gamma(si_mean, si_sd)
    except ValueError as exc:
        raise AccordError("invalid serial interval", [Problem(str(exc), field="si_sd")], status=400) from None


def units_under(session: Session, root_code: str, level: str | None) -> tuple[Jurisdiction, list[Jurisdiction]]:
    """The root and its units: its children, or every jurisdiction at ``level`` under it (code order)."""
    root = places.get(session, root_code)
    if level is None:
        return root, places.children(session, root.id)
    members = [j for j, _ in places.subtree(session, root.id, level=level)]
    if not members:
        raise NotFound(f"there is no jurisdiction at level '{level}' under {root.code}")
    return root, sorted(members, key=lambda j: j.code)


def regional_rt(
    session: Session,
    root_code: str,
    *,
    level: str | None = None,
    window: int = WINDOW,
    si_mean: float = SI_MEAN,
    si_sd: float = SI_SD,
    view: str = "public",
    start: date | None = None,
    end: date | None = None,
    include_root: bool = False,
    prior_mean: float = rt.PRIOR_MEAN,
    prior_sd: float = rt.PRIOR_SD,
    min_cases: float = rt.MIN_CASES,
) -> RegionalRt:
    """Rt (Cori et al.) of every child of ``root_code`` (or every unit at ``level`` under it) in one vectorised
    call; ``include_root`` adds the root itself as the first row. ``view='public'`` reads approved figures only."""
    si = check_parameters(window, si_mean, si_sd, view)
    root, units = units_under(session, root_code, level)
    if include_root and all(u.id != root.id for u in units):
        units = [root, *units]
    by_code = {u.code: i for i, u in enumerate(units)}
    frame = _case_figures(session, root, level, units, start, end, view)
    frame = frame[frame["jurisdiction"].isin(by_code)]
    notes: list[str] = []
    dates = _axis(frame)
    if len(dates) <= window:
        have = f"{len(dates)} day{'s' if len(dates) != 1 else ''}"
        raise AccordError(
            "not enough data for Rt",
            [Problem(f"a {window}-day window needs more than {window} days of new_confirmed; {root.code} has {have}")],
            status=422,
            kind="not-enough-data",
        )
    shape = (len(units), len(dates))
    mats = {part: np.full(shape, np.nan) for part in ("", "local", "imported")}
    rows = frame["jurisdiction"].map(by_code).to_numpy(dtype=np.int64)
    cols = ((frame["date"] - dates[0]) // pd.Timedelta(days=1)).to_numpy(dtype=np.int64)
    for part, mat in mats.items():
        pick = (frame["disaggregation"] == part).to_numpy()
        mat[rows[pick], cols[pick]] = frame["value"].to_numpy(dtype=np.float64)[pick]
    local, imported, unknown, reported, has_parts = split_origin(mats[""], mats["local"], mats["imported"])
    est = rt.estimate_rt(
        local,
        si,
        imported=imported,
        window=window,
        prior_mean=prior_mean,
        prior_sd=prior_sd,
        min_cases=min_cases,
    )
    valid, missing = coverage(reported, window, si.size)
    origin = {}
    for i, u in enumerate(units):
        days = reported[i]
        if not days.any():
            continue
        parts_days = has_parts[i][days]
        origin[u.code] = ORIGIN_PARTS if parts_days.all() else ORIGIN_TOTAL if not parts_days.any() else ORIGIN_MIXED
    totals_only = [c for c, o in origin.items() if o != ORIGIN_PARTS]
    if totals_only:
        shown = ", ".join(totals_only[:10]) + (" ..." if len(totals_only) > 10 else "")
        notes.append(
            f"{len(totals_only)} unit(s) reported only totals on some or all days; those cases count as local "
            f"(which overstates Rt where some were imported): {shown}"
        )
    if np.any(unknown > 0):
        notes.append("cases of unknown origin (a total above local + imported) count as local")
    if np.any(missing[valid] > 0):
        notes.append("some estimates depend on days without a report (filled with 0): see missing_days")
    return RegionalRt(
        root=root,
        level=level,
        units=units,
        dates=dates,
        local=local,
        imported=imported,
        unknown_origin=unknown,
        reported=reported,
        valid=valid,
        missing_days=missing,
        estimate=est,
        si=si,
        si_mean=si_mean,
        si_sd=si_sd,
        view=view,
        origin=origin,
        notes=notes,
    )


def _case_figures(
    session: Session,
    root: Jurisdiction,
    level: str | None,
    units: Sequence[Jurisdiction],
    start: date | None,
    end: date | None,
    view: str,
) -> pd.DataFrame:
    if not units:
        return pd.DataFrame({"jurisdiction": [], "date": [], "disaggregation": [], "value": []})
    if level is None:
        # children (and the root): one query over the root's first two levels
        return surveillance.figures_at_level(
            session, root.code, None, ["new_confirmed"], start, end, view=view, max_distance=1
        )
    frame = surveillance.figures_at_level(session, root.code, level, ["new_confirmed"], start, end, view=view)
    if any(u.id == root.id for u in units) and root.level != level:
        own = surveillance.figures_at_level(
            session, root.code, None, ["new_confirmed"], start, end, view=view, max_distance=0
        )
        frame = pd.concat([own, frame], ignore_index=True)
    return frame


def split_origin(
    total: FloatArray, local: FloatArray, imported: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, BoolArray, BoolArray]:
    """Local and imported cases per unit and day from the reported total and parts (NaN = not reported).

    Returns (local incl. unknown origin, imported, unknown origin, reported, parts reported); every array is 0
    where nothing was reported. Pure: see the module doc for the rule.
    """
    has_parts = ~np.isnan(local) | ~np.isnan(imported)
    reported = has_parts | ~np.isnan(total)
    loc = np.nan_to_num(local, nan=0.0)
    imp = np.nan_to_num(imported, nan=0.0)
    tot = np.where(np.isnan(total), loc + imp, total)
    unknown = np.clip(tot - loc - imp, 0.0, None)
    return loc + unknown, imp, unknown, reported, has_parts


def coverage(reported: BoolArray, window: int, si_length: int) -> tuple[BoolArray, FloatArray]:
    """Where an estimate is shown, and how many unreported days each depends on (see the module doc). Pure."""
    n_days = reported.shape[-1]
    day = np.arange(n_days)
    any_: BoolArray = np.asarray(reported.any(axis=-1), dtype=np.bool_)
    first = np.where(any_, np.argmax(reported, axis=-1), n_days)
    last = np.where(any_, n_days - 1 - np.argmax(reported[..., ::-1], axis=-1), -1)
    valid = (day >= first[:, None] + window) & (day <= last[:, None])
    inside = (day >= first[:, None]) & (day <= last[:, None])
    gap = (inside & ~reported).astype(np.float64)
    # days t - window - si_length + 2 .. t: the window, and the serial interval's reach before it
    reach = window + max(si_length - 1, 0)
    missing = _trailing_sum(gap, reach)
    return np.asarray(valid & any_[:, None], dtype=np.bool_), missing


def _axis(frame: pd.DataFrame) -> pd.DatetimeIndex:
    """Every day from the first to the last date of a long frame of figures."""
    if frame.empty:
        return pd.DatetimeIndex([])
    return pd.date_range(frame["date"].min(), frame["date"].max(), freq="D")


def _trailing_sum(values: FloatArray, span: int) -> FloatArray:
    csum = np.cumsum(values, axis=-1)
    out = csum.copy()
    out[..., span:] = csum[..., span:] - csum[..., :-span]
    return out


def _window_sum(values: FloatArray, window: int) -> FloatArray:
    return _trailing_sum(values, window)


def withheld_cells(result: RegionalRt, policy: SuppressionPolicy) -> BoolArray:
    """Estimates a page withholds under small-count suppression (``docs/disclosure.md``, rule 3 applied to Rt):
    at units of depth ``from_depth`` or deeper, an estimate is withheld where any daily count it depends on (its
    window and the serial interval's reach before it; local, imported or total) is a small count of 1 to
    ``below - 1``. The ``/api/v1`` open-data API is not suppressed, as for the spine's figures."""
    shape = result.local.shape
    if not policy.enabled:
        return np.zeros(shape, dtype=np.bool_)
    deep = np.array([u.depth >= policy.from_depth for u in result.units], dtype=bool)
    total = result.local + result.imported
    small = np.zeros(shape, dtype=bool)
    for counts in (result.local - result.unknown_origin, result.imported, total):
        small |= (counts >= 1) & (counts < policy.below)
    reach = result.window + max(result.si.size - 1, 0)
    touched = _trailing_sum(small.astype(np.float64), reach) > 0
    return np.asarray(touched & deep[:, None], dtype=np.bool_)


# ------------------------------------------------------------------------------------------- hospital
CAPACITY_COLUMNS = ("beds", "icu_beds")
TREND_DAYS = 14
HORIZON = 28

HOSPITAL_COLUMNS = [
    "jurisdiction",
    "jurisdiction_name",
    "level",
    "date",
    "hospitalised",
    "beds",
    "beds_occupancy",
    "hospitalised_growth",
    "days_to_beds_capacity",
    "icu_occupied",
    "icu_beds",
    "icu_occupancy",
    "icu_growth",
    "days_to_icu_capacity",
]


def read_capacity(source: str | Path | bytes, name: str = "capacity.csv") -> pd.DataFrame:
    """Capacity per jurisdiction from CSV: ``jurisdiction`` and one or both of ``beds`` and ``icu_beds``
    (whole numbers >= 0; an empty cell is unknown). Errors name the line."""
    if isinstance(source, Path):
        if not source.is_file():
            raise AccordError("no capacity file", [Problem("no such file", file=str(source))])
        name, data = source.name, source.read_bytes()
    else:
        data = source.encode() if isinstance(source, str) else source
    too_big = shape_problem(data.decode("utf-8", "replace"), name)
    if too_big:
        raise AccordError("unreadable capacity file", [too_big])
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError):
        raise AccordError(
            "unreadable capacity file", [Problem("not a UTF-8 CSV file with a header", file=name)]
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    given = [c for c in CAPACITY_COLUMNS if c in frame.columns]
    if "jurisdiction" not in frame.columns or not given:
        raise AccordError(
            "invalid capacity file",
            [Problem("needs a 'jurisdiction' column and at least one of 'beds', 'icu_beds'", file=name, line=1)],
        )
    problems = []
    out = pd.DataFrame({"jurisdiction": frame["jurisdiction"].str.strip()})
    for c in CAPACITY_COLUMNS:
        if c not in frame.columns:
            out[c] = np.nan
            continue
        text = frame[c].str.strip()
        values = pd.to_numeric(text.where(text != "", None), errors="coerce").astype(float)
        bad = (text != "") & ~(np.isfinite(values) & (values >= 0) & (values == np.round(values)))
        for i in np.flatnonzero(bad.to_numpy())[:5]:
            problems.append(
                Problem(f"'{text.iat[i]}' is not a whole number of beds >= 0", file=name, line=int(i) + 2, field=c)
            )
        out[c] = values.where(~bad)
    dup = out["jurisdiction"].duplicated()
    for i in np.flatnonzero(dup.to_numpy())[:5]:
        problems.append(
            Problem(f"'{out['jurisdiction'].iat[i]}' appears twice", file=name, line=int(i) + 2, field="jurisdiction")
        )
    if problems:
        raise AccordError("invalid capacity file", problems)
    return out


@dataclass(frozen=True)
class HospitalDemand:
    root: Jurisdiction
    units: list[Jurisdiction]
    dates: pd.DatetimeIndex
    #: reported census (units x days; NaN where not reported)
    hospitalised: FloatArray
    icu_occupied: FloatArray
    table: pd.DataFrame
    notes: list[str]


def hospital_demand(
    session: Session,
    root_code: str,
    *,
    level: str | None = None,
    capacity: pd.DataFrame | None = None,
    view: str = "public",
    end: date | None = None,
    trend_days: int = TREND_DAYS,
    horizon: int = HORIZON,
) -> HospitalDemand:
    """Latest reported census of every unit against capacity, with a trend projection to days-to-capacity."""
    if view not in VIEWS:
        raise AccordError(
            "invalid view", [Problem(f"view must be one of {', '.join(VIEWS)}", field="view")], status=400
        )
    root, units = units_under(session, root_code, level)
    indicators = ["hospitalised", "icu_occupied"]
    if level is None:
        frame = surveillance.figures_at_level(session, root.code, None, indicators, None, end, view, max_distance=1)
    else:
        frame = surveillance.figures_at_level(session, root.code, level, indicators, None, end, view)
    by_code = {u.code: i for i, u in enumerate(units)}
    frame = frame[frame["jurisdiction"].isin(by_code) & (frame["disaggregation"] == "")]
    dates = _axis(frame)
    mats = {k: np.full((len(units), len(dates)), np.nan) for k in indicators}
    for k, mat in mats.items():
        part = frame[frame["indicator"] == k]
        rows = part["jurisdiction"].map(by_code).to_numpy(dtype=np.int64)
        cols = ((part["date"] - dates[0]) // pd.Timedelta(days=1)).to_numpy(dtype=np.int64) if len(part) else rows
        mat[rows, cols] = part["value"].to_numpy(dtype=np.float64)
    cap = pd.DataFrame({"jurisdiction": [u.code for u in units]})
    notes = ["census: reported point-in-time figures (the model's census is not built yet)"]
    if capacity is None:
        cap["beds"], cap["icu_beds"] = np.nan, np.nan
        notes.append("no capacity given: the store holds no capacity indicator yet")
    else:
        cap = cap.merge(capacity, on="jurisdiction", how="left")
    table = pd.DataFrame(
        {
            "jurisdiction": [u.code for u in units],
            "jurisdiction_name": [u.name for u in units],
            "level": [u.level for u in units],
        }
    )
    newest = np.full(len(units), -1, dtype=np.int64)
    for k, cap_col, prefix in (("hospitalised", "beds", "beds"), ("icu_occupied", "icu_beds", "icu")):
        last_idx, last_val = latest_values(mats[k])
        newest = np.maximum(newest, last_idx)
        growth = log_linear_growth(mats[k], trend_days)
        cap_arr = cap[cap_col].to_numpy(dtype=np.float64)
        projected = project(last_val, growth, horizon)
        days = hospital.days_to_capacity(np.nan_to_num(projected, nan=-1.0), np.nan_to_num(cap_arr, nan=np.inf))
        known = ~np.isnan(cap_arr) & ~np.isnan(last_val)
        table[k] = last_val
        table[cap_col] = cap_arr
        with np.errstate(divide="ignore", invalid="ignore"):
            table[f"{prefix}_occupancy"] = np.where(known & (cap_arr > 0), last_val / cap_arr, np.nan)
        table[f"{'hospitalised' if prefix == 'beds' else 'icu'}_growth"] = growth
        table[f"days_to_{prefix}_capacity"] = pd.array(
            [int(d) if ok and d >= 0 else None for d, ok in zip(days, known, strict=True)], dtype="Int64"
        )
    table["date"] = [dates[int(i)] if i >= 0 else pd.NaT for i in newest]
    notes.append(
        f"days to capacity: 0 = over capacity now; otherwise the first day a log-linear trend of the last "
        f"{trend_days} reported days exceeds it, within {horizon} days (empty: not within the horizon or unknown)"
    )
    return HospitalDemand(
        root=root,
        units=units,
        dates=dates,
        hospitalised=mats["hospitalised"],
        icu_occupied=mats["icu_occupied"],
        table=table[HOSPITAL_COLUMNS],
        notes=notes,
    )


def latest_values(mat: FloatArray) -> tuple[NDArray[np.int64], FloatArray]:
    """Per row, the index of the last non-NaN value (-1 if none) and that value (NaN if none). Pure."""
    n = mat.shape[-1]
    if n == 0:
        return np.full(mat.shape[0], -1, dtype=np.int64), np.full(mat.shape[0], np.nan)
    have = ~np.isnan(mat)
    idx = np.where(have.any(axis=-1), n - 1 - np.argmax(have[..., ::-1], axis=-1), -1)
    val = np.where(idx >= 0, mat[np.arange(mat.shape[0]), np.maximum(idx, 0)], np.nan)
    return idx.astype(np.int64), np.asarray(val, dtype=np.float64)


def log_linear_growth(mat: FloatArray, trend_days: int) -> FloatArray:
    """Per row, the least-squares slope of ``log(census + 1)`` per day over the last ``trend_days`` days of the
    axis (reported days only); NaN with fewer than 3 reported days. Pure, vectorised."""
    tail = mat[..., -trend_days:]
    t = np.arange(tail.shape[-1], dtype=np.float64)
    have = ~np.isnan(tail)
    y = np.log1p(np.where(have, np.clip(tail, 0.0, None), 0.0))
    n = have.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        tm = np.where(have, t, 0.0).sum(axis=-1) / n
        ym = np.where(have, y, 0.0).sum(axis=-1) / n
        dt = np.where(have, t - tm[..., None], 0.0)
        slope = (dt * (y - ym[..., None])).sum(axis=-1) / (dt**2).sum(axis=-1)
    return np.asarray(np.where(n >= 3, slope, np.nan), dtype=np.float64)


def project(last: FloatArray, growth: FloatArray, horizon: int) -> FloatArray:
    """Census on days 0..horizon from the latest value along the log-linear trend (flat where no trend). Pure."""
    k = np.arange(horizon + 1, dtype=np.float64)
    g = np.nan_to_num(growth, nan=0.0)
    return np.asarray((last[:, None] + 1.0) * np.exp(g[:, None] * k) - 1.0, dtype=np.float64)


# ------------------------------------------------------------------------------------------- nowcast
@dataclass(frozen=True)
class RegionalNowcast:
    """Nowcast of the last days of every unit (rows) from the revision history: ``known`` is the reporting
    triangle (units x days x delays, see :mod:`accord.epi.nowcast`), ``result`` its nowcast."""

    root: Jurisdiction
    units: list[Jurisdiction]
    dates: pd.DatetimeIndex
    as_of: datetime
    indicator: str
    known: FloatArray
    result: nowcast.Nowcast

    def frame(self, last: int | None = None) -> pd.DataFrame:
        """One row per unit and day (the last ``last`` days, default all): the provisional value, its delay in
        days, the nowcast and its credible bounds."""
        n = len(self.dates) if last is None else min(last, len(self.dates))
        cols = np.arange(len(self.dates) - n, len(self.dates))
        r = self.result
        rows = np.repeat(np.arange(len(self.units)), n)
        cc = np.tile(cols, len(self.units))
        return pd.DataFrame(
            {
                "jurisdiction": [self.units[i].code for i in rows],
                "date": self.dates[cc],
                "provisional": r.observed[rows, cc],
                "delay": r.delay[rows, cc],
                "completeness": np.where(
                    r.delay[rows, cc] >= 0, r.completeness[np.maximum(r.delay[rows, cc], 0)], np.nan
                ),
                "nowcast": r.mean[rows, cc],
                "lower": r.lower[rows, cc],
                "upper": r.upper[rows, cc],
            }
        )

    def meta(self) -> dict[str, Any]:
        return {
            "jurisdiction": self.root.code,
            "indicator": self.indicator,
            "as_of": self.as_of.isoformat(),
            "completeness_by_delay": [round(float(c), 6) for c in self.result.completeness],
            "dispersion": self.result.dispersion,
            "credible_level": self.result.level,
            "method": "chain ladder on the revision history, over-dispersed Poisson predictive (docs/epi.md)",
        }


def reporting_triangle(
    session: Session,
    root_code: str,
    *,
    level: str | None = None,
    indicator: str = "new_confirmed",
    as_of: datetime | None = None,
    days: int = 60,
    max_delay: int = nowcast.MAX_DELAY,
) -> tuple[Jurisdiction, list[Jurisdiction], pd.DatetimeIndex, FloatArray, datetime]:
    """The reporting triangle of the root and its units (children, or every unit at ``level``) over the ``days``
    days before the as-of day (midnight UTC of ``as_of``, default now): every revision of every jurisdiction in
    the subtree, its delay (recording day minus reference day, UTC), rolled up the tree delay by delay, exactly as
    the figures were known at the end of each day. Reads all revisions (provisional ones too)."""
    if not 1 <= days <= 1000 or not 1 <= max_delay <= 120:
        raise AccordError(
            "invalid nowcast parameters",
            [Problem("days must be 1 to 1000 and max_delay 1 to 120", field="days")],
            status=400,
        )
    root, units = units_under(session, root_code, level)
    if all(u.id != root.id for u in units):
        units = [root, *units]
    cut = (as_of or utcnow()).astimezone(UTC)
    cut = datetime(cut.year, cut.month, cut.day, tzinfo=UTC)
    start = cut.date() - timedelta(days=days)
    dates = pd.date_range(start, periods=days, freq="D")
    _, iid = surveillance._indicator(session, indicator)
    name = store.dialect(session)
    obs = store.read_frame(
        session,
        "SELECT o.jurisdiction_id, o.date, o.revision, o.value, o.recorded_at FROM observation o "
        "JOIN jurisdiction_closure c ON c.descendant_id = o.jurisdiction_id AND c.ancestor_id = :root "
        "WHERE o.indicator_id = :i AND o.disaggregation = '' AND o.recorded_at < :ts AND o.date >= :start "
        "ORDER BY o.jurisdiction_id, o.date, o.revision",
        {"root": root.id, "i": iid, "ts": db_timestamp(cut, name), "start": store.date_param(start, name)},
    )
    members = [(j.id, j.parent_id) for j, _ in places.subtree(session, root.id)]
    pos = {jid: i for i, (jid, _) in enumerate(members)}
    parents = np.array([pos.get(p, -1) if p is not None and jid != root.id else -1 for jid, p in members])
    if obs.empty:
        own = np.full((len(members), days, max_delay + 1), np.nan)
    else:
        ref = pd.to_datetime(obs["date"])
        recorded = pd.to_datetime(obs["recorded_at"], utc=True).dt.tz_localize(None).dt.normalize()
        own = nowcast.triangle_from_revisions(
            np.asarray(obs["jurisdiction_id"].map(pos).to_numpy(), dtype=np.int64),
            np.asarray(((ref - dates[0]) // pd.Timedelta(days=1)).to_numpy(), dtype=np.int64),
            np.asarray(((recorded - ref) // pd.Timedelta(days=1)).to_numpy(), dtype=np.int64),
            obs["value"].to_numpy(dtype=np.float64),
            (len(members), days),
            today=days - 1,
            max_delay=max_delay,
        )
    _, eff = rollup.full_rollup(parents, own)
    rows = np.array([pos[u.id] for u in units])
    known = eff[rows]
    observable = (days - 1 - np.arange(days))[:, None] >= np.arange(max_delay + 1)[None, :]
    known = np.where(observable[None] & np.isnan(known), 0.0, known)  # nothing known yet counts 0
    return root, units, dates, known, cut


def regional_nowcast(
    session: Session,
    root_code: str,
    *,
    level: str | None = None,
    indicator: str = "new_confirmed",
    as_of: datetime | None = None,
    days: int = 60,
    max_delay: int = nowcast.MAX_DELAY,
    credible_level: float = 0.95,
) -> RegionalNowcast:
    """Nowcast of the root and its units from the store's revision history (see :func:`reporting_triangle`)."""
    root, units, dates, known, cut = reporting_triangle(
        session, root_code, level=level, indicator=indicator, as_of=as_of, days=days, max_delay=max_delay
    )
    return RegionalNowcast(root, units, dates, cut, indicator, known, nowcast.nowcast(known, level=credible_level))


# ------------------------------------------------------------------------------------------ forecast
FORECAST_HORIZON = 14
MAX_HORIZON = 60
MAX_MEMBERS = 2000
SEED_LEAD = 14
#: the last days get their own transmission factor (when there are at least twice as many days)
RECENT_DAYS = 14
QUANTILE_COLUMNS = ["q025", "q25", "q50", "q75", "q975"]


@dataclass(frozen=True)
class RegionalForecast:
    """Calibration of every unit to its daily confirmed cases and an ensemble forecast from it.

    ``dates``: the observed days; ``observed``/``fitted``: days x units; ``forecast_dates`` and ``quantiles``
    (5 x horizon x units, :data:`accord.epi.forecast.QUANTILES`) of reported cases."""

    root: Jurisdiction
    units: list[Jurisdiction]
    dates: pd.DatetimeIndex
    observed: FloatArray
    fit: calibrate.Fit
    ensemble: forecast.Ensemble
    forecast_dates: pd.DatetimeIndex
    change_date: date | None
    view: str
    notes: list[str] = field(default_factory=list)

    @property
    def quantiles(self) -> FloatArray:
        return self.ensemble.quantiles("reported")

    def frame(self) -> pd.DataFrame:
        """One row per unit and day: observed and fitted cases on the observed days, forecast quantiles after."""
        parts = []
        q = self.quantiles
        for i, u in enumerate(self.units):
            past = pd.DataFrame(
                {
                    "date": self.dates,
                    "kind": "observed",
                    "observed": self.observed[:, i],
                    "fitted": self.fit.fitted[:, i],
                }
            )
            future = pd.DataFrame({"date": self.forecast_dates, "kind": "forecast"})
            for j, col in enumerate(QUANTILE_COLUMNS):
                future[col] = q[j, :, i]
            both = pd.concat([past, future], ignore_index=True)
            both.insert(0, "jurisdiction", u.code)
            parts.append(both)
        out = pd.concat(parts, ignore_index=True)
        for col in ("observed", "fitted", *QUANTILE_COLUMNS):
            if col not in out:
                out[col] = np.nan
        return out[["jurisdiction", "date", "kind", "observed", "fitted", *QUANTILE_COLUMNS]]

    def fit_frame(self) -> pd.DataFrame:
        """The fit report: one row per unit, parameters with 95% intervals, NB size, log-likelihood, R now."""
        f = self.fit
        out = pd.DataFrame({"jurisdiction": [u.code for u in self.units], "name": [u.name for u in self.units]})
        for j, name in enumerate(calibrate.PARAMETERS):
            out[name] = f.values[:, j]
            out[f"{name}_lower"] = f.lower[:, j]
            out[f"{name}_upper"] = f.upper[:, j]
        out["r_now"] = f.r_after
        out["nb_size"] = f.size
        out["loglik"] = f.loglik
        out["cases_observed"] = np.nansum(self.observed, axis=0)
        out["cases_forecast_median"] = np.median(self.ensemble.output("reported").sum(axis=1), axis=0)
        return out

    def meta(self) -> dict[str, Any]:
        return {
            "jurisdiction": self.root.code,
            "view": self.view,
            "members": int(self.ensemble.members.shape[0]),
            "seed": self.ensemble.spec.seed,
            "horizon": len(self.forecast_dates),
            "change_date": self.change_date.isoformat() if self.change_date else None,
            "quantiles": list(forecast.QUANTILES),
            "converged": self.fit.converged,
            "method": "negative binomial maximum likelihood, chain-binomial ensemble (docs/epi.md)",
            "notes": self.notes,
        }


def daily_cases(
    session: Session, root_code: str, level: str | None, end: date | None, view: str
) -> tuple[Jurisdiction, list[Jurisdiction], pd.DatetimeIndex, FloatArray]:
    """Daily new confirmed cases (total: reported total, else local + imported) of every unit, days x units
    (NaN where a unit did not report), on the axis from the first to the last reported day."""
    root, units = units_under(session, root_code, level)
    frame = _case_figures(session, root, level, units, None, end, view)
    by_code = {u.code: i for i, u in enumerate(units)}
    frame = frame[frame["jurisdiction"].isin(by_code)]
    dates = _axis(frame)
    shape = (len(units), len(dates))
    mats = {part: np.full(shape, np.nan) for part in ("", "local", "imported")}
    if len(frame):
        rows = frame["jurisdiction"].map(by_code).to_numpy(dtype=np.int64)
        cols = ((frame["date"] - dates[0]) // pd.Timedelta(days=1)).to_numpy(dtype=np.int64)
        for part, mat in mats.items():
            pick = (frame["disaggregation"] == part).to_numpy()
            mat[rows[pick], cols[pick]] = frame["value"].to_numpy(dtype=np.float64)[pick]
    local, imported, _, reported, _ = split_origin(mats[""], mats["local"], mats["imported"])
    total = np.where(reported, local + imported, np.nan)
    return root, units, dates, np.asarray(total.T, dtype=np.float64)


def check_forecast(horizon: int, members: int) -> None:
    problems = []
    if not 1 <= horizon <= MAX_HORIZON:
        problems.append(Problem(f"the horizon must be 1 to {MAX_HORIZON} days, not {horizon}", field="horizon"))
    if not 1 <= members <= MAX_MEMBERS:
        problems.append(Problem(f"members must be 1 to {MAX_MEMBERS}, not {members}", field="members"))
    if problems:
        raise AccordError("invalid forecast parameters", problems, status=400)


def forecast_setup(
    units: list[Jurisdiction], dates: pd.DatetimeIndex, change_date: date | None
) -> tuple[calibrate.FitSetup, list[str]]:
    """One age group per unit (the store holds no contact matrices), population from the jurisdiction, seeding
    :data:`SEED_LEAD` days before the first reported day."""
    missing = [u.code for u in units if not u.population or u.population <= 0]
    if missing:
        raise AccordError(
            "no population",
            [
                Problem(f"{c} has no population; a forecast needs one for every unit", field="population")
                for c in missing[:5]
            ],
            status=422,
        )
    change_day = None
    notes = ["one age group per unit (the store holds no contact matrices); seeding 14 days before the first report"]
    if change_date is not None:
        change_day = (pd.Timestamp(change_date) - dates[0]).days + SEED_LEAD
        if not 0 < change_day < len(dates) + SEED_LEAD:
            raise AccordError(
                "invalid change date",
                [
                    Problem(
                        f"{change_date} is not inside the observed days {dates[0].date()}..{dates[-1].date()}",
                        field="change_date",
                    )
                ],
                status=400,
            )
    days = len(dates) + SEED_LEAD
    recent_day = days - RECENT_DAYS if len(dates) >= 2 * RECENT_DAYS else None
    if recent_day is not None and change_day is not None and recent_day <= change_day:
        recent_day = None
    if recent_day is not None:
        notes.append(f"transmission may change once more over the last {RECENT_DAYS} days (the R a forecast uses)")
    p = params.covid19((0,))
    setup = calibrate.FitSetup(
        params=p,
        population=np.array([[float(u.population or 0)] for u in units]),
        contacts=np.ones((1, 1, 1)),
        days=days,
        observed_from=SEED_LEAD,
        change_day=change_day,
        recent_day=recent_day,
        steps_per_day=1,
    )
    return setup, notes


def regional_forecast(
    session: Session,
    root_code: str,
    *,
    level: str | None = None,
    end: date | None = None,
    horizon: int = FORECAST_HORIZON,
    members: int = 100,
    seed: int = 1,
    change_date: date | None = None,
    view: str = "public",
    pool: Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RegionalForecast:
    """Calibrate every unit to its daily cases up to ``end`` (all units in one vectorised fit) and forecast
    ``horizon`` days with an ensemble of ``members`` seeded stochastic runs on ``pool`` (inline when None)."""
    check_forecast(horizon, members)
    if view not in VIEWS:
        raise AccordError(
            "invalid view", [Problem(f"view must be one of {', '.join(VIEWS)}", field="view")], status=400
        )
    root, units, dates, observed = daily_cases(session, root_code, level, end, view)
    if len(dates) < 14:
        raise AccordError(
            "not enough data for a forecast",
            [Problem(f"a forecast needs at least 14 days of new_confirmed; {root.code} has {len(dates)}")],
            status=422,
            kind="not-enough-data",
        )
    setup, notes = forecast_setup(units, dates, change_date)
    fit = _calibrated(setup, observed)
    if not fit.converged:
        notes.append(f"the fit did not converge: {fit.message}")
    spec = forecast.spec_from_fit(fit, horizon, seed)
    ens = forecast.run_ensemble(spec, members, pool=pool, progress=progress)
    future = pd.date_range(dates[-1] + pd.Timedelta(days=1), periods=horizon, freq="D")
    return RegionalForecast(root, units, dates, observed, fit, ens, future, change_date, view, notes)


#: calibrations by content (observed series, populations, dates, change day): pages, API calls and scenarios on
#: the same data share one fit
_FITS: dict[str, calibrate.Fit] = {}
_FITS_KEPT = 32


def _calibrated(setup: calibrate.FitSetup, observed: FloatArray) -> calibrate.Fit:
    digest = hashlib.sha256()
    for part in (
        observed,
        np.asarray(setup.population),
        np.array([setup.days, setup.observed_from, setup.change_day or -1]),
    ):
        digest.update(np.ascontiguousarray(part, dtype=np.float64).tobytes())
    key = digest.hexdigest()
    hit = _FITS.get(key)
    if hit is None:
        hit = calibrate.fit(setup, observed)
        if len(_FITS) >= _FITS_KEPT:
            _FITS.pop(next(iter(_FITS)))
        _FITS[key] = hit
    return hit


def scenario_forecast(
    result: RegionalForecast,
    scenario: forecast.Scenario,
    *,
    pool: Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RegionalForecast:
    """The forecast of ``result`` under ``scenario``: same fit, same member seeds (common random numbers)."""
    members = int(result.ensemble.members.shape[0])
    alt = forecast.run_ensemble(scenario.apply(result.ensemble.spec), members, pool=pool, progress=progress)
    return RegionalForecast(
        result.root, result.units, result.dates, result.observed, result.fit, alt, result.forecast_dates,
        result.change_date, result.view, [*result.notes, f"scenario: {scenario.name}"],
    )  # fmt: skip


def scenario_comparison(baseline: RegionalForecast, alternative: RegionalForecast, name: str) -> pd.DataFrame:
    """Scenario vs baseline member by member: one row per unit with the quantiles of total reported cases over the
    horizon under the baseline, the scenario, and their difference."""
    cmp = forecast.Comparison(baseline.ensemble, alternative.ensemble, "reported")
    q = cmp.quantiles()
    out = pd.DataFrame({"jurisdiction": [u.code for u in baseline.units], "name": [u.name for u in baseline.units]})
    for kind in ("baseline", "scenario", "difference"):
        for j, col in enumerate(QUANTILE_COLUMNS):
            out[f"{kind}_{col}"] = q[kind][j]
    out["scenario"] = name
    return out


# ------------------------------------------------------------------------------------ scored weekly forecasts
@dataclass(frozen=True)
class WeeklyForecast:
    """The renewal model's weekly forecasts of every unit (1..4 weeks after the last published day) and the skill
    it measured on the units' own history: forecasts made every 7 days back from the last day, each scored against
    the Hub baseline once its outcome was published (:mod:`accord.epi.scoring`)."""

    root: Jurisdiction
    units: list[Jurisdiction]
    last_day: pd.Timestamp
    quantiles: FloatArray  # horizons x units x 23 (recalibrated)
    supported: BoolArray
    why: list[str]
    last_week: FloatArray
    backtest: skill.Backtest
    origins: int

    def frame(self) -> pd.DataFrame:
        """One row per unit and horizon: the median and the 50% and 95% intervals, or why there is none."""
        rows = []
        pick = {
            name: scoring.HUB_QUANTILES.index(level)
            for name, level in zip(QUANTILE_COLUMNS, forecast.QUANTILES, strict=True)
        }
        for i, u in enumerate(self.units):
            ok = bool(self.supported[i])
            for h in range(self.quantiles.shape[0]):
                rows.append(
                    {
                        "jurisdiction": u.code,
                        "horizon": h + 1,
                        "target_end_date": self.last_day + pd.Timedelta(days=7 * (h + 1)),
                        "last_week": self.last_week[i],
                        **{name: float(self.quantiles[h, i, j]) if ok else None for name, j in pick.items()},
                        "no_forecast": "" if ok else self.why[i],
                    }
                )
        return pd.DataFrame(rows)

    def skill(self) -> pd.DataFrame:
        return skill.score_table(self.backtest)

    def measured(self) -> bool:
        return bool((self.skill()["forecasts"] > 0).any())


def weekly_forecast(
    session: Session,
    root_code: str,
    *,
    level: str | None = None,
    end: date | None = None,
    view: str = "public",
    members: int = 200,
    seed: int = 1,
) -> WeeklyForecast:
    """Weekly forecasts of every unit's confirmed cases by the renewal model (:mod:`accord.epi.renewal`), 1..4
    weeks after the last day, with the skill measured on the units' own history. Days a unit did not report count
    as 0."""
    root, units, dates, observed = daily_cases(session, root_code, level, end, view)
    y = np.nan_to_num(np.clip(observed, 0.0, None))
    window = 7
    last = len(dates) - 1
    origins = sorted(o for o in range(last, window, -7))
    if not origins:
        raise AccordError(
            "not enough data for a weekly forecast",
            [
                Problem(
                    f"a weekly forecast needs more than {window + 1} days of new_confirmed; "
                    f"{root.code} has {len(dates)}"
                )
            ],
            status=422,
            kind="not-enough-data",
        )
    si = serial_interval.discretise_gamma(*skill.FORECAST_SI)
    result = renewal.rolling(y, origins, si, horizons=skill.HORIZONS, window=window, members=members, seed=seed)
    backtest = skill.backtest_of(
        root.code, [dates[o] for o in origins], [u.code for u in units], [u.code for u in units], result
    )
    final = result.fits[-1]
    return WeeklyForecast(
        root, units, dates[last], result.quantiles[-1], final.supported, final.why, result.last_week[-1], backtest,
        len(origins),
    )  # fmt: skip

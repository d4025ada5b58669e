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

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sqlalchemy.orm import Session

from accord.disclosure.suppression import SuppressionPolicy
from accord.epi import hospital, rt, serial_interval
from accord.errors import AccordError, NotFound, Problem
from accord.places import service as places
from accord.places.model import Jurisdiction
from accord.surveillance import service as surveillance

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

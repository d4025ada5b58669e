"""Use cases of public disclosure: what the overview, provenance, bulletin, errata and scorecard show.

Read-only and public: every figure here is a published one (approved reporting days, rolled up), read
from the ``figure`` table's ``*_pub`` columns; provisional values never leave this module.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from accord.disclosure import bulletin, scorecard
from accord.disclosure import suppression as sup
from accord.disclosure.suppression import OFF, SuppressionPolicy
from accord.errors import NotFound
from accord.places import service as places
from accord.places.model import Jurisdiction
from accord.surveillance import indicators as ind
from accord.surveillance import service as surveillance
from accord.surveillance import store

#: counts summed over windows for cards and tables; point-in-time indicators are read on the day itself
WINDOW_INDICATORS = ("new_confirmed", "new_deaths", "new_recovered", "new_tests", "hospitalised", "icu_occupied")


class PageNotFound(Exception):
    """An unknown jurisdiction, date or indicator in a public URL (a helpful 404 page, never a traceback)."""

    def __init__(self, message: str, suggestion: str | None = None, link: str | None = None) -> None:
        super().__init__(message)
        self.suggestion = suggestion
        self.link = link


def node_or_404(session: Session, code: str) -> Jurisdiction:
    try:
        return places.get(session, code)
    except NotFound:
        raise PageNotFound(f"There is no jurisdiction with code '{code}'.") from None


def path_of(session: Session, jid: int) -> list[Jurisdiction]:
    return places.ancestors(session, jid)


def public_range(session: Session, jid: int) -> tuple[date, date] | None:
    """First and last day with a published figure for the jurisdiction."""
    frame = store.read_frame(
        session,
        "SELECT MIN(date) AS d0, MAX(date) AS d1 FROM figure WHERE jurisdiction_id = :j "
        "AND (own_pub IS NOT NULL OR child_pub IS NOT NULL)",
        {"j": jid},
    )
    if frame.empty or frame["d0"].isna().all():
        return None
    return pd.Timestamp(str(frame["d0"].iat[0])).date(), pd.Timestamp(str(frame["d1"].iat[0])).date()


def resolve_day(session: Session, node: Jurisdiction, text: str | None) -> tuple[date | None, tuple[date, date] | None]:
    """The day a page shows: the one in the URL (checked against published data) or the latest."""
    span = public_range(session, node.id)
    if not text:
        return (span[1] if span else None), span
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise PageNotFound(f"'{text}' is not a date; use YYYY-MM-DD.", link=f"/public/{node.code}") from None
    if span is None or not span[0] <= day <= span[1]:
        have = f"published figures run from {span[0]} to {span[1]}" if span else "nothing is published yet"
        raise PageNotFound(f"{node.name} has no published figures for {day}; {have}.", link=f"/public/{node.code}")
    return day, span


# ----------------------------------------------------------------------------------------------- windows
def window_sums(session: Session, jids: list[int], day: date) -> pd.DataFrame:
    """Per jurisdiction, indicator and part: the value on ``day``, sums of the last 7 days, the 7 before,
    and everything up to ``day`` (the cumulative). One grouped query over published figures."""
    ids = surveillance.indicator_ids(session)
    iids = [ids[c] for c in WINDOW_INDICATORS if c in ids]
    name = store.dialect(session)
    p = {
        "d": store.date_param(day, name),
        "d7": store.date_param(day - timedelta(days=7), name),
        "d14": store.date_param(day - timedelta(days=14), name),
    }
    parts = [
        store.read_frame(
            session,
            "SELECT jurisdiction_id, indicator_id, disaggregation, SUM(v) AS cum, "
            "SUM(CASE WHEN date = :d THEN v END) AS day, SUM(CASE WHEN date > :d7 THEN v END) AS last7, "
            "SUM(CASE WHEN date > :d14 AND date <= :d7 THEN v END) AS prev7 FROM (SELECT jurisdiction_id, "
            "indicator_id, disaggregation, date, COALESCE(own_pub, child_pub) AS v FROM figure WHERE "
            f"jurisdiction_id IN ({','.join(map(str, chunk))}) AND indicator_id IN ({','.join(map(str, iids))}) "
            "AND date <= :d) t GROUP BY jurisdiction_id, indicator_id, disaggregation",
            p,
        )
        for chunk in store.in_chunks(jids)
    ]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if out.empty:
        return pd.DataFrame(columns=["jurisdiction_id", "indicator", "disaggregation", "cum", "day", "last7", "prev7"])
    code_of = {v: k for k, v in ids.items()}
    out["indicator"] = out["indicator_id"].map(code_of)
    out["disaggregation"] = out["disaggregation"].astype(str)
    for c in ("cum", "day", "last7", "prev7"):
        out[c] = pd.to_numeric(out[c]).astype(float)
    return out.drop(columns="indicator_id")


#: a published figure: a number, None where nothing is published, or a mark ("<5", "x") where withheld
Fig = float | str | None

#: indicators whose small counts are withheld when suppression is on (tests are not counts of patients)
SUPPRESSED = ("new_confirmed", "new_deaths", "new_recovered", "new_suspected", "hospitalised", "icu_occupied")
#: mark of a sum over days (cumulative, 7-day) that covers a withheld day
HIDDEN = "x"


class Plan:
    """Which published cells are withheld under a suppression policy: every jurisdiction x day of the
    suppressed indicators, planned at once over the whole tree (a complement may travel anywhere)."""

    def __init__(
        self, policy: SuppressionPolicy, start: date, rows: dict[int, int], status: dict[str, np.ndarray]
    ) -> None:
        self.policy = policy
        self.start = start
        self.rows = rows
        self.status = status
        self.runs = {k: sup.hidden_runs(v).astype(np.int32) for k, v in status.items()}
        self.days = next(iter(status.values())).shape[1] if status else 0

    def _col(self, day: date) -> int:
        return (day - self.start).days

    def cell(self, jid: int, indicator: str, day: date) -> int:
        st = self.status.get(indicator)
        row, col = self.rows.get(jid), self._col(day)
        if st is None or row is None or not 0 <= col < self.days:
            return sup.SHOWN
        return int(st[row, col])

    def covered(self, jid: int, indicator: str, first: date | None, last: date) -> bool:
        """Whether any day from ``first`` (None: the beginning) to ``last`` is withheld for the jurisdiction."""
        runs, row = self.runs.get(indicator), self.rows.get(jid)
        if runs is None or row is None or self.days == 0:
            return False
        hi = min(self._col(last), self.days - 1)
        lo = 0 if first is None else max(self._col(first), 0)
        if hi < 0 or hi < lo:
            return False
        return bool(runs[row, hi] - (runs[row, lo - 1] if lo > 0 else 0) > 0)

    def mark(self, status: int) -> str:
        return self.policy.mark(status)


def data_version(session: Session) -> tuple[Any, ...]:
    """Changes whenever published figures or the tree may have: a submission, an approval, a new place.
    Four index look-ups; what the caches below are keyed on (with a time limit for anything it misses,
    e.g. a place moved to another parent)."""
    row = session.execute(
        text(
            "SELECT (SELECT MAX(id) FROM submission), (SELECT MAX(approved_at) FROM report_day), "
            "(SELECT COUNT(*) FROM jurisdiction), (SELECT MAX(id) FROM jurisdiction)"
        )
    ).one()
    return (str(session.get_bind().engine.url), *row)


class _Cache:
    """A few recent results per key, valid while the data version is the same and for ``ttl`` seconds."""

    def __init__(self, size: int, ttl: float) -> None:
        self.size, self.ttl = size, ttl
        self.items: dict[Any, tuple[tuple[Any, ...], float, Any]] = {}
        self.lock = threading.Lock()

    def get(self, key: Any, version: tuple[Any, ...]) -> Any:
        with self.lock:
            hit = self.items.get(key)
            if hit is None or hit[0] != version or time.monotonic() - hit[1] > self.ttl:
                return None
            return hit[2]

    def put(self, key: Any, version: tuple[Any, ...], value: Any) -> None:
        with self.lock:
            if len(self.items) >= self.size:
                self.items.pop(next(iter(self.items)))
            self.items[key] = (version, time.monotonic(), value)


_plans = _Cache(size=4, ttl=600.0)
_overviews = _Cache(size=256, ttl=60.0)


def plan_for(session: Session, policy: SuppressionPolicy, version: tuple[Any, ...] | None = None) -> Plan | None:
    """The suppression plan of the published store (None when suppression is off), cached until anything
    is submitted or approved."""
    if not policy.enabled:
        return None
    version = version or data_version(session)
    hit = _plans.get(policy, version)
    if isinstance(hit, Plan):
        return hit
    built = build_plan(session, policy)
    _plans.put(policy, version, built)
    return built


def build_plan(session: Session, policy: SuppressionPolicy) -> Plan:
    tree = store.read_frame(session, "SELECT id, parent_id, depth FROM jurisdiction ORDER BY code")
    rows = {int(j): i for i, j in enumerate(tree["id"])}
    parent = np.array([rows.get(int(p), -1) if pd.notna(p) else -1 for p in tree["parent_id"]], dtype=np.int64)
    depth = tree["depth"].to_numpy(dtype=np.int64)
    ids = surveillance.indicator_ids(session)
    iids = {ids[c]: c for c in SUPPRESSED if c in ids}
    data = store.read_frame(
        session,
        "SELECT jurisdiction_id, indicator_id, date, disaggregation, COALESCE(own_pub, child_pub) AS v FROM figure "
        f"WHERE indicator_id IN ({','.join(map(str, iids) or ['-1'])}) "
        "AND (own_pub IS NOT NULL OR child_pub IS NOT NULL)",
    )
    if data.empty:
        return Plan(policy, date.today(), rows, {})
    data["date"] = pd.to_datetime(data["date"])
    start = data["date"].min().date()
    days = (data["date"].max().date() - start).days + 1
    data["row"] = data["jurisdiction_id"].astype(np.int64).map(rows)
    data["col"] = (data["date"] - pd.Timestamp(start)).dt.days
    data["v"] = pd.to_numeric(data["v"]).astype(float)
    status: dict[str, np.ndarray] = {}
    for iid, code in iids.items():
        one = data[data["indicator_id"] == iid]
        if one.empty:
            continue
        totals = np.full((len(rows), days), np.nan)
        sensitive = np.zeros((len(rows), days), dtype=bool)
        for part, grp in one.groupby(one["disaggregation"].astype(str)):
            r, c, v = grp["row"].to_numpy(), grp["col"].to_numpy(), grp["v"].to_numpy()
            if part == "":
                totals[r, c] = v
            else:  # a small part withholds its whole jurisdiction-day (total and every part)
                sensitive[r, c] |= (v >= 1) & (v < policy.below)
        status[code] = sup.plan(parent, depth, totals, policy, sensitive)
    return Plan(policy, start, rows, status)


class Windows:
    """Window sums indexed by (jurisdiction id, indicator, part): pages look up dozens of numbers, and a
    dict lookup is what keeps the overview well inside its latency budget (pandas masks per lookup are not).

    With a suppression :class:`Plan`, a withheld figure reads as its mark, and a sum over days that covers
    a withheld day as ``x``."""

    def __init__(self, frame: pd.DataFrame, plan: Plan | None = None, day: date | None = None) -> None:
        cols = ("cum", "day", "last7", "prev7")
        self.plan = plan if day is not None else None
        self.day = day
        self.values: dict[tuple[int, str, str], dict[str, float | None]] = {
            (int(r[0]), str(r[1]), str(r[2])): {
                c: (None if pd.isna(v) else float(v)) for c, v in zip(cols, r[3:], strict=True)
            }
            for r in frame[["jurisdiction_id", "indicator", "disaggregation", *cols]].itertuples(index=False)
        }

    def raw(self, jid: int, indicator: str, column: str, part: str = "") -> float | None:
        row = self.values.get((jid, indicator, part))
        return None if row is None else row[column]

    def get(self, jid: int, indicator: str, column: str, part: str = "") -> Fig:
        row = self.values.get((jid, indicator, part))
        value = None if row is None else row[column]
        if value is None or self.plan is None or self.day is None:
            return value
        d, plan = self.day, self.plan
        if column == "day":
            st = plan.cell(jid, indicator, d)
            return plan.mark(st) if st else value
        first = {"cum": None, "last7": d - timedelta(days=6), "prev7": d - timedelta(days=13)}[column]
        last = d - timedelta(days=7) if column == "prev7" else d
        return HIDDEN if plan.covered(jid, indicator, first, last) else value


def _pick(w: Windows, jid: int, indicator: str, column: str, part: str = "") -> Fig:
    return w.get(jid, indicator, column, part)


def num(value: Any) -> float | None:
    """A figure as a number for arithmetic and sorting (None where withheld or missing)."""
    if isinstance(value, float | int | np.integer | np.floating) and not np.isnan(value):
        return float(value)
    return None


def derive(value: float | None, *inputs: Fig) -> Fig:
    """A figure computed from others: withheld (``x``) if any of them is."""
    return HIDDEN if any(isinstance(v, str) for v in inputs) else value


def growth(last7: Fig, prev7: Fig) -> Fig:
    """Change of the 7-day sum against the week before; undefined (None) from a week of zero."""
    a, b = num(last7), num(prev7)
    return derive(None if a is None or not b else a / b - 1.0, last7, prev7)


def per100k(value: Fig, population: int | None) -> Fig:
    v = num(value)
    return derive(None if v is None or not population else v / population * 1e5, value)


def _avg7(last7: Fig) -> Fig:
    v = num(last7)
    return derive(None if v is None else v / 7, last7)


# ------------------------------------------------------------------------------------------------ cards
@dataclass
class Card:
    key: str
    value: Fig
    indicator: str  # the figure whose provenance the card's number links to
    part: str = ""
    avg7: Fig = None
    change: Fig = None
    sub: list[tuple[str, Fig]] = field(default_factory=list)


def cards(w: Windows, jid: int) -> list[Card]:
    def card(key: str, code: str, cum_key: str | None = None) -> Card:
        last7 = _pick(w, jid, code, "last7")
        c = Card(key, _pick(w, jid, code, "day"), code, avg7=_avg7(last7))
        c.change = growth(last7, _pick(w, jid, code, "prev7"))
        if cum_key:
            c.sub.append((cum_key, _pick(w, jid, code, "cum")))
        return c

    confirmed = card("new_confirmed", "new_confirmed", "cum_confirmed")
    confirmed.sub.insert(0, ("imported", _pick(w, jid, "new_confirmed", "day", "imported")))
    cum = {k: _pick(w, jid, k, "cum") for k in ("new_confirmed", "new_deaths", "new_recovered")}
    c0 = num(cum["new_confirmed"])
    active = derive(
        None if c0 is None else c0 - (num(cum["new_deaths"]) or 0) - (num(cum["new_recovered"]) or 0),
        *cum.values(),
    )
    return [
        confirmed,
        card("new_deaths", "new_deaths", "cum_deaths"),
        card("new_recovered", "new_recovered", "cum_recovered"),
        Card("active", active, "new_confirmed"),
        card("new_tests", "new_tests", "cum_tests"),
    ]


# --------------------------------------------------------------------------------------------- children
CHILD_COLUMNS = [
    "code",
    "name",
    "local_name",
    "level",
    "population",
    "new_confirmed",
    "last7",
    "avg7",
    "per100k",
    "growth",
    "cum_confirmed",
    "cum_per100k",
    "cum_deaths",
]


def children_table(session: Session, node: Jurisdiction, w: Windows, kids: list[Jurisdiction]) -> pd.DataFrame:
    rows = []
    for k in kids:
        last7 = _pick(w, k.id, "new_confirmed", "last7")
        cum = _pick(w, k.id, "new_confirmed", "cum")
        avg = _avg7(last7)
        rows.append(
            {
                "code": k.code,
                "name": k.name,
                "local_name": k.local_name,
                "level": k.level,
                "population": k.population,
                "new_confirmed": _pick(w, k.id, "new_confirmed", "day"),
                "last7": last7,
                "avg7": round(avg, 2) if isinstance(avg, float) else avg,
                "per100k": _round(per100k(last7, k.population)),
                "growth": _round(growth(last7, _pick(w, k.id, "new_confirmed", "prev7")), 4),
                "cum_confirmed": cum,
                "cum_per100k": _round(per100k(cum, k.population)),
                "cum_deaths": _pick(w, k.id, "new_deaths", "cum"),
            }
        )
    return pd.DataFrame(rows, columns=CHILD_COLUMNS)


def _round(value: Fig, digits: int = 2) -> Fig:
    return round(value, digits) if isinstance(value, float | int) else value


SORTABLE = set(CHILD_COLUMNS) - {"local_name", "level"}


def sort_children(frame: pd.DataFrame, column: str, descending: bool) -> pd.DataFrame:
    if column not in SORTABLE:
        column = "code"
    # missing and withheld values last whichever way the table is sorted: they are not "smallest"
    key = pd.to_numeric(frame[column], errors="coerce") if column not in ("code", "name") else frame[column]
    order = key.sort_values(ascending=not descending, na_position="last", kind="stable").index
    return frame.loc[order]


# ------------------------------------------------------------------------------------------------ curve
def curve(session: Session, node: Jurisdiction, day: date, plan: Plan | None = None) -> pd.DataFrame:
    s = surveillance.series(session, node.code, "new_confirmed", end=day, view="public")
    out = pd.DataFrame({"date": s["date"], "new_confirmed": s["value"]})
    out["avg7"] = out["new_confirmed"].rolling(7, min_periods=1).mean().round(2)
    if plan is not None and len(out):
        st = np.array([plan.cell(node.id, "new_confirmed", d.date()) for d in pd.to_datetime(out["date"])])
        hidden = pd.Series(st != sup.SHOWN, index=out.index)
        window = hidden.astype(int).rolling(7, min_periods=1).max().astype(bool)
        out["new_confirmed"] = out["new_confirmed"].astype(object)
        out["avg7"] = out["avg7"].astype(object)
        out.loc[hidden, "new_confirmed"] = [plan.mark(int(x)) for x in st[hidden.to_numpy()]]
        out.loc[window, "avg7"] = HIDDEN
    return out


# --------------------------------------------------------------------------------------------- overview
@dataclass
class Overview:
    node: Jurisdiction
    path: list[Jurisdiction]
    day: date | None
    span: tuple[date, date] | None
    cards: list[Card]
    children: pd.DataFrame
    curve: pd.DataFrame
    kids: list[Jurisdiction]
    #: the jurisdiction's own report minus the sum of its children (new confirmed on the day, cumulative):
    #: cases it reported but did not assign to any child; None where it reported no total of its own
    unallocated: dict[str, Fig] = field(default_factory=dict)
    #: what pages derive from it once (e.g. the map per language), kept with it in the cache
    derived: dict[str, Any] = field(default_factory=dict)


def unallocated(
    w: Windows, node: Jurisdiction, kids: list[Jurisdiction], indicator: str = "new_confirmed"
) -> dict[str, Fig]:
    """Own figure minus the children's sum, for the day and the cumulative (published figures)."""
    if not kids:
        return {}
    out: dict[str, Fig] = {}
    for col in ("day", "cum"):
        own = w.raw(node.id, indicator, col)
        kid_values = [w.raw(k.id, indicator, col) for k in kids]
        if own is None or all(v is None for v in kid_values):
            continue
        diff = own - sum(v for v in kid_values if v is not None)
        if abs(diff) < 1e-9:
            out[col] = 0.0
            continue
        out[col] = derive(diff, w.get(node.id, indicator, col))
    return out


def overview(session: Session, code: str, day_text: str | None, policy: SuppressionPolicy = OFF) -> Overview:
    """The overview of a jurisdiction on a day. Published figures change only on submission or approval, so
    the result is kept (per process, keyed on :func:`data_version`, at most a minute) and a page asked for
    again is only rendered, not recomputed."""
    version = data_version(session)
    key = (code, day_text or "", policy)
    hit = _overviews.get(key, version)
    if isinstance(hit, Overview):
        return hit
    built = _overview(session, code, day_text, policy, version)
    _overviews.put(key, version, built)
    return built


def _overview(
    session: Session, code: str, day_text: str | None, policy: SuppressionPolicy, version: tuple[Any, ...]
) -> Overview:
    node = node_or_404(session, code)
    day, span = resolve_day(session, node, day_text)
    kids = places.children(session, node.id)
    path = places.ancestors(session, node.id)
    if day is None:
        empty = children_table(session, node, Windows(window_sums(session, [], date.today())), kids)
        return Overview(
            node, path, None, None, [], empty, pd.DataFrame(columns=["date", "new_confirmed", "avg7"]), kids
        )
    plan = plan_for(session, policy, version)
    w = Windows(window_sums(session, [node.id, *[k.id for k in kids]], day), plan, day)
    return Overview(
        node,
        path,
        day,
        span,
        cards(w, node.id),
        children_table(session, node, w, kids),
        curve(session, node, day, plan),
        kids,
        unallocated(w, node, kids),
    )


# ------------------------------------------------------------------------------------------- provenance
@dataclass
class Provenance:
    node: Jurisdiction
    indicator: ind.Indicator
    count_code: str
    part: str
    day: date
    value: Fig
    own: Fig
    children_sum: Fig
    revisions: pd.DataFrame
    children: pd.DataFrame
    approved_at: datetime | None


def provenance(
    session: Session, code: str, indicator: str, day_text: str | None, part: str = "", policy: SuppressionPolicy = OFF
) -> Provenance:
    node = node_or_404(session, code)
    spec = ind.get(indicator)
    if spec is None:
        raise PageNotFound(f"There is no indicator '{indicator}'.", link=f"/public/{code}")
    # a cumulative figure is the running sum of its daily count: the day's count is what was reported
    count_code = spec.derived_from or spec.code
    if part not in ind.CATALOG[count_code].disaggregations:
        raise PageNotFound(f"'{part}' is not a part of {count_code}.", link=f"/public/{code}")
    day, _ = resolve_day(session, node, day_text)
    if day is None:
        raise PageNotFound(f"{node.name} has no published figures yet.")
    own, child = _public_figure(session, node.id, count_code, part, day)
    approved_at = _approved_at(session, node.id, day)
    revs = published_revisions(surveillance.history(session, code, count_code, day, part), approved_at)
    kids = places.children(session, node.id)
    kid_values = _children_values(session, kids, count_code, part, day)
    value: Fig = own if own is not None else child
    plan = plan_for(session, policy)
    if plan is not None and count_code in SUPPRESSED:
        st = plan.cell(node.id, count_code, day)
        small = _small(policy, node.depth)
        own_f: Fig = own
        child_f: Fig = child
        if st:
            value = plan.mark(st)
            own_f = None if own is None else value
            child_f = None if child is None else HIDDEN
        revs = revs.astype({"value": object, "previous_value": object})
        for col in ("value", "previous_value"):
            revs[col] = [_masked(v, bool(st), small, policy) for v in revs[col]]
        kid_values["value"] = [
            plan.mark(plan.cell(k.id, count_code, day)) if plan.cell(k.id, count_code, day) else v
            for k, v in zip(kids, kid_values["value"], strict=True)
        ]
        return Provenance(node, spec, count_code, part, day, value, own_f, child_f, revs, kid_values, approved_at)
    return Provenance(node, spec, count_code, part, day, value, own, child, revs, kid_values, approved_at)


def _small(policy: SuppressionPolicy, depth: int) -> bool:
    """Whether small counts of a jurisdiction at this depth are withheld."""
    return policy.enabled and depth >= policy.from_depth


def _masked(value: Any, withheld: bool, small: bool, policy: SuppressionPolicy) -> Any:
    """A value of a figure's history or of the errata: its mark where the figure is withheld now or where it
    is a small count at a suppressed depth; otherwise itself."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return value
    if small and 1 <= float(value) < policy.below:
        return policy.mark(sup.PRIMARY)
    return HIDDEN if withheld else value


def _public_figure(session: Session, jid: int, code: str, part: str, day: date) -> tuple[float | None, float | None]:
    iid = surveillance.indicator_ids(session)[code]
    f = store.read_frame(
        session,
        "SELECT own_pub, child_pub FROM figure WHERE jurisdiction_id = :j AND indicator_id = :i AND date = :d "
        "AND disaggregation = :p",
        {"j": jid, "i": iid, "d": store.date_param(day, store.dialect(session)), "p": part},
    )
    if f.empty:
        return None, None
    own, child = f[["own_pub", "child_pub"]].to_numpy(dtype=float)[0]
    return (None if np.isnan(own) else float(own)), (None if np.isnan(child) else float(child))


def _approved_at(session: Session, jid: int, day: date) -> datetime | None:
    f = store.read_frame(
        session,
        "SELECT approved_at FROM report_day WHERE jurisdiction_id = :j AND date = :d AND status = 'approved'",
        {"j": jid, "d": store.date_param(day, store.dialect(session))},
    )
    if f.empty or f["approved_at"].isna().iat[0]:
        return None
    return pd.Timestamp(str(f["approved_at"].iat[0])).tz_localize(None).tz_localize(UTC).to_pydatetime()


def published_revisions(history: pd.DataFrame, approved_at: datetime | None) -> pd.DataFrame:
    """The public part of a figure's history: the value as first published (the last revision recorded by
    approval) and every correction after it. Drafts replaced before publication were never public."""
    cols = ["revision", "value", "previous_value", "recorded_at", "reason", "source", "submission_id", "stage"]
    if approved_at is None or history.empty:
        return pd.DataFrame(columns=cols)
    h = history.copy()
    h["recorded_at"] = pd.to_datetime(h["recorded_at"], utc=True)
    before = h[h["recorded_at"] <= pd.Timestamp(approved_at)]
    after = h[h["recorded_at"] > pd.Timestamp(approved_at)].assign(stage="correction")
    first = before.tail(1).assign(stage="as_published", previous_value=np.nan)
    out = pd.concat([first, after], ignore_index=True)
    out["recorded_at"] = out["recorded_at"].dt.strftime("%Y-%m-%d %H:%M UTC")
    return out[cols]


def _children_values(session: Session, kids: list[Jurisdiction], code: str, part: str, day: date) -> pd.DataFrame:
    rows = []
    for k in kids:
        own, child = _public_figure(session, k.id, code, part, day)
        rows.append(
            {"code": k.code, "name": k.name, "local_name": k.local_name, "value": own if own is not None else child}
        )
    return pd.DataFrame(rows, columns=["code", "name", "local_name", "value"])


# ----------------------------------------------------------------------------------------------- errata
ERRATA_COLUMNS = [
    "jurisdiction",
    "jurisdiction_name",
    "date",
    "indicator",
    "disaggregation",
    "revision",
    "old_value",
    "new_value",
    "recorded_at",
    "reason",
    "after_publication",
]


def errata(
    session: Session,
    code: str,
    *,
    recorded_from: datetime | None = None,
    recorded_to: datetime | None = None,
    policy: SuppressionPolicy = OFF,
) -> pd.DataFrame:
    """Every correction of a published figure in the subtree: revisions recorded after their day was
    approved (earlier drafts were never public, so their values are not disclosed here)."""
    node = node_or_404(session, code)
    name = store.dialect(session)
    clauses, params = "", dict[str, Any](root=node.id)
    if recorded_from is not None:
        clauses += " AND o.recorded_at >= :t0"
        params["t0"] = _ts(recorded_from, name)
    if recorded_to is not None:
        clauses += " AND o.recorded_at < :t1"
        params["t1"] = _ts(recorded_to, name)
    frame = store.read_frame(
        session,
        "SELECT j.id AS jid, j.depth, j.code AS jurisdiction, j.name AS jurisdiction_name, o.date, "
        "i.code AS indicator, o.disaggregation, "
        "o.revision, o.previous_value AS old_value, o.value AS new_value, o.recorded_at, o.reason "
        # observations drive the join (CROSS JOIN fixes SQLite's order; PostgreSQL plans it freely): driven from
        # report_day, SQLite scanned every observation of a jurisdiction per day (seconds on the demo)
        "FROM observation o CROSS JOIN report_day r CROSS JOIN jurisdiction_closure c "
        "JOIN jurisdiction j ON j.id = o.jurisdiction_id JOIN indicator i ON i.id = o.indicator_id "
        "WHERE c.descendant_id = o.jurisdiction_id AND c.ancestor_id = :root "
        "AND r.jurisdiction_id = o.jurisdiction_id AND r.date = o.date AND r.status = 'approved' "
        "AND o.revision > 1 AND o.recorded_at > r.approved_at"
        f"{clauses} ORDER BY o.recorded_at DESC, j.code, o.date",
        params,
    )
    if frame.empty:
        return pd.DataFrame(columns=ERRATA_COLUMNS)
    frame["date"] = pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%d")
    frame["recorded_at"] = pd.to_datetime(frame["recorded_at"], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    frame["reason"] = frame["reason"].fillna("")
    frame["after_publication"] = True
    plan = plan_for(session, policy)
    if plan is not None:
        frame = frame.astype({"old_value": object, "new_value": object})
        for i, r in frame.iterrows():
            if r["indicator"] not in SUPPRESSED:
                continue
            withheld = plan.cell(int(str(r["jid"])), str(r["indicator"]), date.fromisoformat(str(r["date"]))) != 0
            small = _small(policy, int(str(r["depth"])))
            frame.at[i, "old_value"] = _masked(r["old_value"], withheld, small, policy)
            frame.at[i, "new_value"] = _masked(r["new_value"], withheld, small, policy)
    return frame[ERRATA_COLUMNS]


def _ts(value: datetime, dialect_name: str) -> object:
    from accord.db import db_timestamp

    return db_timestamp(value, dialect_name)


# --------------------------------------------------------------------------------------------- bulletin
def bulletin_facts(
    session: Session, code: str, day_text: str | None, policy: SuppressionPolicy = OFF
) -> bulletin.Facts:
    node = node_or_404(session, code)
    day, _ = resolve_day(session, node, day_text)
    if day is None:
        raise PageNotFound(f"{node.name} has no published figures yet, so there is no bulletin.")
    facts = bulletins(session, node, [day], policy)[0]
    return replace(facts, supply=_supply_sentences(session, node.code, day))


def _supply_sentences(session: Session, code: str, day: date) -> dict[str, str]:
    """The stock-out early warning on public figures, in each language; nothing where no books are kept."""
    from accord.resources import early_warning  # the bulletin reads resources, never the reverse

    alerts = early_warning.early_warning(session, code, day, view="public")
    if alerts.empty:
        return {}
    return {lang: early_warning.bulletin_sentence(alerts, lang) for lang in bulletin.LANGS}


def bulletins(
    session: Session, node: Jurisdiction, days: list[date], policy: SuppressionPolicy = OFF
) -> list[bulletin.Facts]:
    """The facts of several days' bulletins at once: three queries however many days (the feed's 14)."""
    if not days:
        return []
    kids = places.children(session, node.id)
    plan = plan_for(session, policy)
    sums = day_sums(session, [node.id, *[k.id for k in kids]], days)
    d0, d1 = min(days), max(days)
    start = datetime.combine(d0, datetime.min.time(), tzinfo=UTC)
    stop = datetime.combine(d1 + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    revs = errata(session, node.code, recorded_from=start, recorded_to=stop, policy=policy)
    recorded_on = revs["recorded_at"].str.slice(0, 10)
    return [_facts(node, kids, Windows(sums[d], plan, d), d, revs[recorded_on == d.isoformat()]) for d in days]


def _facts(node: Jurisdiction, kids: list[Jurisdiction], w: Windows, day: date, revs: pd.DataFrame) -> bulletin.Facts:
    j = node.id
    return bulletin.Facts(
        code=node.code,
        name=node.name,
        name_zh=node.local_name,
        day=day,
        new_confirmed=_pick(w, j, "new_confirmed", "day"),
        imported=_pick(w, j, "new_confirmed", "day", "imported"),
        local=_pick(w, j, "new_confirmed", "day", "local"),
        new_deaths=_pick(w, j, "new_deaths", "day"),
        new_recovered=_pick(w, j, "new_recovered", "day"),
        cum_confirmed=_pick(w, j, "new_confirmed", "cum"),
        cum_deaths=_pick(w, j, "new_deaths", "cum"),
        cum_recovered=_pick(w, j, "new_recovered", "cum"),
        severe=_pick(w, j, "icu_occupied", "day"),
        hospitalised=_pick(w, j, "hospitalised", "day"),
        new_tests=_pick(w, j, "new_tests", "day"),
        parts=tuple(
            bulletin.Part(
                k.code,
                k.name,
                k.local_name,
                _pick(w, k.id, "new_confirmed", "day") or 0.0,
                _pick(w, k.id, "new_confirmed", "day", "imported"),
                _pick(w, k.id, "new_confirmed", "day", "local"),
            )
            for k in kids
        ),
        revisions=tuple(
            bulletin.Revision(
                str(r["jurisdiction"]),
                str(r["jurisdiction_name"]),
                date.fromisoformat(str(r["date"])),
                str(r["indicator"]),
                _fig(r["old_value"]),
                _fig(r["new_value"]) or 0.0,
                str(r["reason"]),
                str(r["disaggregation"]),
            )
            for r in revs.to_dict(orient="records")
        ),
    )


def _fig(value: Any) -> Fig:
    if isinstance(value, str):
        return value
    return None if value is None or pd.isna(value) else float(value)


def day_sums(session: Session, jids: list[int], days: list[date]) -> dict[date, pd.DataFrame]:
    """For each of ``days``: the frame :func:`window_sums` gives (day value and cumulative; the 7-day columns
    are left empty), from one read of the days' range and one of the cumulative before it."""
    ids = surveillance.indicator_ids(session)
    code_of = {ids[c]: c for c in WINDOW_INDICATORS if c in ids}
    name = store.dialect(session)
    d0, d1 = min(days), max(days)
    p = {"d0": store.date_param(d0, name), "d1": store.date_param(d1, name)}
    cols = "jurisdiction_id, indicator_id, disaggregation"
    base_parts, rows_parts = [], []
    for chunk in store.in_chunks(jids):
        where = f"jurisdiction_id IN ({','.join(map(str, chunk))}) AND indicator_id IN ({','.join(map(str, code_of))})"
        v = "COALESCE(own_pub, child_pub)"
        base_parts.append(
            store.read_frame(
                session, f"SELECT {cols}, SUM({v}) AS base FROM figure WHERE {where} AND date < :d0 GROUP BY {cols}", p
            )
        )
        rows_parts.append(
            store.read_frame(
                session, f"SELECT {cols}, date, {v} AS v FROM figure WHERE {where} AND date BETWEEN :d0 AND :d1", p
            )
        )
    key = ["jurisdiction_id", "indicator_id", "disaggregation"]
    base = pd.concat(base_parts, ignore_index=True) if base_parts else pd.DataFrame(columns=[*key, "base"])
    rows = pd.concat(rows_parts, ignore_index=True) if rows_parts else pd.DataFrame(columns=[*key, "date", "v"])
    for f in (base, rows):
        f["jurisdiction_id"] = f["jurisdiction_id"].astype(np.int64)
        f["indicator_id"] = f["indicator_id"].astype(np.int64)
        f["disaggregation"] = f["disaggregation"].astype(str)
    rows["date"] = pd.to_datetime(rows["date"]).dt.date
    rows["v"] = pd.to_numeric(rows["v"]).astype(float)
    span = [d0 + timedelta(days=i) for i in range((d1 - d0).days + 1)]
    wide = rows.pivot_table(index=key, columns="date", values="v", aggfunc="sum").reindex(columns=span)
    b = base.set_index(key)["base"].astype(float)
    wide = wide.reindex(wide.index.union(b.index))
    seen = wide.notna().cumsum(axis=1).gt(0) | b.reindex(wide.index).notna().to_numpy()[:, None]
    cum = wide.fillna(0.0).cumsum(axis=1).add(b.reindex(wide.index).fillna(0.0), axis=0).where(seen)
    out = {}
    for d in days:
        f = pd.DataFrame({"day": wide[d], "cum": cum[d]}).reset_index()
        f = f[f["day"].notna() | f["cum"].notna()]
        f["indicator"] = f["indicator_id"].map(code_of)
        f["last7"] = np.nan
        f["prev7"] = np.nan
        out[d] = f.drop(columns="indicator_id")
    return out


def recent_days(session: Session, code: str, count: int = 14) -> list[date]:
    node = node_or_404(session, code)
    span = public_range(session, node.id)
    if span is None:
        return []
    return [span[1] - timedelta(days=i) for i in range(count) if span[1] - timedelta(days=i) >= span[0]]


# -------------------------------------------------------------------------------------------- scorecard
@dataclass
class Scorecard:
    node: Jurisdiction
    start: date
    end: date
    units: pd.DataFrame
    levels: pd.DataFrame
    escalations: pd.DataFrame


def scorecard_for(
    session: Session, code: str, day_text: str | None, window: int = 28, escalate_after: int = 3
) -> Scorecard:
    node = node_or_404(session, code)
    day, _ = resolve_day(session, node, day_text)
    end = day or date.today()
    start = end - timedelta(days=window - 1)
    # judged as of the end of the window's last day: reports not yet due then are pending, not missing
    now = datetime.combine(end + timedelta(days=2), datetime.min.time(), tzinfo=UTC)
    comp = surveillance.compliance(session, code, start, end, now)
    facts = _quality_facts(session, node.id, start, end)
    level_of = {j.code: j.level for j, _ in places.subtree(session, node.id)}
    units = scorecard.score_units(comp, facts["revisions"], facts["flags"], facts["mismatches"], level_of)
    units.insert(1, "name", units["jurisdiction"].map({j.code: j.name for j, _ in places.subtree(session, node.id)}))
    esc = scorecard.escalations(comp, facts["outliers"], escalate_after)
    return Scorecard(node, start, end, units, scorecard.by_level(units), esc)


def _quality_facts(session: Session, root_id: int, start: date, end: date) -> dict[str, pd.DataFrame]:
    name = store.dialect(session)
    p: dict[str, Any] = {"root": root_id, "d0": store.date_param(start, name), "d1": store.date_param(end, name)}
    under = (
        "JOIN jurisdiction_closure c ON c.descendant_id = {t}.jurisdiction_id AND c.ancestor_id = :root "
        "JOIN jurisdiction j ON j.id = {t}.jurisdiction_id"
    )
    revisions = store.read_frame(
        session,
        "SELECT j.code AS jurisdiction, COUNT(*) AS revisions, SUM(CASE WHEN o.revision > 1 THEN 1 ELSE 0 END) "
        f"AS corrections FROM observation o {under.format(t='o')} WHERE o.date BETWEEN :d0 AND :d1 GROUP BY j.code",
        p,
    )
    flags = store.read_frame(
        session,
        "SELECT j.code AS jurisdiction, f.code AS flag, COUNT(*) AS n, COUNT(DISTINCT f.date) AS days FROM flag f "
        f"{under.format(t='f')} WHERE f.resolved_at IS NULL AND (f.date IS NULL OR f.date BETWEEN :d0 AND :d1) "
        "GROUP BY j.code, f.code",
        p,
    )
    flags["n"] = flags["n"].astype(np.int64)
    open_ = flags.groupby("jurisdiction")["n"].sum().rename("open").reset_index()
    mism = flags[flags["flag"] == "children_exceed_parent"].rename(columns={"days": "mismatches"})
    outliers = flags[flags["flag"] == "outlier"][["jurisdiction", "days"]]
    for f in (revisions,):
        for c in ("revisions", "corrections"):
            f[c] = pd.to_numeric(f[c]).fillna(0).astype(np.int64)
    return {
        "revisions": revisions,
        "flags": open_,
        "mismatches": mism[["jurisdiction", "mismatches"]],
        "outliers": outliers.astype({"days": np.int64}),
    }


# ------------------------------------------------------------------------------------------- open data
def opendata_levels(session: Session, code: str) -> list[tuple[str, int]]:
    """Levels under (and including) a jurisdiction with how many units each, top down."""
    node = node_or_404(session, code)
    seen: dict[str, tuple[int, int]] = {}
    for j, dist in places.subtree(session, node.id):
        d, n = seen.get(j.level, (dist, 0))
        seen[j.level] = (min(d, dist), n + 1)
    return [(lvl, n) for lvl, (_, n) in sorted(seen.items(), key=lambda kv: kv[1][0])]

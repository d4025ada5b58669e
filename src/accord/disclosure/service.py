"""Use cases of public disclosure: what the overview, provenance, bulletin, errata and scorecard show.

Read-only and public: every figure here is a published one (approved reporting days, rolled up), read
from the ``figure`` table's ``*_pub`` columns; provisional values never leave this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from accord.disclosure import bulletin, scorecard
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


class Windows:
    """Window sums indexed by (jurisdiction id, indicator, part): pages look up dozens of numbers, and a
    dict lookup is what keeps the overview well inside its latency budget (pandas masks per lookup are not)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        cols = ("cum", "day", "last7", "prev7")
        self.values: dict[tuple[int, str, str], dict[str, float | None]] = {
            (int(r[0]), str(r[1]), str(r[2])): {
                c: (None if pd.isna(v) else float(v)) for c, v in zip(cols, r[3:], strict=True)
            }
            for r in frame[["jurisdiction_id", "indicator", "disaggregation", *cols]].itertuples(index=False)
        }

    def get(self, jid: int, indicator: str, column: str, part: str = "") -> float | None:
        row = self.values.get((jid, indicator, part))
        return None if row is None else row[column]


def _pick(w: Windows, jid: int, indicator: str, column: str, part: str = "") -> float | None:
    return w.get(jid, indicator, column, part)


def growth(last7: float | None, prev7: float | None) -> float | None:
    """Change of the 7-day sum against the week before; undefined (None) from a week of zero."""
    if last7 is None or not prev7:
        return None
    return last7 / prev7 - 1.0


def per100k(value: float | None, population: int | None) -> float | None:
    if value is None or not population:
        return None
    return value / population * 1e5


# ------------------------------------------------------------------------------------------------ cards
@dataclass
class Card:
    key: str
    value: float | None
    indicator: str  # the figure whose provenance the card's number links to
    part: str = ""
    avg7: float | None = None
    change: float | None = None
    sub: list[tuple[str, float | None]] = field(default_factory=list)


def cards(w: Windows, jid: int) -> list[Card]:
    def card(key: str, code: str, cum_key: str | None = None) -> Card:
        last7 = _pick(w, jid, code, "last7")
        c = Card(key, _pick(w, jid, code, "day"), code, avg7=None if last7 is None else last7 / 7)
        c.change = growth(last7, _pick(w, jid, code, "prev7"))
        if cum_key:
            c.sub.append((cum_key, _pick(w, jid, code, "cum")))
        return c

    confirmed = card("new_confirmed", "new_confirmed", "cum_confirmed")
    confirmed.sub.insert(0, ("imported", _pick(w, jid, "new_confirmed", "day", "imported")))
    cum = {k: _pick(w, jid, k, "cum") for k in ("new_confirmed", "new_deaths", "new_recovered")}
    active = (
        None
        if cum["new_confirmed"] is None
        else cum["new_confirmed"] - (cum["new_deaths"] or 0) - (cum["new_recovered"] or 0)
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
        rows.append(
            {
                "code": k.code,
                "name": k.name,
                "local_name": k.local_name,
                "level": k.level,
                "population": k.population,
                "new_confirmed": _pick(w, k.id, "new_confirmed", "day"),
                "last7": last7,
                "avg7": None if last7 is None else round(last7 / 7, 2),
                "per100k": _round(per100k(last7, k.population)),
                "growth": _round(growth(last7, _pick(w, k.id, "new_confirmed", "prev7")), 4),
                "cum_confirmed": cum,
                "cum_per100k": _round(per100k(cum, k.population)),
                "cum_deaths": _pick(w, k.id, "new_deaths", "cum"),
            }
        )
    return pd.DataFrame(rows, columns=CHILD_COLUMNS)


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


SORTABLE = set(CHILD_COLUMNS) - {"local_name", "level"}


def sort_children(frame: pd.DataFrame, column: str, descending: bool) -> pd.DataFrame:
    if column not in SORTABLE:
        column = "code"
    # missing values last whichever way the table is sorted: they are not "smallest"
    return frame.sort_values(column, ascending=not descending, na_position="last", kind="stable")


# ------------------------------------------------------------------------------------------------ curve
def curve(session: Session, code: str, day: date) -> pd.DataFrame:
    s = surveillance.series(session, code, "new_confirmed", end=day, view="public")
    out = pd.DataFrame({"date": s["date"], "new_confirmed": s["value"]})
    out["avg7"] = out["new_confirmed"].rolling(7, min_periods=1).mean().round(2)
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


def overview(session: Session, code: str, day_text: str | None) -> Overview:
    node = node_or_404(session, code)
    day, span = resolve_day(session, node, day_text)
    kids = places.children(session, node.id)
    path = places.ancestors(session, node.id)
    if day is None:
        empty = children_table(session, node, Windows(window_sums(session, [], date.today())), kids)
        return Overview(
            node, path, None, None, [], empty, pd.DataFrame(columns=["date", "new_confirmed", "avg7"]), kids
        )
    w = Windows(window_sums(session, [node.id, *[k.id for k in kids]], day))
    return Overview(
        node,
        path,
        day,
        span,
        cards(w, node.id),
        children_table(session, node, w, kids),
        curve(session, code, day),
        kids,
    )


# ------------------------------------------------------------------------------------------- provenance
@dataclass
class Provenance:
    node: Jurisdiction
    indicator: ind.Indicator
    count_code: str
    part: str
    day: date
    value: float | None
    own: float | None
    children_sum: float | None
    revisions: pd.DataFrame
    children: pd.DataFrame
    approved_at: datetime | None


def provenance(session: Session, code: str, indicator: str, day_text: str | None, part: str = "") -> Provenance:
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
    value = own if own is not None else child
    return Provenance(node, spec, count_code, part, day, value, own, child, revs, kid_values, approved_at)


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
    session: Session, code: str, *, recorded_from: datetime | None = None, recorded_to: datetime | None = None
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
        "SELECT j.code AS jurisdiction, j.name AS jurisdiction_name, o.date, i.code AS indicator, o.disaggregation, "
        "o.revision, o.previous_value AS old_value, o.value AS new_value, o.recorded_at, o.reason "
        "FROM observation o JOIN jurisdiction_closure c ON c.descendant_id = o.jurisdiction_id "
        "AND c.ancestor_id = :root JOIN report_day r ON r.jurisdiction_id = o.jurisdiction_id AND r.date = o.date "
        "AND r.status = 'approved' JOIN jurisdiction j ON j.id = o.jurisdiction_id "
        "JOIN indicator i ON i.id = o.indicator_id WHERE o.revision > 1 AND o.recorded_at > r.approved_at"
        f"{clauses} ORDER BY o.recorded_at DESC, j.code, o.date",
        params,
    )
    if frame.empty:
        return pd.DataFrame(columns=ERRATA_COLUMNS)
    frame["date"] = pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%d")
    frame["recorded_at"] = pd.to_datetime(frame["recorded_at"], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    frame["reason"] = frame["reason"].fillna("")
    frame["after_publication"] = True
    return frame[ERRATA_COLUMNS]


def _ts(value: datetime, dialect_name: str) -> object:
    from accord.db import db_timestamp

    return db_timestamp(value, dialect_name)


# --------------------------------------------------------------------------------------------- bulletin
def bulletin_facts(session: Session, code: str, day_text: str | None) -> bulletin.Facts:
    node = node_or_404(session, code)
    day, _ = resolve_day(session, node, day_text)
    if day is None:
        raise PageNotFound(f"{node.name} has no published figures yet, so there is no bulletin.")
    kids = places.children(session, node.id)
    w = Windows(window_sums(session, [node.id, *[k.id for k in kids]], day))
    j = node.id
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    revs = errata(session, code, recorded_from=start, recorded_to=start + timedelta(days=1))
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
                None if pd.isna(r["old_value"]) else float(r["old_value"]),
                float(r["new_value"]),
                str(r["reason"]),
                str(r["disaggregation"]),
            )
            for r in revs.to_dict(orient="records")
        ),
    )


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

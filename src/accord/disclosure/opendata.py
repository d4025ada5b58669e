"""Bulk open-data files of published figures, with small-count suppression applied where it is on.

Without suppression the files are exactly the surveillance exports (``exchange``). With it, the same
layouts are written from the same frame, then every withheld daily figure reads as its mark (``<5`` or
``x``) and every running total that covers a withheld day of its jurisdiction is left empty, following
:mod:`.suppression`; the long layouts (CSV, Parquet) carry a ``suppressed`` column with the mark.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from accord.disclosure import service
from accord.disclosure.suppression import OFF, SHOWN, SuppressionPolicy
from accord.surveillance import exchange, formats
from accord.surveillance.formats import common, owid, who

LONG = ["jurisdiction", "date", "indicator", "disaggregation", "value"]
PARQUET = "application/vnd.apache.parquet"


def export(
    session: Session, layout: str, code: str, level: str | None, policy: SuppressionPolicy = OFF
) -> tuple[bytes, str, str]:
    """One bulk file: (content, media type, file name)."""
    plan = service.plan_for(session, policy)
    if layout == "parquet":
        frame = exchange.export_frame(session, code, level=level, view="public")
        name = f"{code}_{level or 'all'}_long.parquet"
        out = frame[LONG].copy()
        if plan is not None:
            status, _ = cell_status(plan, frame)
            out["value"] = out["value"].where(status == SHOWN)
            out["suppressed"] = marks(plan, status)
        return to_parquet(out), PARQUET, name
    if plan is None:
        return exchange.export_bytes(session, layout, code, level=level, view="public")
    frame = exchange.export_frame(session, code, level=level, view="public")
    status, covered = cell_status(plan, frame)
    masked = frame.assign(value=frame["value"].where(status == SHOWN))
    spec = formats.get(layout)
    assert spec.render is not None  # every offered layout renders
    media, name = spec.media_type, f"{code}{f'_{level}' if level else ''}_{layout}.{spec.extension}"
    text = spec.render(masked)
    table = pd.read_csv(io.BytesIO(text), dtype=str, keep_default_na=False)
    if layout == "csv":
        table = _long(table, plan, status)
    elif layout in ("owid", "who"):
        table = _daily(table, frame, plan, status, covered, layout)
    elif layout == "jhu":
        table = _jhu(table, frame, covered)
    buf = io.StringIO()
    table.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8"), media, name


def to_parquet(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def cell_status(plan: service.Plan, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per row of an export frame: the cell's status, and whether any day up to it is withheld for its
    jurisdiction and indicator (then a running total through it may not be shown)."""
    status = np.zeros(len(frame), dtype=np.int8)
    covered = np.zeros(len(frame), dtype=bool)
    if frame.empty or plan.days == 0:
        return status, covered
    rows = frame["jurisdiction_id"].astype(np.int64).map(plan.rows).fillna(-1).astype(np.int64).to_numpy()
    cols = (pd.to_datetime(frame["date"]) - pd.Timestamp(plan.start)).dt.days.to_numpy()
    known = (rows >= 0) & (cols >= 0)
    col = np.clip(cols, 0, plan.days - 1)
    inside = known & (cols < plan.days)
    for indicator, st in plan.status.items():
        mask = (frame["indicator"] == indicator).to_numpy()
        m = mask & inside
        status[m] = st[rows[m], col[m]]
        k = mask & known
        covered[k] = plan.runs[indicator][rows[k], col[k]] > 0
    return status, covered


def marks(plan: service.Plan, status: np.ndarray) -> list[str]:
    return ["" if s == SHOWN else plan.mark(int(s)) for s in status]


def _long(table: pd.DataFrame, plan: service.Plan, status: np.ndarray) -> pd.DataFrame:
    """The long CSV keeps the frame's rows in order: write each mark where its value was."""
    if len(table) != len(status):  # never guess: a file that cannot be matched row by row is withheld whole
        raise RuntimeError("long CSV rows do not match the frame; refusing to publish it unsuppressed")
    out = table.copy()
    m = marks(plan, status)
    out["value"] = [mk or v for mk, v in zip(m, out["value"], strict=True)]
    out["suppressed"] = m
    return out


def _order(frame: pd.DataFrame, indicators: list[str]) -> pd.DataFrame:
    """The (place, date) rows a wide-by-indicator layout writes, in its order (place key, then date)."""
    totals = frame[(frame["disaggregation"].fillna("") == "") & frame["indicator"].isin(indicators)]
    keys = totals.assign(key=common.place_key(totals), date=pd.to_datetime(totals["date"]))
    return keys[["key", "date", "jurisdiction_id"]].drop_duplicates(["key", "date"]).sort_values(["key", "date"])


def _daily(
    table: pd.DataFrame,
    frame: pd.DataFrame,
    plan: service.Plan,
    status: np.ndarray,
    covered: np.ndarray,
    layout: str,
) -> pd.DataFrame:
    if layout == "owid":
        columns = dict(owid.COLUMN_INDICATORS)
        totals = {"total_cases": "new_cases", "total_deaths": "new_deaths", "total_tests": "new_tests"}
        date_col = "date"
    else:
        columns = dict(who.COLUMN_INDICATORS)
        totals = {"Cumulative_cases": "New_cases", "Cumulative_deaths": "New_deaths"}
        date_col = "Date_reported"
    order = _order(frame, list(columns.values()))
    if len(order) != len(table) or list(order["date"].dt.strftime("%Y-%m-%d")) != list(table[date_col]):
        raise RuntimeError(f"{layout} rows do not match the frame; refusing to publish it unsuppressed")
    cells = frame[frame["disaggregation"].fillna("") == ""].assign(
        key=lambda f: common.place_key(f), date=lambda f: pd.to_datetime(f["date"])
    )
    idx = cells.index.to_numpy()
    st = pd.Series(status[idx], index=idx)
    cov = pd.Series(covered[idx], index=idx)
    out = table.copy()
    position = {(k, d): i for i, (k, d) in enumerate(zip(order["key"], order["date"], strict=True))}
    where = np.array([position.get((k, d), -1) for k, d in zip(cells["key"], cells["date"], strict=True)])
    for column, indicator in columns.items():
        sel = (cells["indicator"] == indicator).to_numpy() & (where >= 0)
        rows, s, c = where[sel], st.to_numpy()[sel], cov.to_numpy()[sel]
        values = out[column].to_numpy(dtype=object).copy()
        for r, si in zip(rows[s != SHOWN], s[s != SHOWN], strict=True):
            values[r] = plan.mark(int(si))
        out[column] = values
        for total, daily in totals.items():
            if daily == column:
                cum = out[total].to_numpy(dtype=object).copy()
                cum[rows[c]] = ""
                out[total] = cum
    return out


def _jhu(table: pd.DataFrame, frame: pd.DataFrame, covered: np.ndarray) -> pd.DataFrame:
    """JHU is cumulative by date: a place's row is empty from its first withheld day on."""
    sel = (frame["indicator"] == "new_confirmed") & (frame["disaggregation"].fillna("") == "")
    cells = frame[sel].assign(key=lambda f: common.place_key(f), date=lambda f: pd.to_datetime(f["date"]))
    keys = sorted(cells["key"].unique())
    if len(keys) != len(table):
        raise RuntimeError("JHU rows do not match the frame; refusing to publish it unsuppressed")
    hidden = cells[covered[cells.index.to_numpy()]]
    first = hidden.groupby("key")["date"].min()
    out = table.copy()
    dates = pd.to_datetime(list(out.columns[4:]), format="%m/%d/%y")
    for key, day in first.items():
        r = keys.index(key)
        blank = [4 + i for i, d in enumerate(dates) if d >= day]
        out.iloc[r, blank] = ""
    return out

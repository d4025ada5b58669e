"""A small published store for the analytics tests, on the conftest's small tree (AR: two provinces, three
cities, two communities), with known daily series:

- the communities of Riverton (AR-01-01-001, -002) report local and imported cases every day;
- Hillside (AR-01-02, a city without communities) reports totals only;
- Bayport (AR-02-01) reports local and imported cases but misses GAP_DAY and stops LAST_BAYPORT days in;
- Riverton and Bayport report ``hospitalised`` and ``icu_occupied``.

Built through the real services (submit, publish_due) in about a second."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from accord.auth.roles import SYSTEM
from accord.surveillance import service as surveillance

START = dt.date(2020, 1, 1)
DAYS = 30
GAP_DAY = 15
BAYPORT_DAYS = 26
T0 = dt.datetime(2020, 1, 1, 12, tzinfo=dt.UTC)
PUBLISHED_AT = T0 + dt.timedelta(days=DAYS + 5)
COMMUNITIES = ("AR-01-01-001", "AR-01-01-002")


def truth(seed: int = 11) -> dict[str, dict[str, np.ndarray]]:
    """Daily local and imported cases (and census) of every reporting unit (NaN where it did not report)."""
    rng = np.random.default_rng(seed)
    t = np.arange(DAYS)
    out: dict[str, dict[str, np.ndarray]] = {}
    for i, code in enumerate(COMMUNITIES):
        out[code] = {
            "local": rng.poisson(2 + (i + 1) * np.exp(0.08 * t)).astype(float),
            "imported": rng.poisson(0.5, DAYS).astype(float),
        }
    out["AR-01-02"] = {"total": rng.poisson(3 + 0.2 * t).astype(float)}
    local = rng.poisson(4 * np.exp(-0.03 * t)).astype(float)
    imported = rng.poisson(1.0, DAYS).astype(float)
    for arr in (local, imported):
        arr[GAP_DAY] = np.nan
        arr[BAYPORT_DAYS:] = np.nan
    out["AR-02-01"] = {"local": local, "imported": imported}
    for code, base in (("AR-01-01", 20.0), ("AR-02-01", 50.0)):
        out[code] = {
            **out.get(code, {}),
            "hospitalised": np.round(base * np.exp(0.05 * t)),
            "icu": np.round(base / 10 + t * 0),
        }
    return out


def rows(data: dict[str, dict[str, np.ndarray]]) -> pd.DataFrame:
    out = []
    for code, series in data.items():
        for i in range(DAYS):
            day = START + dt.timedelta(days=i)
            if "local" in series and not np.isnan(series["local"][i]):
                loc, imp = series["local"][i], series["imported"][i]
                out += [
                    (code, day, "new_confirmed", "", loc + imp),
                    (code, day, "new_confirmed", "local", loc),
                    (code, day, "new_confirmed", "imported", imp),
                ]
            if "total" in series:
                out.append((code, day, "new_confirmed", "", series["total"][i]))
            if "hospitalised" in series:
                out += [
                    (code, day, "hospitalised", "", series["hospitalised"][i]),
                    (code, day, "icu_occupied", "", series["icu"][i]),
                ]
    return pd.DataFrame(out, columns=["jurisdiction", "date", "indicator", "disaggregation", "value"])


def load(session: Session) -> dict[str, dict[str, np.ndarray]]:
    """Submit and publish the series (the tree must be loaded); returns them."""
    data = truth()
    surveillance.submit(session, rows(data), actor=SYSTEM, source="test:analytics", now=T0 + dt.timedelta(days=DAYS))
    surveillance.publish_due(session, PUBLISHED_AT, 1)
    return data

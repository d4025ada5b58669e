"""Early warning of stock-outs (pure: arrays in, arrays out).

For every (region, resource) the *daily demand* over the horizon is the larger of

* the observed burn rate (mean daily consumption over the last ``window`` days, from the ledger), and
* the forecast need: the reported census (hospitalised, ICU, ventilated patients; population for food) projected
  forward at its recent log-linear growth (clipped to +-``max_growth`` a day), times the need rules of
  :mod:`accord.resources.catalog` (e.g. 20 N95 per ICU patient-day).

Taking the larger is deliberately cautious: a region whose census is rising warns before its consumption does.
For a consumable, *days of supply* is the day the cumulative demand first exceeds the stock on hand (fractional
within the day; beyond the horizon the last day's demand is extended). For a reusable resource (beds,
ventilators, staff) it is the first day the units needed at once exceed the units there (0 = already short).
Alerts: ``critical`` below the critical threshold, ``warning`` below the warning threshold, else ``ok``;
thresholds differ by category (medical supplies and food by default, both configurable).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from accord.errors import AccordError, Problem
from accord.resources.catalog import Category, NeedRule

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Thresholds:
    critical_days: float
    warning_days: float


DEFAULT_THRESHOLDS: dict[str, Thresholds] = {
    Category.MEDICAL: Thresholds(3.0, 7.0),
    Category.FOOD: Thresholds(3.0, 7.0),
    Category.CAPACITY: Thresholds(2.0, 5.0),
    Category.EQUIPMENT: Thresholds(2.0, 5.0),
    Category.STAFF: Thresholds(2.0, 5.0),
}
LEVELS = ("critical", "warning", "ok")


def parse_thresholds(text: str | None) -> dict[str, Thresholds]:
    """``"medical:3:7,food:5:14"`` -> thresholds per category (critical below the first, warning below the second)."""
    out: dict[str, Thresholds] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        bits = [b.strip() for b in part.split(":")]
        try:
            category, critical, warn = bits[0], float(bits[1]), float(bits[2])
            ok = len(bits) == 3 and category in set(Category) and 0 <= critical <= warn
        except (IndexError, ValueError):
            ok = False
        if not ok:
            raise AccordError(
                "invalid thresholds",
                [
                    Problem(
                        f"'{part.strip()}' is not CATEGORY:CRITICAL_DAYS:WARNING_DAYS with critical <= warning and a "
                        f"category among {', '.join(Category)}",
                        field="thresholds",
                    )
                ],
            )
        out[category] = Thresholds(critical, warn)
    return out


def project(census: FloatArray, horizon: int, window: int = 7, max_growth: float = 0.2) -> FloatArray:
    """(regions, days) census -> (regions, horizon) projection from the last value at the recent growth rate.

    Missing values (NaN) are carried forward from the last reported day; a region with no report projects 0.
    """
    arr = np.asarray(census, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError("census is (regions, days)")
    regions, days = arr.shape
    if days == 0 or horizon <= 0:
        return np.zeros((regions, max(horizon, 0)))
    filled = _ffill(arr)
    last = np.nan_to_num(filled[:, -1], nan=0.0)
    back = min(window, days - 1)
    if back > 0:
        past = np.nan_to_num(filled[:, -1 - back], nan=0.0)
        growth = (np.log1p(last) - np.log1p(past)) / back
    else:
        growth = np.zeros(regions)
    growth = np.clip(growth, -max_growth, max_growth)
    steps = np.arange(1, horizon + 1, dtype=np.float64)
    out: FloatArray = np.expm1(np.log1p(last)[:, None] + growth[:, None] * steps[None, :])
    return np.maximum(out, 0.0)


def _ffill(arr: FloatArray) -> FloatArray:
    mask = np.isnan(arr)
    idx = np.where(~mask, np.arange(arr.shape[1])[None, :], 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    out: FloatArray = arr[np.arange(arr.shape[0])[:, None], idx]  # leading gaps stay NaN
    return out


def forecast_need(load: Mapping[str, FloatArray], rules: Sequence[NeedRule], shape: tuple[int, int]) -> FloatArray:
    """Daily need of one resource, (regions, horizon): the sum over its rules of ``per_day * load[basis]``."""
    need = np.zeros(shape)
    for rule in rules:
        basis = load.get(rule.basis)
        if basis is not None:
            need += rule.per_day * np.broadcast_to(np.asarray(basis, dtype=np.float64), shape)
    return need


def days_of_supply_consumable(on_hand: FloatArray, demand: FloatArray) -> FloatArray:
    """(regions,) days until the cumulative demand (regions, horizon) first exceeds what is on hand."""
    stock = np.maximum(np.asarray(on_hand, dtype=np.float64), 0.0)
    d = np.maximum(np.asarray(demand, dtype=np.float64), 0.0)
    regions, horizon = d.shape
    if horizon == 0:
        return np.full(regions, np.inf)
    cum = np.cumsum(d, axis=1)
    exceeded = cum > stock[:, None]
    first = np.where(exceeded.any(axis=1), exceeded.argmax(axis=1), horizon)
    rows = np.arange(regions)
    before = np.where(first > 0, cum[rows, np.maximum(first - 1, 0)], 0.0)
    inside = first < horizon
    day_demand = d[rows, np.minimum(first, horizon - 1)]
    frac = np.divide(stock - before, day_demand, out=np.zeros(regions), where=day_demand > 0)
    tail = d[:, -1]
    beyond = np.divide(stock - cum[:, -1], tail, out=np.full(regions, np.inf), where=tail > 0)
    out = np.where(inside, first + frac, horizon + beyond)
    return np.where(cum[:, -1] <= 0, np.inf, out)


def days_of_supply_reusable(units: FloatArray, needed: FloatArray) -> FloatArray:
    """(regions,) first day index (0-based) on which the units needed at once (regions, horizon) exceed the units."""
    cap = np.asarray(units, dtype=np.float64)
    d = np.asarray(needed, dtype=np.float64)
    over = d > cap[:, None]
    return np.where(over.any(axis=1), over.argmax(axis=1).astype(np.float64), np.inf)


def alert_levels(days: FloatArray, critical: FloatArray, warning: FloatArray) -> NDArray[np.str_]:
    d = np.asarray(days, dtype=np.float64)
    return np.where(d < critical, "critical", np.where(d < warning, "warning", "ok")).astype(np.str_)


def bulletin_sentence(rows: Sequence[Mapping[str, object]], lang: str = "en") -> str:
    """One sentence for the daily bulletin from the alert rows (region, resource, days, level), worst first."""
    urgent = [r for r in rows if r.get("level") in ("critical", "warning")]
    if not urgent:
        return "没有地区面临物资短缺预警。" if lang == "zh" else "No region is on a stock-out alert."
    crit = sum(1 for r in urgent if r["level"] == "critical")
    worst = urgent[0]
    days = float(str(worst["days"]))
    if lang == "zh":
        return (
            f"{len(urgent)} 项物资短缺预警（其中 {crit} 项紧急）；最紧迫的是{worst['region_name']}的"
            f"{worst['resource_name']}，约 {days:.1f} 天后耗尽。"
        )
    return (
        f"{len(urgent)} stock-out alert{'s' if len(urgent) != 1 else ''} ({crit} critical); the most urgent is "
        f"{worst['resource_name']} in {worst['region_name']}, about {days:.1f} days from running out."
    )

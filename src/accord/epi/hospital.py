"""Hospital demand: daily census of general beds, ICU beds and ventilators from daily admissions, for all regions
at once, and the days until each region's capacity is exceeded (CHIME-like, vectorised).

A patient admitted on day ``d`` occupies a bed on days ``d, d+1, ..., d+los-1``. With a length-of-stay
distribution ``p_k = P(LOS = k days)``, ``k >= 1``, the expected census is the admissions filtered by the survival
function ``S_k = P(LOS > k)``::

    census_t = sum_{k>=0} S_k A_{t-k}

A fixed stay of ``n`` days (CHIME's assumption) is ``S_k = 1`` for ``k < n``, else 0: ``census_t`` is then the sum of
the last ``n`` days of admissions. Of those admitted, a share ``icu_share`` needs intensive care and ``vent_share``
a ventilator (CHIME's ICU and ventilated rates relative to hospitalisations), each with its own length of stay;
general-bed demand is all admissions with the general length of stay (CHIME counts every hospitalised patient
in the hospital census).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from accord.epi.rt import causal_filter

FloatArray = NDArray[np.float64]

#: CHIME's defaults (Penn Medicine, 2020): length of stay in days
LOS_GENERAL = 7
LOS_ICU = 9
LOS_VENT = 10


def survival(los: float | ArrayLike) -> FloatArray:
    """``S_k = P(LOS > k)``, ``k = 0, 1, ...`` for a fixed stay of ``los`` days or a pmf over days 0, 1, ..."""
    arr = np.asarray(los, dtype=np.float64)
    if arr.ndim == 0:
        days = float(arr)
        if not (days >= 1 and days == int(days)):
            raise ValueError(f"a fixed length of stay is a whole number of days >= 1, not {days}")
        return np.ones(int(days))
    if arr.ndim != 1 or np.any(arr < 0) or abs(arr.sum() - 1) > 1e-6 or arr[0] != 0:
        raise ValueError(
            "a length-of-stay distribution is probabilities for days 0, 1, ... summing to 1, with 0 on day 0"
        )
    return np.asarray(1.0 - np.cumsum(arr / arr.sum()), dtype=np.float64)[:-1]


def census(admissions: ArrayLike, los: float | ArrayLike) -> FloatArray:
    """Expected occupied beds per day (last axis) from daily admissions, for any number of regions."""
    adm = np.asarray(admissions, dtype=np.float64)
    if not np.all(np.isfinite(adm)) or np.any(adm < 0):
        raise ValueError("admissions must be finite and non-negative")
    return causal_filter(adm, survival(los))


@dataclass(frozen=True)
class Demand:
    general: FloatArray
    icu: FloatArray
    ventilators: FloatArray


def demand(
    admissions: ArrayLike,
    *,
    icu_share: float | ArrayLike = 0.0,
    vent_share: float | ArrayLike = 0.0,
    los_general: float | ArrayLike = LOS_GENERAL,
    los_icu: float | ArrayLike = LOS_ICU,
    los_vent: float | ArrayLike = LOS_VENT,
) -> Demand:
    """General-bed, ICU and ventilator census (regions x days). Shares may be per region (an array of regions)."""
    adm = np.asarray(admissions, dtype=np.float64)
    icu = _per_region(icu_share, adm)
    vent = _per_region(vent_share, adm)
    return Demand(
        general=census(adm, los_general),
        icu=census(adm * icu, los_icu),
        ventilators=census(adm * vent, los_vent),
    )


def _per_region(share: float | ArrayLike, adm: FloatArray) -> FloatArray:
    arr = np.asarray(share, dtype=np.float64)
    if np.any(arr < 0) or np.any(arr > 1):
        raise ValueError("shares of admissions must lie between 0 and 1")
    return arr[..., None] if arr.ndim == 1 and adm.ndim == 2 else arr


def days_to_capacity(census_: ArrayLike, capacity: ArrayLike) -> NDArray[np.int64]:
    """Per region, the first day index (0 = the first day of ``census_``) on which the census exceeds capacity,
    or -1 where it never does within the horizon. ``capacity`` is per region (or per region and day)."""
    occ = np.asarray(census_, dtype=np.float64)
    cap = np.asarray(capacity, dtype=np.float64)
    if cap.ndim == occ.ndim - 1:
        cap = cap[..., None]
    over = occ > cap
    first = np.argmax(over, axis=-1)
    return np.where(over.any(axis=-1), first, -1).astype(np.int64)

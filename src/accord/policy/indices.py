"""The OxCGRT indicator catalogue and policy indices, computed exactly as OxCGRT defines them (pure).

Source: OxCGRT ``documentation_and_codebook.md`` (covid-policy-dataset, final release of June 2023), sections
"Calculating sub-index scores for each indicator" and "Index calculations". For indicator ``j`` on day ``t``
with ordinal value ``v`` (maximum ``N_j``), flag ``f`` (1 general, 0 targeted) and ``F_j`` = 1 when the
indicator has a flag::

    I_jt = 100 * (v_jt - 0.5 * (F_j - f_jt)) / N_j        and I_jt = 0 when v_jt = 0

A missing flag with ``v > 0`` counts as general (``f = F_j``): the flag only lowers a score when it says
"targeted" (so with flags unknown, as in the legacy per-indicator files, the result is an upper bound). Each
index is the plain mean of its components' sub-indices (a day with any component missing has no index).
OxCGRT publishes the indices rounded to two decimals; we return them unrounded.
In 2020 no policy was differentiated by vaccination status, so the ``E`` (everyone) index equals the
``_Average`` one the time series files carry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class IndicatorDef:
    code: str
    name: str
    max_level: int  # N_j
    has_flag: bool  # F_j
    flag_meaning: str  # what flag = 0 means
    levels: tuple[str, ...]  # label of each ordinal level, 0..N_j


_GEO = "targeted (part of the jurisdiction)"

#: C1-C8 containment and closure, E1-E2 economic support, H1-H8 health system (the ordinal ones; E3, E4, H4 and
#: H5 are dollar amounts, not measures with a level, and are not part of any index).
INDICATORS: Final[dict[str, IndicatorDef]] = {
    d.code: d
    for d in (
        IndicatorDef(
            "C1",
            "School closing",
            3,
            True,
            _GEO,
            ("no measures", "recommend closing", "require closing some levels", "require closing all levels"),
        ),
        IndicatorDef(
            "C2",
            "Workplace closing",
            3,
            True,
            _GEO,
            ("no measures", "recommend closing", "require closing some sectors", "require closing all-but-essential"),
        ),
        IndicatorDef(
            "C3", "Cancel public events", 2, True, _GEO, ("no measures", "recommend cancelling", "require cancelling")
        ),
        IndicatorDef(
            "C4",
            "Restrictions on gatherings",
            4,
            True,
            _GEO,
            ("no restrictions", "above 1000 people", "101-1000 people", "11-100 people", "10 people or less"),
        ),
        IndicatorDef(
            "C5", "Close public transport", 2, True, _GEO, ("no measures", "recommend closing", "require closing")
        ),
        IndicatorDef(
            "C6",
            "Stay at home requirements",
            3,
            True,
            _GEO,
            ("no measures", "recommend staying home", "require, with exceptions", "require, minimal exceptions"),
        ),
        IndicatorDef(
            "C7",
            "Restrictions on internal movement",
            2,
            True,
            _GEO,
            ("no measures", "recommend not to travel", "restrictions in place"),
        ),
        IndicatorDef(
            "C8",
            "International travel controls",
            4,
            False,
            "",
            ("no restrictions", "screening", "quarantine arrivals", "ban some regions", "total border closure"),
        ),
        IndicatorDef(
            "E1",
            "Income support",
            2,
            True,
            "formal or informal sector workers only",
            ("no income support", "less than 50% of lost salary", "50% or more of lost salary"),
        ),
        IndicatorDef(
            "E2", "Debt/contract relief", 2, False, "", ("no relief", "narrow relief", "broad debt/contract relief")
        ),
        IndicatorDef(
            "H1",
            "Public information campaigns",
            2,
            True,
            _GEO,
            ("no campaign", "officials urging caution", "coordinated campaign"),
        ),
        IndicatorDef(
            "H2",
            "Testing policy",
            3,
            False,
            "",
            ("no testing policy", "symptoms and criteria", "anyone with symptoms", "open public testing"),
        ),
        IndicatorDef("H3", "Contact tracing", 2, False, "", ("no contact tracing", "limited", "comprehensive")),
        IndicatorDef(
            "H6",
            "Facial coverings",
            4,
            True,
            _GEO,
            ("no policy", "recommended", "required in some spaces", "required in all shared spaces", "required always"),
        ),
        IndicatorDef(
            "H7",
            "Vaccination policy",
            5,
            True,
            "at cost to the individual",
            ("no availability", "one group", "two groups", "all three groups", "partial additional", "universal"),
        ),
        IndicatorDef(
            "H8",
            "Protection of elderly people",
            3,
            True,
            _GEO,
            ("no measures", "recommended", "narrow restrictions", "extensive restrictions"),
        ),
    )
}

CODES: Final[tuple[str, ...]] = tuple(INDICATORS)

#: components of each index (codebook table "Policy indices")
INDEX_COMPONENTS: Final[dict[str, tuple[str, ...]]] = {
    "stringency_index": ("C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "H1"),
    "containment_health_index": ("C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "H1", "H2", "H3", "H6", "H7", "H8"),
    "government_response_index": (
        *("C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "E1", "E2"),
        *("H1", "H2", "H3", "H6", "H7", "H8"),
    ),
    "economic_support_index": ("E1", "E2"),
}


def check_level(code: str, level: int) -> str | None:
    """Why ``level`` is not a valid value of indicator ``code``, or None when it is."""
    ind = INDICATORS.get(code)
    if ind is None:
        return f"unknown indicator code '{code}' (known: {', '.join(CODES)})"
    if not 0 <= level <= ind.max_level:
        return f"level {level} is out of range for {code} ({ind.name}): 0 to {ind.max_level}"
    return None


def sub_index(code: str, level: npt.ArrayLike, flag: npt.ArrayLike | None = None) -> FloatArray:
    """OxCGRT sub-index score ``I_jt`` for one indicator, vectorised; NaN where the level is missing.

    ``flag``: 1 general, 0 targeted, NaN unknown (counts as general); ignored for indicators without a flag.
    """
    ind = INDICATORS[code]
    v = np.asarray(level, dtype=np.float64)
    if ind.has_flag and flag is not None:
        f = np.asarray(flag, dtype=np.float64)
        f = np.where(np.isnan(f), 1.0, f)
        half_steps = 0.5 * (1.0 - f)
    else:
        half_steps = np.zeros_like(v)
    score = 100.0 * (v - half_steps) / ind.max_level
    return np.where(v == 0, 0.0, score)


def strictness(code: str, level: npt.ArrayLike, targeted: npt.ArrayLike) -> FloatArray:
    """A measure's place on the indicator's scale: its sub-index (a targeted measure is half a step lower)."""
    flag = np.where(np.asarray(targeted, dtype=bool), 0.0, 1.0)
    return sub_index(code, level, flag)


def compute_indices(levels: pd.DataFrame, flags: pd.DataFrame | None = None) -> pd.DataFrame:
    """The four OxCGRT indices for every row of ``levels`` (one column per indicator code, any index).

    ``flags`` has the same shape (missing columns or values count as general). Returns a frame with the same
    index and one column per index in ``INDEX_COMPONENTS``; a row lacking a component gets NaN for that index.
    """
    scores: dict[str, FloatArray] = {}
    for code in CODES:
        if code not in levels.columns:
            continue
        flag = flags[code].to_numpy(dtype=np.float64) if flags is not None and code in flags.columns else None
        scores[code] = sub_index(code, levels[code].to_numpy(dtype=np.float64), flag)
    out = {}
    for name, components in INDEX_COMPONENTS.items():
        if all(c in scores for c in components):
            out[name] = np.mean(np.stack([scores[c] for c in components], axis=1), axis=1)
    return pd.DataFrame(out, index=levels.index)

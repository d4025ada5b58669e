"""Measures -> model: what each OxCGRT-coded measure does to contacts by setting and to mobility.

Every measure (indicator ``C1``..``C8``, ``H1``..``H8`` at an ordinal level) has a **multiplier** per contact setting
of the metapopulation model (home, school, work, community; 1 = no change) and a multiplier of the share of time
residents spend outside their region (mobility; 1 = no change). The measures in force in a region on a day combine
multiplicatively::

    kappa[t, i, s] = prod_m  e[m, level_m(t, i), s] ** (w_m(t, i) * theta)
    mobility[t, i] = prod_m  e[m, level_m(t, i), mobility] ** (w_m(t, i) * theta)

``w`` is 1 for a general measure and ``targeted_weight`` (default 0.5: it covers part of the region; an assumption)
for a targeted one (OxCGRT flag 0). ``theta`` (default 1) scales every effect at once on the log scale: it is the one
number a calibration fits (:mod:`accord.policy.scenarios`), keeping the *relative* sizes of the defaults.

The defaults (:data:`DEFAULT_EFFECTS`) are published estimates where they exist and labelled assumptions otherwise;
each row carries its source. They are meant to be overridden (:meth:`EffectTable.with_overrides`) by anyone with
better local evidence. Economic support (E1, E2) and vaccination (H7) have no transmission effect here; E1 enters the
economic cost (:mod:`accord.policy.economics`), H7 is outside a 2020 model.

Where only an index is recorded (OxCGRT's Chinese provinces have the stringency index but not the indicators),
:func:`from_index` scales the effect of a reference bundle of measures (the national indicators) by the ratio of
indices, log-linearly: a province at half the reference stringency gets the square root of the bundle's multipliers.

Pure: numpy only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

SETTINGS = ("home", "school", "work", "community")
TARGETS = (*SETTINGS, "mobility")
#: OxCGRT ordinal indicators and their highest level (codebook, June 2023)
MAX_LEVEL: dict[str, int] = {
    "C1": 3, "C2": 3, "C3": 2, "C4": 4, "C5": 2, "C6": 3, "C7": 2, "C8": 4,
    "E1": 2, "E2": 2, "H1": 2, "H2": 3, "H3": 2, "H6": 4, "H7": 5, "H8": 3,
}  # fmt: skip
INDICATORS: tuple[str, ...] = tuple(MAX_LEVEL)
#: the share of a targeted measure's effect that applies region-wide (assumption: it covers part of the region)
TARGETED_WEIGHT = 0.5

_PREM = "Prem et al., Lancet Public Health 2020;5:e261 (Wuhan: school contacts to ~0 when closed, work to 10% under intense control)"  # noqa: E501
_BRAUNER = (
    "Brauner et al., Science 2021;371:eabd9338 (effect on R of closing schools/universities, gatherings, businesses)"
)
_GOOGLE = (
    "Google COVID-19 Community Mobility Reports 2020 (workplace/retail visits -40..-70% under stay-at-home orders)"
)
_KRAEMER = "Kraemer et al., Science 2020;368:493 (Wuhan outflow fell ~90% after the 23 Jan 2020 cordon, Baidu)"
_CHU = "Chu et al., Lancet 2020;395:1973 (face masks: risk ratio 0.15 in health care, 0.56 in community settings)"
_KUCHARSKI = "Kucharski et al., Lancet Infect Dis 2020;20:1151 (isolation + tracing: R -57..64%; level 2 taken as -45%)"
_ASSUMPTION = "assumption (no published per-level estimate); override with local evidence"


@dataclass(frozen=True)
class Effect:
    """Multipliers of one measure at one level: contacts per setting and mobility (1 = no change)."""

    indicator: str
    level: int
    home: float = 1.0
    school: float = 1.0
    work: float = 1.0
    community: float = 1.0
    mobility: float = 1.0
    source: str = ""

    def __post_init__(self) -> None:
        if self.indicator not in MAX_LEVEL:
            raise ValueError(f"unknown OxCGRT indicator {self.indicator!r} (known: {', '.join(INDICATORS)})")
        if not 0 <= self.level <= MAX_LEVEL[self.indicator]:
            raise ValueError(f"{self.indicator} has levels 0..{MAX_LEVEL[self.indicator]}, not {self.level}")
        values = self.multipliers
        if np.any(values < 0) or not np.all(np.isfinite(values)) or self.mobility > 1:
            raise ValueError(f"{self.indicator} level {self.level}: multipliers are >= 0 and mobility at most 1")

    @property
    def multipliers(self) -> FloatArray:
        return np.array([getattr(self, t) for t in TARGETS], dtype=np.float64)


def _e(ind: str, level: int, source: str, **m: float) -> Effect:
    return Effect(ind, level, source=source, **m)


#: Default effects per measure and level (documented in docs/scenarios.md with their sources).
DEFAULT_EFFECTS: tuple[Effect, ...] = (
    _e("C1", 1, _ASSUMPTION, school=0.75),
    _e("C1", 2, _BRAUNER, school=0.4),
    _e("C1", 3, _PREM, school=0.05),
    _e("C2", 1, _GOOGLE, work=0.85),
    _e("C2", 2, _GOOGLE, work=0.6, community=0.9),
    _e("C2", 3, _PREM, work=0.25, community=0.8),
    _e("C3", 1, _ASSUMPTION, community=0.95),
    _e("C3", 2, _BRAUNER, community=0.85),
    _e("C4", 1, _BRAUNER, community=0.95),
    _e("C4", 2, _BRAUNER, community=0.9),
    _e("C4", 3, _BRAUNER, community=0.8),
    _e("C4", 4, _BRAUNER, community=0.7),
    _e("C5", 1, _ASSUMPTION, community=0.95, mobility=0.9),
    _e("C5", 2, _ASSUMPTION, community=0.9, mobility=0.7),
    _e("C6", 1, _GOOGLE, work=0.9, community=0.8),
    _e("C6", 2, _GOOGLE, home=1.1, work=0.75, community=0.5),
    _e("C6", 3, _PREM, home=1.2, work=0.6, community=0.3),
    _e("C7", 1, _ASSUMPTION, mobility=0.6),
    _e("C7", 2, _KRAEMER, mobility=0.1),
    _e("H1", 1, _ASSUMPTION, community=0.97, work=0.97),
    _e("H1", 2, _ASSUMPTION, community=0.93, work=0.95),
    _e("H2", 1, _ASSUMPTION, home=0.98, school=0.98, work=0.98, community=0.98),
    _e("H2", 2, _ASSUMPTION, home=0.95, school=0.95, work=0.95, community=0.95),
    _e("H2", 3, _ASSUMPTION, home=0.92, school=0.92, work=0.92, community=0.92),
    _e("H3", 1, _KUCHARSKI, home=0.85, school=0.85, work=0.85, community=0.85),
    _e("H3", 2, _KUCHARSKI, home=0.55, school=0.55, work=0.55, community=0.55),
    _e("H6", 1, _CHU, school=0.95, work=0.95, community=0.9),
    _e("H6", 2, _CHU, school=0.9, work=0.85, community=0.8),
    _e("H6", 3, _CHU, school=0.85, work=0.8, community=0.7),
    _e("H6", 4, _CHU, school=0.8, work=0.75, community=0.65),
    _e("H8", 1, _ASSUMPTION, home=0.98, community=0.98),
    _e("H8", 2, _ASSUMPTION, home=0.95, community=0.95),
    _e("H8", 3, _ASSUMPTION, home=0.92, community=0.92),
)


@dataclass(frozen=True, eq=False)
class EffectTable:
    """Multipliers for every indicator and level: ``table[indicator index, level, target]`` (level 0 = 1)."""

    effects: tuple[Effect, ...] = DEFAULT_EFFECTS
    targeted_weight: float = TARGETED_WEIGHT
    log_table: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.targeted_weight <= 1:
            raise ValueError("targeted_weight must lie between 0 and 1")
        table = np.ones((len(INDICATORS), max(MAX_LEVEL.values()) + 1, len(TARGETS)))
        seen: set[tuple[str, int]] = set()
        for eff in self.effects:
            key = (eff.indicator, eff.level)
            if key in seen:
                raise ValueError(f"two effects given for {eff.indicator} level {eff.level}")
            seen.add(key)
            table[INDICATORS.index(eff.indicator), eff.level] = eff.multipliers
        with np.errstate(divide="ignore"):
            object.__setattr__(self, "log_table", np.log(table))

    def with_overrides(self, overrides: Iterable[Effect]) -> EffectTable:
        """A table where the given (indicator, level) rows replace the defaults."""
        new = {(e.indicator, e.level): e for e in overrides}
        kept = [e for e in self.effects if (e.indicator, e.level) not in new]
        return EffectTable((*kept, *new.values()), self.targeted_weight)

    def effect(self, indicator: str, level: int) -> FloatArray:
        """Multipliers (home, school, work, community, mobility) of one measure."""
        check_level(indicator, level)
        return np.asarray(np.exp(self.log_table[INDICATORS.index(indicator), level]), dtype=np.float64)

    def rows(self) -> list[dict[str, object]]:
        """The table as records (for pages, CSV and docs)."""
        return [
            {"indicator": e.indicator, "level": e.level, **dict(zip(TARGETS, e.multipliers.tolist(), strict=True)),
             "source": e.source}
            for e in sorted(self.effects, key=lambda e: (INDICATORS.index(e.indicator), e.level))
        ]  # fmt: skip


def check_level(indicator: str, level: int) -> None:
    if indicator not in MAX_LEVEL:
        raise ValueError(f"unknown OxCGRT indicator {indicator!r} (known: {', '.join(INDICATORS)})")
    if not 0 <= level <= MAX_LEVEL[indicator]:
        raise ValueError(f"{indicator} has levels 0..{MAX_LEVEL[indicator]}, not {level}")


def bundle(levels: Mapping[str, int]) -> IntArray:
    """A vector of levels (one per :data:`INDICATORS`) from ``{"C1": 3, ...}``; unnamed indicators at 0."""
    out = np.zeros(len(INDICATORS), dtype=np.int64)
    for ind, level in levels.items():
        check_level(ind, int(level))
        out[INDICATORS.index(ind)] = int(level)
    return out


def multipliers(
    levels: ArrayLike,
    general: ArrayLike | None = None,
    table: EffectTable | None = None,
    theta: float = 1.0,
) -> tuple[FloatArray, FloatArray]:
    """Contact scaling ``(..., 4 settings)`` and mobility scaling ``(...)`` from ordinal levels ``(..., indicators)``
    (last axis in :data:`INDICATORS` order, e.g. ``days x regions x 16``); ``general`` (same shape, bool) marks
    general measures (default: all general)."""
    tab = table or EffectTable()
    lev = np.asarray(levels, dtype=np.int64)
    if lev.shape[-1:] != (len(INDICATORS),):
        raise ValueError(f"levels need a last axis of {len(INDICATORS)} indicators ({', '.join(INDICATORS)})")
    top = np.array([MAX_LEVEL[i] for i in INDICATORS])
    if np.any(lev < 0) or np.any(lev > top):
        bad = int(np.argmax(np.any((lev < 0) | (lev > top), axis=tuple(range(lev.ndim - 1)))))
        raise ValueError(f"{INDICATORS[bad]} has levels 0..{top[bad]}")
    weight = np.ones(lev.shape) if general is None else np.where(np.asarray(general, bool), 1.0, tab.targeted_weight)
    logs = tab.log_table[np.arange(len(INDICATORS)), lev]  # (..., indicators, targets)
    total = np.einsum("...m,...mt->...t", weight * theta, np.where(np.isfinite(logs), logs, -1e3))
    out = np.exp(total)
    return np.asarray(out[..., :4], dtype=np.float64), np.asarray(np.clip(out[..., 4], 0.0, 1.0), dtype=np.float64)


def from_index(
    index: ArrayLike,
    reference: ArrayLike,
    reference_index: float,
    table: EffectTable | None = None,
    theta: float = 1.0,
) -> tuple[FloatArray, FloatArray]:
    """Contact and mobility scaling where only a policy index (0-100, e.g. ``days x regions``) is recorded: the
    effect of the ``reference`` bundle of levels (whose index is ``reference_index``) raised to
    ``index / reference_index``. NaN (no data) counts as no measure."""
    if not reference_index > 0:
        raise ValueError("the reference bundle must have a positive index")
    kappa_ref, mob_ref = multipliers(np.asarray(reference)[None], table=table, theta=theta)
    power = np.nan_to_num(np.asarray(index, dtype=np.float64), nan=0.0) / reference_index
    if np.any(power < 0):
        raise ValueError("a policy index is between 0 and 100")
    kappa = np.exp(power[..., None] * np.log(np.maximum(kappa_ref[0], 1e-300)))
    mob = np.exp(power * np.log(np.maximum(mob_ref[0], 1e-300)))
    return np.asarray(kappa, dtype=np.float64), np.asarray(np.clip(mob, 0.0, 1.0), dtype=np.float64)


def _positions(values: Sequence[object], keys: Sequence[object]) -> IntArray:
    """Index of each value in ``keys`` (-1 where absent), by one dictionary pass over the distinct values."""
    distinct, inverse = np.unique(np.asarray(values, dtype=object).astype(str), return_inverse=True)
    lookup = {str(k): i for i, k in enumerate(keys)}
    return np.asarray([lookup.get(v, -1) for v in distinct], dtype=np.int64)[inverse.ravel()]


def levels_from_long(
    frame_region: Sequence[str],
    frame_date: Sequence[object],
    frame_indicator: Sequence[str],
    frame_level: ArrayLike,
    frame_flag: ArrayLike | None,
    regions: Sequence[str],
    dates: Sequence[object],
) -> tuple[IntArray, NDArray[np.bool_]]:
    """``days x regions x indicators`` levels and general-flags from the columns of a long OxCGRT frame (region,
    date, indicator, level, flag: 1 general, 0 targeted, missing = general). A day without a record carries the
    last recorded level forward (OxCGRT records the policy in force); before the first record, 0."""
    levels = np.full((len(dates), len(regions), len(INDICATORS)), -1, dtype=np.int64)
    general = np.ones(levels.shape, dtype=bool)
    lev = np.asarray(frame_level, dtype=np.float64)
    flag = np.ones(lev.shape) if frame_flag is None else np.asarray(frame_flag, dtype=np.float64)
    ri = _positions(frame_region, regions)
    di = _positions(frame_date, dates)
    mi = _positions(frame_indicator, INDICATORS)
    use = (ri >= 0) & (di >= 0) & (mi >= 0) & np.isfinite(lev)
    top = np.array([MAX_LEVEL[i] for i in INDICATORS])
    bad = use & ((lev < 0) | (lev > top[np.maximum(mi, 0)]) | (lev != np.round(lev)))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        check_level(INDICATORS[mi[k]], int(lev[k]))
        raise ValueError(f"{INDICATORS[mi[k]]} has levels 0..{top[mi[k]]}, not {lev[k]}")
    levels[di[use], ri[use], mi[use]] = lev[use].astype(np.int64)
    general[di[use], ri[use], mi[use]] = ~(np.isfinite(flag[use]) & (flag[use] == 0))
    # carry forward: the index of the last day with a record, per region and indicator
    have = levels >= 0
    last = np.maximum.accumulate(np.where(have, np.arange(len(dates))[:, None, None], -1), axis=0)
    filled = np.take_along_axis(levels, np.maximum(last, 0), axis=0)
    flags = np.take_along_axis(general, np.maximum(last, 0), axis=0)
    return np.where(last >= 0, filled, 0).astype(np.int64), np.where(last >= 0, flags, True)

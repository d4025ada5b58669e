"""Economic cost of measures: output lost per day by measure level and sector, plus income-support spending.

Model (per region and day)::

    loss_share[sector] = 1 - prod_m (1 - l[m, level_m, sector])          (measures combine like independent cuts)
    output_lost        = GDP_per_day * sum_sector  w[sector] * loss_share[sector]
    support            = output_lost * labour_share * replacement[E1 level] * coverage[E1 flag]
    cost               = output_lost + support

``GDP_per_day`` is the region's GDP per capita per day times its population, ``w`` the sectors' shares of GDP. All of
it is configurable (:class:`EconomicParams`); the defaults are documented in docs/scenarios.md:

- sector shares: China 2019 value added by industry (National Bureau of Statistics, China Statistical Yearbook
  2020: primary 7.1%, industry 31.8%, construction 7.2%, wholesale/retail and transport 13.8%, hotels and catering
  1.8%, education ~4% (assumption within "other services"), other services the rest);
- GDP per capita 70,892 yuan in 2019 (NBS statistical communiqué, 28 Feb 2020);
- losses per measure and sector: labelled assumptions, sized so that the full bundle China had in February 2020
  (C1-C2 3, C3 2, C4 4, C5 2, C6 3, C7 2) removes ~27% of output: OECD (2020), "Evaluating the initial impact of
  COVID-19 containment measures on economic activity" (a fall of one-fifth to one-quarter in the level of output
  under full shutdown), and China's February 2020 industrial output, -25% year on year (NBS);
- labour share 0.51 (China's labour share of GDP, NBS flow of funds, ~2017) and income replacement by E1 level
  (1: below half of lost salary -> 0.25, 2: half or more -> 0.5, OxCGRT codebook), coverage 1 for all workers (flag 1)
  and 0.6 for one sector only (flag 0, assumption).

Pure: numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from accord.policy.effects import INDICATORS, MAX_LEVEL, check_level

FloatArray = NDArray[np.float64]

SECTORS = ("agriculture", "industry", "construction", "trade_transport", "hospitality", "education", "other_services")
#: China 2019 shares of GDP by sector (NBS, China Statistical Yearbook 2020); education an assumption
SECTOR_SHARES = (0.071, 0.318, 0.072, 0.138, 0.018, 0.040, 0.343)
#: China 2019 GDP per capita, yuan (NBS statistical communiqué 2020)
GDP_PER_CAPITA_YEAR = 70_892.0
LABOUR_SHARE = 0.51
REPLACEMENT = (0.0, 0.25, 0.5)
COVERAGE_TARGETED = 0.6

#: share of each sector's output lost while a measure is in force: {(indicator, level): {sector: share}}
DEFAULT_LOSSES: dict[tuple[str, int], dict[str, float]] = {
    ("C1", 1): {"education": 0.1},
    ("C1", 2): {"education": 0.5, "other_services": 0.01},
    ("C1", 3): {"education": 0.8, "other_services": 0.02, "industry": 0.01},
    ("C2", 1): {"industry": 0.02, "construction": 0.02, "trade_transport": 0.03, "hospitality": 0.03,
                "other_services": 0.02},
    ("C2", 2): {"industry": 0.08, "construction": 0.15, "trade_transport": 0.12, "hospitality": 0.3,
                "other_services": 0.05},
    ("C2", 3): {"agriculture": 0.05, "industry": 0.2, "construction": 0.4, "trade_transport": 0.25,
                "hospitality": 0.6, "other_services": 0.08},
    ("C3", 1): {"hospitality": 0.03},
    ("C3", 2): {"hospitality": 0.1, "other_services": 0.01},
    ("C4", 1): {"hospitality": 0.02},
    ("C4", 2): {"hospitality": 0.05},
    ("C4", 3): {"hospitality": 0.15, "trade_transport": 0.02},
    ("C4", 4): {"hospitality": 0.25, "trade_transport": 0.05},
    ("C5", 1): {"trade_transport": 0.03},
    ("C5", 2): {"trade_transport": 0.1},
    ("C6", 1): {"hospitality": 0.1, "trade_transport": 0.05},
    ("C6", 2): {"hospitality": 0.3, "trade_transport": 0.12, "other_services": 0.02},
    ("C6", 3): {"hospitality": 0.5, "trade_transport": 0.2, "other_services": 0.03, "industry": 0.05},
    ("C7", 1): {"trade_transport": 0.03, "hospitality": 0.03},
    ("C7", 2): {"trade_transport": 0.1, "hospitality": 0.1},
    ("C8", 3): {"hospitality": 0.03, "trade_transport": 0.01},
    ("C8", 4): {"hospitality": 0.05, "trade_transport": 0.03},
}  # fmt: skip


@dataclass(frozen=True, eq=False)
class EconomicParams:
    """Configurable economics. ``losses`` maps (indicator, level) to sector loss shares (others 0)."""

    gdp_per_capita_year: float = GDP_PER_CAPITA_YEAR
    sector_shares: tuple[float, ...] = SECTOR_SHARES
    losses: dict[tuple[str, int], dict[str, float]] = field(default_factory=lambda: dict(DEFAULT_LOSSES))
    labour_share: float = LABOUR_SHARE
    replacement: tuple[float, ...] = REPLACEMENT
    coverage_targeted: float = COVERAGE_TARGETED
    currency: str = "CNY"
    log_keep: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        shares = np.asarray(self.sector_shares, dtype=np.float64)
        if shares.shape != (len(SECTORS),) or np.any(shares < 0) or abs(shares.sum() - 1) > 1e-6:
            raise ValueError(f"sector_shares are {len(SECTORS)} non-negative shares of GDP summing to 1")
        if not self.gdp_per_capita_year >= 0:
            raise ValueError("gdp_per_capita_year must be non-negative")
        if len(self.replacement) != MAX_LEVEL["E1"] + 1 or not all(0 <= r <= 1 for r in self.replacement):
            raise ValueError("replacement is one share (0-1) per E1 level 0..2")
        keep = np.ones((len(INDICATORS), max(MAX_LEVEL.values()) + 1, len(SECTORS)))
        for (ind, level), by_sector in self.losses.items():
            check_level(ind, level)
            for sector, share in by_sector.items():
                if sector not in SECTORS:
                    raise ValueError(f"unknown sector {sector!r} in the losses of {ind} level {level}")
                if not 0 <= share <= 1:
                    raise ValueError(f"{ind} level {level}, {sector}: a lost share lies between 0 and 1")
                keep[INDICATORS.index(ind), level, SECTORS.index(sector)] = 1 - share
        with np.errstate(divide="ignore"):
            object.__setattr__(self, "log_keep", np.log(keep))

    @property
    def gdp_per_capita_day(self) -> float:
        return self.gdp_per_capita_year / 365.0


def output_lost_share(levels: ArrayLike, params: EconomicParams | None = None) -> FloatArray:
    """Share of GDP lost (0-1) under ordinal levels ``(..., indicators)`` in :data:`INDICATORS` order."""
    prm = params or EconomicParams()
    lev = np.asarray(levels, dtype=np.int64)
    logs = prm.log_keep[np.arange(len(INDICATORS)), lev]  # (..., indicators, sectors)
    kept = np.exp(np.where(np.isfinite(logs), logs, -1e3).sum(axis=-2))
    return np.asarray((1 - kept) @ np.asarray(prm.sector_shares), dtype=np.float64)


@dataclass(frozen=True)
class Cost:
    """Daily costs, ``days x regions`` (currency units)."""

    output_lost: FloatArray
    support: FloatArray

    @property
    def total(self) -> FloatArray:
        return np.asarray(self.output_lost + self.support, dtype=np.float64)


def daily_cost(
    levels: ArrayLike, population: ArrayLike, general: ArrayLike | None = None, params: EconomicParams | None = None
) -> Cost:
    """Output lost and income-support spending per day and region from levels ``days x regions x indicators``
    and residents per region."""
    prm = params or EconomicParams()
    lev = np.asarray(levels, dtype=np.int64)
    pop = np.asarray(population, dtype=np.float64)
    if lev.ndim != 3 or pop.shape != lev.shape[1:2]:
        raise ValueError("levels are days x regions x indicators and population one value per region")
    lost = output_lost_share(lev, prm) * pop[None, :] * prm.gdp_per_capita_day
    e1 = INDICATORS.index("E1")
    replacement = np.asarray(prm.replacement)[lev[..., e1]]
    flag = np.ones(lev.shape[:2], bool) if general is None else np.asarray(general, bool)[..., e1]
    coverage = np.where(flag, 1.0, prm.coverage_targeted)
    support = lost * prm.labour_share * replacement * coverage
    return Cost(np.asarray(lost, dtype=np.float64), np.asarray(support, dtype=np.float64))

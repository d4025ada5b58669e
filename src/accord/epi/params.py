"""Default COVID-19 (wild type, 2020) parameters for the metapopulation model, with their literature sources.

Every value below is a published estimate or an explicitly labelled modelling assumption; none is fitted here.
Durations are **means** of the exponentially distributed stays of the compartmental model (days).

Natural history (see :mod:`accord.epi.metapop` for the compartments)::

    S -> E -> P -> I -> H -> R | D          (symptomatic; a share of I is admitted to a general ward H ...)
                     \\-> C -> R | D        (... or straight to intensive care C)
              \\-> A -> R                   (asymptomatic / subclinical)

- Incubation period 5.2 days (95% CI 4.1-7.0): Li et al., N Engl J Med 2020;382:1199 (425 cases, Wuhan).
- Presymptomatic infectious period 2.1 days: Davies et al., Nat Med 2020;26:1205 (their ``d_P``); He et al.,
  Nat Med 2020;26:672 estimate that infectiousness starts 2.3 days (95% CI 0.8-3.0) before symptom onset.
- Latent period = incubation - presymptomatic period = 5.2 - 2.1 = 3.1 days (Davies et al. use 3.0).
- Symptomatic stay 5 days: the assumed delay from symptom onset to hospitalisation in Ferguson et al., Imperial
  College Report 9 (16 March 2020); those not admitted recover (stop being infectious) after the same mean stay.
- Asymptomatic (subclinical) infectious period 5 days and relative infectiousness 0.5: Davies et al. 2020
  (``d_S = 5``, ``f = 0.5``, an assumption of theirs, the midpoint of the range then considered).
- Share of infections that become clinical (symptomatic), by age: Davies et al. 2020 estimate 21% (95% CrI 12-31%)
  in 10-19-year-olds rising to 69% (57-82%) in people over 70; the per-decade values below are their posterior
  means as plotted in their Fig. 2 (read to two decimals, so treat the second digit as approximate).
- Infection-hospitalisation ratio by decade of age: Verity et al., Lancet Infect Dis 2020;20:669, Table 3
  (proportion of infected individuals hospitalised, China). The model's probability of admission *given
  symptoms* is that ratio divided by the clinical share, so that admissions per infection reproduce Verity et al.
- Share of hospitalised patients needing critical care, by decade: Ferguson et al. Report 9, Table 1.
- Infection-fatality ratio by decade: Verity et al. 2020, Table 1. All deaths occur in hospital in this model: half
  of critical-care patients die (Ferguson et al. Report 9: "approximately 50%"), and the death probability of
  general-ward patients is set so that deaths per infection reproduce Verity et al.'s IFR (see
  :func:`ward_fatality`). Two exceptions: ages 0-9 (no admissions in Verity et al., so no deaths in the model:
  IFR 0.0016% is dropped) and 30-39, where half the ICU patients dying already gives an IFR 1.6% above Verity's
  (ward fatality 0 there).
- Lengths of stay: general ward 7 days, ICU 9 days, CHIME's defaults (Penn Medicine 2020), as in
  :mod:`accord.epi.hospital`.
- Basic reproduction number 2.2 (95% CI 1.4-3.9): Li et al. 2020, used to set the transmission rate per contact
  from a contact matrix (:func:`accord.epi.metapop.beta_for_r0`).

Decade tables (ages 0-9, 10-19, ..., 70-79, 80+) are mapped to any set of age bands by averaging over the single
years each band covers, the open top band being taken to cover up to age 89 (:func:`to_bands`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

#: incubation period (days), Li et al. NEJM 2020
INCUBATION = 5.2
#: presymptomatic infectious period (days), Davies et al. Nat Med 2020
PRESYMPTOMATIC = 2.1
#: latent (non-infectious) period = incubation - presymptomatic
LATENT = INCUBATION - PRESYMPTOMATIC
#: symptomatic stay before admission or recovery (days): onset-to-hospitalisation, Ferguson et al. Report 9
SYMPTOMATIC = 5.0
#: asymptomatic infectious period (days), Davies et al. Nat Med 2020
ASYMPTOMATIC = 5.0
#: relative infectiousness of asymptomatic and of presymptomatic infections (Davies et al. 2020)
REL_INF_ASYMPTOMATIC = 0.5
REL_INF_PRESYMPTOMATIC = 1.0
#: lengths of stay (days): CHIME's defaults, as accord.epi.hospital
LOS_WARD = 7.0
LOS_ICU = 9.0
#: share of critical-care patients who die (Ferguson et al. Report 9)
ICU_FATALITY = 0.5
#: basic reproduction number, Li et al. NEJM 2020
R0 = 2.2

#: lower edges of the decade bands of the tables below (the last is open: 80+)
DECADES = (0, 10, 20, 30, 40, 50, 60, 70, 80)
#: clinical (symptomatic) share of infections, Davies et al. 2020 Fig. 2 (posterior means, approximate)
CLINICAL_FRACTION = (0.29, 0.21, 0.27, 0.33, 0.40, 0.49, 0.63, 0.69, 0.69)
#: infection-hospitalisation ratio, Verity et al. 2020 Table 3 (percent / 100)
IHR = (0.0, 0.000408, 0.0104, 0.0343, 0.0425, 0.0816, 0.118, 0.166, 0.184)
#: share of hospitalised needing critical care, Ferguson et al. Report 9 Table 1
CRITICAL_SHARE = (0.050, 0.050, 0.050, 0.050, 0.063, 0.122, 0.274, 0.432, 0.709)
#: infection-fatality ratio, Verity et al. 2020 Table 1 (percent / 100)
IFR = (0.0000161, 0.0000695, 0.000309, 0.000844, 0.00161, 0.00595, 0.0193, 0.0428, 0.0780)

#: lower edges of the 16 five-year bands of Prem et al. (2017, 2021) contact matrices: 0-4, ..., 70-74, 75+
FIVE_YEAR_BANDS = tuple(range(0, 80, 5))
#: oldest age the open top band is taken to reach when averaging tables over single years
MAX_AGE = 89


def to_bands(table: ArrayLike, bands: ArrayLike, edges: ArrayLike = DECADES) -> FloatArray:
    """Map a table given on age bands starting at ``edges`` to bands starting at ``bands``: each band gets the mean
    of the table's value over the single years of age it covers (the open top band reaching :data:`MAX_AGE`)."""
    values = np.asarray(table, dtype=np.float64)
    src = np.asarray(edges, dtype=np.int64)
    dst = np.asarray(bands, dtype=np.int64)
    if values.shape != src.shape or np.any(np.diff(src) <= 0) or np.any(np.diff(dst) <= 0) or dst[0] != 0:
        raise ValueError("bands are increasing lower edges starting at 0, one table value per source band")
    years = np.arange(MAX_AGE + 1)
    per_year = values[np.searchsorted(src, years, side="right") - 1]
    band_of_year = np.searchsorted(dst, years, side="right") - 1
    sums = np.bincount(band_of_year, weights=per_year, minlength=dst.size)
    counts = np.bincount(band_of_year, minlength=dst.size)
    if np.any(counts == 0):
        raise ValueError(f"every band must start at or below age {MAX_AGE}")
    return np.asarray(sums / counts, dtype=np.float64)


def ward_fatality(ihr: FloatArray, critical: FloatArray, ifr: FloatArray, icu_fatality: float) -> FloatArray:
    """Death probability of general-ward patients such that deaths per infection equal the IFR::

        IFR = IHR [ c mu_C + (1 - c) mu_H ]   =>   mu_H = (IFR / IHR - c mu_C) / (1 - c)

    clipped to [0, 1]; 0 where nobody is hospitalised (the IFR of those ages is then not represented)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = (np.where(ihr > 0, ifr / ihr, 0.0) - critical * icu_fatality) / (1.0 - critical)
    return np.asarray(np.clip(np.nan_to_num(mu), 0.0, 1.0), dtype=np.float64)


@dataclass(frozen=True, eq=False)  # array fields: compare explicitly
class DiseaseParams:
    """Natural-history parameters; the age-specific ones are arrays with one value per age band.

    ``symptomatic_fraction`` y, ``hospitalised_fraction`` h (of symptomatic), ``icu_fraction`` c (of admitted),
    ``ward_fatality`` mu_H, ``icu_fatality`` mu_C, ``susceptibility`` sigma (relative, per age)."""

    latent: float
    presymptomatic: float
    symptomatic: float
    asymptomatic: float
    ward_stay: float
    icu_stay: float
    rel_inf_presymptomatic: float
    rel_inf_asymptomatic: float
    symptomatic_fraction: FloatArray
    hospitalised_fraction: FloatArray
    icu_fraction: FloatArray
    ward_fatality: FloatArray
    icu_fatality: FloatArray
    susceptibility: FloatArray

    def __post_init__(self) -> None:
        for name in ("latent", "presymptomatic", "symptomatic", "asymptomatic", "ward_stay", "icu_stay"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be a positive duration in days")
        if self.rel_inf_presymptomatic < 0 or self.rel_inf_asymptomatic < 0:
            raise ValueError("relative infectiousness must be non-negative")
        ages = self.symptomatic_fraction.shape
        for name in ("symptomatic_fraction", "hospitalised_fraction", "icu_fraction", "ward_fatality", "icu_fatality"):
            arr = getattr(self, name)
            if arr.shape != ages or arr.ndim != 1 or np.any(arr < 0) or np.any(arr > 1):
                raise ValueError(f"{name} must be one probability per age band")
        if self.susceptibility.shape != ages or np.any(self.susceptibility < 0):
            raise ValueError("susceptibility must be one non-negative value per age band")

    @property
    def ages(self) -> int:
        return int(self.symptomatic_fraction.size)

    @property
    def infectious_duration(self) -> FloatArray:
        """Expected infectiousness-weighted time an infection of each age spends infectious (days)::

        D_a = y_a (r_P d_P + d_I) + (1 - y_a) r_A d_A"""
        y = self.symptomatic_fraction
        return np.asarray(
            y * (self.rel_inf_presymptomatic * self.presymptomatic + self.symptomatic)
            + (1 - y) * self.rel_inf_asymptomatic * self.asymptomatic,
            dtype=np.float64,
        )

    def with_(self, **changes: object) -> DiseaseParams:
        """A copy with some fields changed (age-specific values as arrays)."""
        return replace(self, **changes)  # type: ignore[arg-type]


def covid19(bands: ArrayLike = FIVE_YEAR_BANDS) -> DiseaseParams:
    """The documented COVID-19 defaults on age bands with lower edges ``bands`` (default: the 16 five-year bands
    0-4, ..., 75+ of Prem et al. contact matrices)."""
    y = to_bands(CLINICAL_FRACTION, bands)
    ihr = to_bands(IHR, bands)
    critical = to_bands(CRITICAL_SHARE, bands)
    ifr = to_bands(IFR, bands)
    return DiseaseParams(
        latent=LATENT,
        presymptomatic=PRESYMPTOMATIC,
        symptomatic=SYMPTOMATIC,
        asymptomatic=ASYMPTOMATIC,
        ward_stay=LOS_WARD,
        icu_stay=LOS_ICU,
        rel_inf_presymptomatic=REL_INF_PRESYMPTOMATIC,
        rel_inf_asymptomatic=REL_INF_ASYMPTOMATIC,
        symptomatic_fraction=y,
        hospitalised_fraction=np.asarray(np.clip(ihr / y, 0.0, 1.0), dtype=np.float64),
        icu_fraction=critical,
        ward_fatality=ward_fatality(ihr, critical, ifr, ICU_FATALITY),
        icu_fatality=np.full(y.size, ICU_FATALITY),
        susceptibility=np.ones(y.size),
    )

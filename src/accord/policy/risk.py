"""Risk-area classification (pure): high / medium / low for every region and day, by a published, versioned rule.

The default rule follows China's practice from February 2020 (the State Council joint prevention and control
mechanism's guidance on zoned, graded prevention and control, 分区分级精准防控), as the issue puts it:

- **high** when the region counted more than ``high_cases`` (50) new confirmed cases in the last ``window_days``
  (14) days *and* had a cluster in that window;
- **medium** when it counted at least ``medium_cases`` (1) new case in the window (and is not high);
- **low** otherwise.

A *cluster* is what the surveillance store can tell: at least ``cluster_cases`` (2) new confirmed cases within
the window in one of the region's smallest units (a community, the leaves of the tree; the region itself when
it is a leaf) — the Chinese definition of a cluster outbreak is two or more cases in a small area (a household,
a building, a workplace) within 14 days with possible transmission between them. Clusters found by contact
tracing can replace this input later: :func:`classify` only takes a boolean per region.

A rule is data: changing a threshold means publishing a new ``version``, and every stored classification names
the version that produced it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from accord.errors import AccordError, Problem

LEVELS: Final = ("low", "medium", "high")
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class RiskRule:
    version: str = "cn-2020-v1"
    #: the tree level whose jurisdictions are classified (levels are data: "community", "city", "county", ...)
    level: str = "community"
    window_days: int = 14
    #: high: strictly more than this many new cases in the window, with a cluster
    high_cases: int = 50
    #: medium: at least this many new cases in the window
    medium_cases: int = 1
    #: a cluster: at least this many new cases in one smallest unit within the window
    cluster_cases: int = 2
    #: cluster required for "high" (the 2020 rule); False makes "high" depend on the count alone
    high_needs_cluster: bool = True

    def __post_init__(self) -> None:
        problems = []
        if not self.version.strip() or len(self.version) > 40:
            problems.append(Problem("must be 1 to 40 characters", field="version"))
        if not 1 <= self.window_days <= 60:
            problems.append(Problem(f"{self.window_days} is not from 1 to 60 days", field="window_days"))
        if self.medium_cases < 1:
            problems.append(Problem("must be at least 1", field="medium_cases"))
        if self.high_cases < self.medium_cases:
            problems.append(Problem("must not be below medium_cases", field="high_cases"))
        if self.cluster_cases < 1:
            problems.append(Problem("must be at least 1", field="cluster_cases"))
        if problems:
            raise AccordError("the risk rule is not valid", problems)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RiskRule:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise AccordError("the risk rule is not valid", [Problem("unknown parameter", field=unknown[0])])
        return cls(**values)

    def describe(self) -> str:
        cluster = " with a cluster" if self.high_needs_cluster else ""
        return (
            f"high: more than {self.high_cases} new cases in {self.window_days} days{cluster}; "
            f"medium: at least {self.medium_cases} new case(s) in {self.window_days} days; low: otherwise. "
            f"Cluster: at least {self.cluster_cases} cases in one smallest unit within {self.window_days} days."
        )


DEFAULT_RULE: Final = RiskRule()


def classify(cases_14d: npt.ArrayLike, has_cluster: npt.ArrayLike, rule: RiskRule = DEFAULT_RULE) -> npt.NDArray[Any]:
    """Risk level ('high' / 'medium' / 'low') per element; any shape (regions, or regions x days)."""
    cases = np.asarray(cases_14d, dtype=np.float64)
    cluster = np.asarray(has_cluster, dtype=bool)
    high = cases > rule.high_cases
    if rule.high_needs_cluster:
        high &= cluster
    medium = cases >= rule.medium_cases
    return np.asarray(LEVELS, dtype=object)[np.where(high, 2, np.where(medium, 1, 0))]


def window_sums(daily: npt.ArrayLike, window_days: int) -> IntArray:
    """Trailing sums over ``window_days`` days (the day itself and the days before), along the last axis.

    ``daily`` is (..., days) of new cases, missing days as 0; the first days sum over what there is.
    """
    x = np.asarray(daily, dtype=np.int64)
    c = np.cumsum(x, axis=-1)
    out = c.copy()
    out[..., window_days:] = c[..., window_days:] - c[..., :-window_days]
    return out


def cluster_flags(unit_daily: npt.ArrayLike, unit_region: npt.ArrayLike, n_regions: int, rule: RiskRule) -> BoolArray:
    """Whether each region had a cluster on each day: (units, days) daily cases of the smallest units and the
    region index (0..n_regions-1, -1 for units outside every region) of each -> (n_regions, days) booleans."""
    sums = window_sums(unit_daily, rule.window_days)
    region = np.asarray(unit_region, dtype=np.int64)
    hot = (sums >= rule.cluster_cases) & (region >= 0)[:, None]
    out = np.zeros((n_regions, sums.shape[-1]), dtype=np.int64)
    np.add.at(out, region[region >= 0], hot[region >= 0].astype(np.int64))
    return out > 0


def classify_series(
    region_daily: npt.ArrayLike, unit_daily: npt.ArrayLike, unit_region: npt.ArrayLike, rule: RiskRule = DEFAULT_RULE
) -> tuple[npt.NDArray[Any], IntArray, BoolArray]:
    """Classify every region on every day at once: (regions, days) new cases of the regions, (units, days) of
    their smallest units -> (levels, cases in the window, cluster), each (regions, days)."""
    cases = window_sums(region_daily, rule.window_days)
    cluster = cluster_flags(unit_daily, unit_region, cases.shape[0], rule)
    return classify(cases, cluster, rule), cases, cluster

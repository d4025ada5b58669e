"""The indicator catalog and its aggregation semantics (after FHIR SANER).

- ``count``: events per day; sum over children, sum over time.
- ``cumulative``: running total; sum over children, last over time. Never stored: derived from its count.
- ``point_in_time``: occupancy or stock on a day; latest per jurisdiction, then sum over children.

Pure: no database. The same catalog is seeded into the ``indicator`` table so the store can refer to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Aggregation(StrEnum):
    COUNT = "count"
    CUMULATIVE = "cumulative"
    POINT_IN_TIME = "point_in_time"


#: The disaggregation of the total. Parts such as ``imported`` / ``local`` sit beside it.
TOTAL: Final = ""


@dataclass(frozen=True, slots=True)
class Indicator:
    code: str
    label: str
    label_zh: str
    unit: str
    aggregation: Aggregation
    disaggregations: tuple[str, ...] = (TOTAL,)
    #: for cumulative indicators: the count indicator they are the running sum of
    derived_from: str | None = None
    description: str = ""

    @property
    def stored(self) -> bool:
        return self.derived_from is None


ORIGIN_PARTS: Final = ("imported", "local")

CORE_INDICATORS: Final[tuple[Indicator, ...]] = (
    Indicator(
        "new_confirmed",
        "New confirmed cases",
        "新增确诊",
        "cases",
        Aggregation.COUNT,
        (TOTAL, *ORIGIN_PARTS),
        description="Cases confirmed on the day; parts: imported (infected elsewhere) and local.",
    ),
    Indicator(
        "new_suspected",
        "New suspected cases",
        "新增疑似",
        "cases",
        Aggregation.COUNT,
        description="Suspected cases newly reported on the day.",
    ),
    Indicator(
        "new_deaths",
        "New deaths",
        "新增死亡",
        "deaths",
        Aggregation.COUNT,
        description="Deaths of confirmed cases reported on the day.",
    ),
    Indicator(
        "new_recovered",
        "New recovered",
        "新增治愈",
        "persons",
        Aggregation.COUNT,
        description="Confirmed cases discharged as cured on the day.",
    ),
    Indicator(
        "new_tests",
        "Tests performed",
        "检测人次",
        "tests",
        Aggregation.COUNT,
        description="Tests performed on the day.",
    ),
    Indicator(
        "hospitalised",
        "Hospitalised",
        "住院",
        "patients",
        Aggregation.POINT_IN_TIME,
        description="Confirmed cases in hospital at the end of the day.",
    ),
    Indicator(
        "icu_occupied",
        "ICU occupied",
        "重症监护",
        "beds",
        Aggregation.POINT_IN_TIME,
        description="ICU beds occupied by COVID-19 patients at the end of the day.",
    ),
    Indicator(
        "ventilated",
        "On mechanical ventilation",
        "有创通气",
        "patients",
        Aggregation.POINT_IN_TIME,
        description="Confirmed cases on invasive mechanical ventilation at the end of the day.",
    ),
    # capacity, as FHIR SANER's bed-capacity measure reports it (total beds, ICU beds, ventilators): what
    # hospital demand from the model and the resources capability compare against
    Indicator(
        "beds_capacity",
        "Hospital beds (capacity)",
        "床位总数",
        "beds",
        Aggregation.POINT_IN_TIME,
        description="Staffed inpatient beds available for patients, occupied or not, at the end of the day.",
    ),
    Indicator(
        "icu_capacity",
        "ICU beds (capacity)",
        "重症床位总数",
        "beds",
        Aggregation.POINT_IN_TIME,
        description="Staffed ICU beds, occupied or not, at the end of the day.",
    ),
    Indicator(
        "ventilators_capacity",
        "Ventilators (capacity)",
        "呼吸机总数",
        "devices",
        Aggregation.POINT_IN_TIME,
        description="Mechanical ventilators available, in use or not, at the end of the day.",
    ),
    Indicator(
        "cum_confirmed",
        "Cumulative confirmed",
        "累计确诊",
        "cases",
        Aggregation.CUMULATIVE,
        (TOTAL, *ORIGIN_PARTS),
        derived_from="new_confirmed",
        description="Running total of new_confirmed.",
    ),
    Indicator(
        "cum_suspected",
        "Cumulative suspected",
        "累计疑似",
        "cases",
        Aggregation.CUMULATIVE,
        derived_from="new_suspected",
        description="Running total of new_suspected.",
    ),
    Indicator(
        "cum_deaths",
        "Cumulative deaths",
        "累计死亡",
        "deaths",
        Aggregation.CUMULATIVE,
        derived_from="new_deaths",
        description="Running total of new_deaths.",
    ),
    Indicator(
        "cum_recovered",
        "Cumulative recovered",
        "累计治愈",
        "persons",
        Aggregation.CUMULATIVE,
        derived_from="new_recovered",
        description="Running total of new_recovered.",
    ),
    Indicator(
        "cum_tests",
        "Cumulative tests",
        "累计检测",
        "tests",
        Aggregation.CUMULATIVE,
        derived_from="new_tests",
        description="Running total of new_tests.",
    ),
)

CATALOG: Final[dict[str, Indicator]] = {i.code: i for i in CORE_INDICATORS}
STORED_CODES: Final[tuple[str, ...]] = tuple(i.code for i in CORE_INDICATORS if i.stored)
CUMULATIVE_OF: Final[dict[str, str]] = {i.derived_from: i.code for i in CORE_INDICATORS if i.derived_from is not None}


def get(code: str) -> Indicator | None:
    return CATALOG.get(code)


def is_count(code: str) -> bool:
    ind = CATALOG.get(code)
    return ind is not None and ind.aggregation is Aggregation.COUNT

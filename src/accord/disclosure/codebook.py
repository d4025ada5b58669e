"""The codebook of every open-data layout: each column's meaning, unit and aggregation.

Pure: built from the indicator catalog, so a new indicator appears in the codebook without an edit here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from accord.surveillance import indicators as ind

#: the layouts the open-data page offers, with the file name extension of each
LAYOUTS = {"csv": "Accord long CSV", "parquet": "Accord long Parquet", "owid": "OWID", "jhu": "JHU CSSE", "who": "WHO"}


@dataclass(frozen=True)
class Column:
    layout: str
    column: str
    meaning: str
    unit: str = ""
    aggregation: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _long(layout: str) -> list[Column]:
    cols = [
        Column(layout, "jurisdiction", "code of the jurisdiction (ISO 3166 / national admin code where one exists)"),
        Column(layout, "date", "the day the value is for (ISO 8601), not the day it was recorded"),
        Column(layout, "indicator", "indicator code; see the indicator rows below for each one"),
        Column(layout, "disaggregation", "empty for the total; 'imported' or 'local' for the parts of new cases"),
        Column(layout, "value", "the published value (approved reports; a roll-up of children where not reported)"),
        Column(layout, "reason", "empty in exports; corrections and their reasons are in the errata log"),
    ]
    for spec in ind.CORE_INDICATORS:
        if spec.stored:
            cols.append(
                Column(
                    layout,
                    f"indicator={spec.code}",
                    f"{spec.label} ({spec.label_zh}). {spec.description}",
                    spec.unit,
                    spec.aggregation.value,
                )
            )
    return cols


def _owid() -> list[Column]:
    L = "owid"
    return [
        Column(L, "iso_code", "jurisdiction code (ISO 3166-1 alpha-3 for countries, our code otherwise)"),
        Column(L, "location", "English name of the jurisdiction"),
        Column(L, "date", "the day the values are for"),
        Column(L, "new_cases", "new confirmed cases on the day", "cases", "count"),
        Column(L, "total_cases", "running total of new_cases", "cases", "cumulative"),
        Column(L, "new_deaths", "new deaths on the day", "deaths", "count"),
        Column(L, "total_deaths", "running total of new_deaths", "deaths", "cumulative"),
        Column(L, "new_tests", "tests performed on the day", "tests", "count"),
        Column(L, "total_tests", "running total of new_tests", "tests", "cumulative"),
        Column(L, "hosp_patients", "confirmed cases in hospital at the end of the day", "patients", "point_in_time"),
        Column(L, "icu_patients", "ICU beds occupied at the end of the day", "beds", "point_in_time"),
        Column(L, "population", "population of the jurisdiction", "persons"),
    ]


def _jhu() -> list[Column]:
    L = "jhu"
    return [
        Column(L, "Province/State", "English name of the jurisdiction"),
        Column(L, "Country/Region", "English name of the country it belongs to"),
        Column(L, "Lat", "latitude of a representative point", "degrees"),
        Column(L, "Long", "longitude of a representative point", "degrees"),
        Column(
            L, "M/D/YY (one column per day)", "cumulative confirmed cases at the end of that day", "cases", "cumulative"
        ),
    ]


def _who() -> list[Column]:
    L = "who"
    return [
        Column(L, "Date_reported", "the day the values are for"),
        Column(L, "Country_code", "jurisdiction code"),
        Column(L, "Country", "English name of the jurisdiction"),
        Column(L, "WHO_region", "WHO region where known, else empty"),
        Column(L, "New_cases", "new confirmed cases on the day", "cases", "count"),
        Column(L, "Cumulative_cases", "running total of New_cases", "cases", "cumulative"),
        Column(L, "New_deaths", "new deaths on the day", "deaths", "count"),
        Column(L, "Cumulative_deaths", "running total of New_deaths", "deaths", "cumulative"),
    ]


def _errata() -> list[Column]:
    L = "errata"
    return [
        Column(L, "jurisdiction", "code of the jurisdiction whose report was revised"),
        Column(L, "date", "the day the revised value is for"),
        Column(L, "indicator", "indicator code"),
        Column(L, "disaggregation", "empty for the total, else the part"),
        Column(L, "revision", "revision number of the value (1 = first report)"),
        Column(L, "old_value", "the value before this revision"),
        Column(L, "new_value", "the value after this revision"),
        Column(L, "recorded_at", "when the revision was recorded (UTC)"),
        Column(L, "reason", "the reason the reporting unit gave"),
        Column(L, "after_publication", "true when the day had already been published when the revision came"),
    ]


def codebook() -> list[Column]:
    return [*_long("csv"), *_long("parquet"), *_owid(), *_jhu(), *_who(), *_errata()]


def for_layout(layout: str) -> list[Column]:
    return [c for c in codebook() if c.layout == layout]

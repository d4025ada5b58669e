"""Parsing capacity reports into stock counts (pure: text in, a frame and problems out).

Two layouts are read:

* **SANER-like CSV** (after the HL7 FHIR Situational Awareness for Novel Epidemic Response implementation guide's
  bed-capacity and supplies measures): either *long* ``date,jurisdiction,measure,value[,unit]`` or *wide*
  ``date,jurisdiction,<measure>,<measure>,...``. Measures are SANER codes (``numTotBeds``, ``numbeds``,
  ``numICUBeds``, ``numVent``) or catalog codes (``n95``, ``gowns``, ``test_kits``, ...). Census measures
  (``numBedsOcc``, ``numICUBedsOcc``, ``numVentUse``, ``numC19*``) are recognised and reported as skipped: they
  are surveillance figures, not stock.
* **covid19scenarios** tables (neherlab/covid19_scenarios): ``populationData.tsv`` (``name``, ``hospitalBeds``,
  ``ICUBeds``) and the ICU tables ``ICU_capacity.tsv`` / ``ICU_asia.tsv`` (``country``, ``AcuteCare``,
  ``CriticalCare``). They carry no date: the caller says which day the figures are for.

The output is one row per (line, date, jurisdiction, resource) with the quantity in the given unit; the service
resolves jurisdictions, converts units and books the difference to the ledger as a stock count.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from accord.errors import Problem
from accord.surveillance.formats.common import table_problem

SANER_STOCK = {"numTotBeds": "beds", "numbeds": "beds", "numICUBeds": "icu_beds", "numVent": "ventilators"}
SANER_CENSUS = frozenset(
    {
        "numBedsOcc",
        "numICUBedsOcc",
        "numVentUse",
        "numC19HospPats",
        "numC19MechVentPats",
        "numC19HOPats",
        "numC19OverflowPats",
        "numC19OFMechVentPats",
        "numC19Died",
    }
)
ROW_COLUMNS = ["line", "date", "jurisdiction", "resource", "quantity", "unit", "source"]
MAX_PROBLEMS = 50


@dataclass
class Parsed:
    rows: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)


def _frame(rows: list[tuple[object, ...]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=ROW_COLUMNS)


def _number(text: object) -> float | None:
    """A cell as a number; None when blank; NaN when not a number (the caller reports it)."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    s = str(text).strip().replace(",", "")
    if not s:
        return None
    try:
        return float(s)
    except ValueError:
        return math.nan


def _check(value: float | None, raw: object, file: str, line: int, col: str, problems: list[Problem]) -> bool:
    if value is None:
        return False
    if math.isnan(value) or math.isinf(value):
        problems.append(Problem(f"'{str(raw).strip()}' is not a number", file, line, col))
        return False
    if value < 0:
        problems.append(Problem(f"{value:g} is negative", file, line, col))
        return False
    return True


def _day(raw: object, file: str, line: int, problems: list[Problem]) -> date | None:
    try:
        return date.fromisoformat(str(raw).strip())
    except ValueError:
        problems.append(Problem(f"'{raw}' is not a date (YYYY-MM-DD)", file, line, "date"))
        return None


def _read_table(text: str, file: str, sep: str = ",") -> tuple[pd.DataFrame | None, Problem | None]:
    """An all-string table, or None and why not (empty, too big, malformed), within the CSV kit's limits."""
    unreadable = table_problem(text, file, sep)
    if unreadable:
        return None, unreadable
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False), None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        return None, Problem(f"not a readable table: {str(exc).strip()}", file, code="malformed")


def parse_saner(text: str, catalog: set[str], file: str = "capacity.csv") -> Parsed:
    frame, unreadable = _read_table(text, file)
    if frame is None:
        return Parsed(_frame([]), [unreadable] if unreadable else [])
    frame.columns = [c.strip() for c in frame.columns]
    problems: list[Problem] = []
    for col in ("date", "jurisdiction"):
        if col not in frame.columns:
            return Parsed(_frame([]), [Problem(f"the header has no '{col}' column", file, 1, col)])
    if "measure" in frame.columns and "value" in frame.columns:
        long = frame.rename(columns={"measure": "m", "value": "v"})
        long["line"] = long.index + 2
    else:
        measures = [c for c in frame.columns if c not in ("date", "jurisdiction")]
        frame["line"] = frame.index + 2
        long = frame.melt(id_vars=["date", "jurisdiction", "line"], value_vars=measures, var_name="m", value_name="v")
    if "unit" not in long.columns:
        long["unit"] = ""
    rows: list[tuple[object, ...]] = []
    skipped: dict[str, int] = {}
    have_numbeds = {int(v) for v in long.loc[long["m"] == "numbeds", "line"].tolist()}
    for rec in long.itertuples(index=False):
        line, measure = int(str(rec.line)), str(rec.m).strip()
        if measure in SANER_CENSUS:
            skipped[measure] = skipped.get(measure, 0) + 1
            continue
        if measure == "numTotBeds" and line in have_numbeds:
            skipped[measure] = skipped.get(measure, 0) + 1  # numbeds (staffed inpatient beds) wins
            continue
        resource = SANER_STOCK.get(measure, measure)
        if resource not in catalog:
            problems.append(Problem(f"unknown measure or resource '{measure}'", file, line, "measure"))
            continue
        value = _number(rec.v)
        if not _check(value, rec.v, file, line, measure, problems):
            continue
        day = _day(rec.date, file, line, problems)
        code = str(rec.jurisdiction).strip()
        if not code:
            problems.append(Problem("the jurisdiction is empty", file, line, "jurisdiction"))
            continue
        if day is not None:
            rows.append((line, day, code, resource, value, str(rec.unit).strip(), file))
    return Parsed(_frame(rows), problems, skipped)


def parse_covid19scenarios(text: str, day: date, file: str) -> Parsed:
    """``populationData.tsv`` or an ICU table (``ICU_capacity.tsv``, ``ICU_asia.tsv``), told apart by the header."""
    frame, unreadable = _read_table(text, file, sep="\t")
    if frame is None:
        return Parsed(_frame([]), [unreadable] if unreadable else [])
    frame.columns = [c.strip() for c in frame.columns]
    if {"name", "hospitalBeds", "ICUBeds"} <= set(frame.columns):
        key, columns = "name", {"hospitalBeds": "beds", "ICUBeds": "icu_beds"}
    elif {"country", "AcuteCare", "CriticalCare"} <= set(frame.columns):
        key, columns = "country", {"AcuteCare": "beds", "CriticalCare": "icu_beds"}
    else:
        return Parsed(
            _frame([]),
            [
                Problem(
                    "not a covid19scenarios table: expected name/hospitalBeds/ICUBeds or country/CriticalCare", file, 1
                )
            ],
        )
    problems: list[Problem] = []
    rows: list[tuple[object, ...]] = []
    for i, rec in enumerate(frame.to_dict(orient="records")):
        line = i + 2
        name = str(rec[key]).strip()
        for col, resource in columns.items():
            value = _number(rec[col])
            if _check(value, rec[col], file, line, col, problems) and name:
                rows.append((line, day, name, resource, value, "each", file))
    return Parsed(_frame(rows), problems)


def name_candidates(name: str) -> list[str]:
    """Ways a region is named in these tables: as is, and without a country prefix (``USA-Alabama`` -> ``Alabama``)."""
    out = [name]
    if "-" in name:
        out.append(name.split("-", 1)[1])
    return out

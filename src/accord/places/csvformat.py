"""A places CSV: ``code,name,local_name,level,parent_code,population`` (local_name, population optional).

The parser checks what one file can show on its own: missing columns, empty code / name / level, duplicate
codes (naming both lines), a place that is its own parent, parent cycles among the file's rows, and a
population that is not a non-negative integer. A parent that is not in the file may already exist in the
database, so it is not a problem here: the service checks parents against the tree.
"""

from __future__ import annotations

import io
from typing import Final

import numpy as np
import pandas as pd

from accord.surveillance.formats.common import (
    MAX_BYTES,
    PLACE_COLUMNS,
    ParseResult,
    Problems,
    duplicate_problems,
    failed_places,
    format_numbers,
    header_only_note,
    read_table,
    string_column,
    to_numbers,
)

REQUIRED: Final = ("code", "name", "level", "parent_code")
OPTIONAL: Final = ("local_name", "population")


def parse_places_csv(
    data: bytes, filename: str, *, encoding: str | None = None, max_bytes: int = MAX_BYTES
) -> ParseResult:
    """A places frame (layout PLACE_COLUMNS) in both ``frame`` and ``places`` of the result."""
    table, problems = read_table(data, filename, encoding, max_bytes, REQUIRED, "a places file")
    if table is None:
        return failed_places(problems)
    for name in [c for c in table.columns if c not in REQUIRED + OPTIONAL]:
        problems.add(
            f"unknown column '{name}'; the columns are {', '.join(REQUIRED + OPTIONAL)}",
            line=1,
            field=name,
            code="unknown-column",
        )
    lines = table.index.to_numpy()
    places = pd.DataFrame(
        {name: string_column(table, name).to_numpy() for name in ("code", "name", "local_name", "level", "parent_code")}
    )
    places["population"] = _population(table, lines, problems)
    places["line"] = lines
    for name in ("code", "name", "level"):
        problems.add_rows((places[name] == "").to_numpy(), lines, f"{name} is empty", field=name, code="empty-value")
    duplicate_problems(places[places["code"] != ""], ["code"], problems, "code")
    _parent_problems(places, problems)
    places = places.loc[:, list(PLACE_COLUMNS)]
    return ParseResult(places, problems.as_list(), header_only_note(table), places)


#: the name the CLI and services look parsers up by
parse = parse_places_csv


def _population(table: pd.DataFrame, lines: np.ndarray, problems: Problems) -> pd.Series:
    if "population" not in table.columns:
        return pd.Series(np.nan, index=range(len(table)), dtype="float64")
    values = to_numbers(table["population"], lines, problems, "population").reset_index(drop=True)
    arr = values.to_numpy()
    bad = ~np.isnan(arr) & ((arr < 0) | (np.floor(arr) != arr))
    problems.add_rows(
        bad,
        lines,
        "population " + format_numbers(values) + " is not a whole number >= 0",
        field="population",
        code="bad-population",
    )
    return values.where(~bad)


def _parent_problems(places: pd.DataFrame, problems: Problems) -> None:
    """Self-parents, then cycles: prune rows whose parent is outside the set until nothing changes; what
    stays has an ancestor chain that loops. Then prune rows nobody names as parent: what stays is a cycle.
    Each step is one vectorised isin, and a tree needs as many steps as it is deep."""
    coded = places[places["code"] != ""].drop_duplicates("code")
    own = (coded["code"] == coded["parent_code"]).to_numpy()
    problems.add_rows(own, coded["line"], "place is its own parent", field="parent_code", code="parent-cycle")
    rest = coded[~own]
    while len(rest):
        inside = rest["parent_code"].isin(set(rest["code"])).to_numpy()
        if inside.all():
            break
        rest = rest[inside]
    while len(rest):
        named = rest["code"].isin(set(rest["parent_code"])).to_numpy()
        if named.all():
            break
        rest = rest[named]
    problems.add_rows(
        np.ones(len(rest), dtype=bool),
        rest["line"],
        "parent cycle: " + rest["code"] + " -> " + rest["parent_code"] + " -> ... leads back to " + rest["code"],
        field="parent_code",
        code="parent-cycle",
    )


def render_places_csv(places: pd.DataFrame) -> bytes:
    """The places CSV from a places frame (population as a whole number, '' when unknown)."""
    out = pd.DataFrame(
        {
            name: places[name].fillna("").astype(str) if name in places else ""
            for name in ("code", "name", "local_name", "level", "parent_code")
        }
    )
    population = places["population"] if "population" in places else pd.Series(np.nan, index=places.index)
    out["population"] = format_numbers(population.astype("float64")).to_numpy()
    buffer = io.StringIO()
    out.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode("utf-8")

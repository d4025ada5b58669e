"""Line lists in, through a column-mapping file (pure: bytes and dicts in, a frame and problems out).

A mapping file (TOML) says which source column holds each field, how dates are written, how values translate,
and how ids of infectors and contacts are found in the text, so a new source needs a mapping file, not code::

    [source]
    name = "xu2020"             # recorded on every person (source, source_ref) and in the audit
    date_format = "%d.%m.%Y"    # strftime directives %d %m %Y %y; ranges and 'pre 18.01.2020' take the last date

    [columns]                   # field = source column (or a list: the first non-empty one wins)
    case_id = "id"
    onset_date = "date_onset_symptoms"
    confirmation_date = "date_confirmation"
    residence_code = "admin_id"
    residence_names = ["admin3", "admin2", "admin1"]   # tried in order when the code is unknown

    [values]                    # constants for fields the source lacks
    classification = "confirmed"

    [maps.outcome]              # source value (case-insensitive) -> ours; "*" = any other value
    discharged = "recovered"
    "*" = ""

    [patterns]                  # regular expression that finds ids in free text (default: split on , ; and spaces)
    infector_ids = "TJ\\d+"

    [rules]
    imported_if = { column = "travel_history_location", pattern = "." }   # origin: imported when it matches

Fields: case_id (required), classification, onset_date, report_date, confirmation_date, origin, severity,
outcome, outcome_date, residence_code, residence_names, sex, age, name, phone, national_id, address,
infector_ids, contact_ids. Every problem names the file, line and field; the caller refuses the whole file when
there is any (all or nothing).

Encoding: the bytes are read as UTF-8; when they are not valid UTF-8 (a real line list has stray Latin-1
bytes), each invalid byte is read as Windows-1252 instead, and the repair is reported with the count and the
first lines affected, so nothing changes silently.
"""

from __future__ import annotations

import io
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from accord.errors import Problem
from accord.surveillance.formats.common import table_problem

DATE_FIELDS = ("onset_date", "report_date", "confirmation_date", "outcome_date")
ENUM_FIELDS = {
    "classification": ("suspected", "probable", "confirmed", "discarded"),
    "origin": ("imported", "local"),
    "severity": ("asymptomatic", "mild", "moderate", "severe", "critical"),
    "outcome": ("recovered", "died", "transferred"),
}
TEXT_FIELDS = ("residence_code", "sex", "age", "name", "phone", "national_id", "address")
ID_LIST_FIELDS = ("infector_ids", "contact_ids")
ALL_FIELDS = ("case_id", *DATE_FIELDS, *ENUM_FIELDS, *TEXT_FIELDS, "residence_names", *ID_LIST_FIELDS)
DEFAULT_ID_PATTERN = r"[^,;\s]+"
MAX_PROBLEMS = 50


@dataclass(frozen=True)
class Decoded:
    text: str
    invalid_bytes: int
    lines: list[int]  # lines (1-based) that held invalid bytes

    def note(self, file: str) -> str | None:
        if not self.invalid_bytes:
            return None
        first = ", ".join(str(n) for n in self.lines[:5])
        return (
            f"{file} is not valid UTF-8: {self.invalid_bytes} invalid byte(s) on {len(self.lines)} line(s) "
            f"(first: {first}); repaired by reading each of them as Windows-1252"
        )


def decode(data: bytes) -> Decoded:
    """UTF-8, with each invalid byte read as Windows-1252 (and counted) instead of failing or vanishing."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return Decoded(data.decode("utf-8"), 0, [])
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="surrogateescape")
    bad = np.array([m.start() for m in re.finditer(r"[\udc80-\udcff]", text)], dtype=np.int64)
    newlines = np.array([m.start() for m in re.finditer("\n", text)], dtype=np.int64)
    lines = sorted(set((np.searchsorted(newlines, bad) + 1).tolist()))
    fixed = re.sub(
        r"[\udc80-\udcff]", lambda m: bytes([ord(m.group()) - 0xDC00]).decode("cp1252", errors="replace"), text
    )
    return Decoded(fixed, len(bad), lines)


@dataclass(frozen=True)
class Mapping:
    name: str
    date_format: str
    columns: dict[str, list[str]]
    values: dict[str, str]
    maps: dict[str, dict[str, str]]
    patterns: dict[str, str]
    imported_if: tuple[str, str] | None
    #: 'error' (default) refuses the file on a non-empty value that is not a date; 'blank' imports the row with
    #: the date empty and reports it (real line lists write 'not sure', 'early january')
    invalid_dates: str = "error"
    #: 'error' (default) refuses rows without a case id; 'line' names them 'line-<n>' and reports them
    missing_ids: str = "error"
    code_fallbacks: list[str] = field(default_factory=list)
    name_suffixes: list[str] = field(default_factory=list)


def load_mapping(text: str, file: str = "mapping") -> Mapping:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{file}: not valid TOML: {exc}") from None
    source = raw.get("source", {})
    columns = {k: [v] if isinstance(v, str) else list(v) for k, v in raw.get("columns", {}).items()}
    unknown = sorted((set(columns) | set(raw.get("values", {}))) - set(ALL_FIELDS))
    if unknown:
        raise ValueError(f"{file}: unknown field(s) {', '.join(unknown)}; fields are {', '.join(ALL_FIELDS)}")
    if "case_id" not in columns:
        raise ValueError(f"{file}: [columns] must name the case_id column")
    if not source.get("name"):
        raise ValueError(f"{file}: [source] must give a name")
    rule = raw.get("rules", {}).get("imported_if")
    places = raw.get("places", {})
    return Mapping(
        name=str(source["name"]),
        date_format=str(source.get("date_format", "%Y-%m-%d")),
        columns=columns,
        values={k: str(v) for k, v in raw.get("values", {}).items()},
        maps={k: {str(a).casefold(): str(b) for a, b in v.items()} for k, v in raw.get("maps", {}).items()},
        patterns={k: str(v) for k, v in raw.get("patterns", {}).items()},
        imported_if=(str(rule["column"]), str(rule["pattern"])) if rule else None,
        invalid_dates=_choice(source, "invalid_dates", ("error", "blank"), file),
        missing_ids=_choice(source, "missing_ids", ("error", "line"), file),
        code_fallbacks=[str(x) for x in places.get("code_fallbacks", [])],
        name_suffixes=[str(x) for x in places.get("name_suffixes", [])],
    )


def _choice(source: dict[str, Any], key: str, allowed: tuple[str, ...], file: str) -> str:
    value = str(source.get(key, allowed[0]))
    if value not in allowed:
        raise ValueError(f"{file}: [source] {key} must be one of {', '.join(allowed)}, not '{value}'")
    return value


def _lines(lines: list[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:5])
    return f"{len(lines)} row(s) (lines {shown}{', ...' if len(lines) > 5 else ''})"


@dataclass
class LineList:
    file: str
    frame: pd.DataFrame  # one row per case: line + the fields above (lists for the id fields)
    problems: list[Problem]
    notes: list[str]


def parse(data: bytes, mapping: Mapping, file: str) -> LineList:
    decoded = decode(data)
    notes = [n for n in [decoded.note(file)] if n]
    unreadable = table_problem(decoded.text, file)
    if unreadable:
        return LineList(file, pd.DataFrame(), [unreadable], notes)
    try:
        raw = pd.read_csv(io.StringIO(decoded.text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        return LineList(file, pd.DataFrame(), [Problem(f"not a readable CSV table: {exc}", file=file)], notes)
    raw.columns = [c.strip() for c in raw.columns]
    problems = _missing_columns(raw, mapping, file)
    if problems:
        return LineList(file, pd.DataFrame(), problems, notes)
    out = pd.DataFrame({"line": np.arange(len(raw), dtype=np.int64) + 2})
    for name in ALL_FIELDS:
        out[name] = _column(raw, mapping, name)
    out["case_id"] = out["case_id"].str.strip()
    if mapping.missing_ids == "line":
        empty = out["case_id"].eq("")
        out.loc[empty, "case_id"] = "line-" + out.loc[empty, "line"].astype(str)
        if empty.any():
            notes.append(f"{file}: {_lines(out.loc[empty, 'line'].tolist())} had no case id; named 'line-<n>'")
    problems += _check_ids(out, file)
    for name in DATE_FIELDS:
        out[name], bad = _dates(out[name], mapping.date_format)
        if mapping.invalid_dates == "blank":
            if bad:
                notes.append(f"{file}: field '{name}' is not a date in {_lines(bad)}; imported with the date empty")
            continue
        problems += [Problem("not a date in the format " + mapping.date_format, file, int(ln), name) for ln in bad]
    for name, allowed in ENUM_FIELDS.items():
        out[name], wrong = _translate(out[name], mapping.maps.get(name, {}), allowed)
        problems += [
            Problem(f"'{v}' is not one of {', '.join(allowed)} (add it to [maps.{name}])", file, int(ln), name)
            for ln, v in wrong
        ]
    if mapping.imported_if is not None:
        column, pattern = mapping.imported_if
        hit = raw[column].str.contains(pattern, regex=True, na=False) & raw[column].str.strip().ne("")
        out["origin"] = np.where(hit, "imported", np.where(out["origin"].eq(""), "local", out["origin"]))
    out["classification"] = out["classification"].replace("", "confirmed")
    out["origin"] = out["origin"].replace("", "local")
    for name in ID_LIST_FIELDS:
        finder = re.compile(mapping.patterns.get(name, DEFAULT_ID_PATTERN))
        out[name] = [
            [m for m in finder.findall(v) if m != cid] for v, cid in zip(out[name], out["case_id"], strict=True)
        ]
    out["residence_names"] = list(
        zip(*[raw[c].str.strip() for c in mapping.columns.get("residence_names", [])], strict=True)
    ) or [()] * len(raw)
    return LineList(file, out, problems[:MAX_PROBLEMS] if problems else [], notes)


def _missing_columns(raw: pd.DataFrame, mapping: Mapping, file: str) -> list[Problem]:
    wanted = {c for cols in mapping.columns.values() for c in cols}
    if mapping.imported_if:
        wanted.add(mapping.imported_if[0])
    return [
        Problem("the mapping names this column but the file has none", file, 1, c) for c in sorted(wanted - set(raw))
    ]


def _column(raw: pd.DataFrame, mapping: Mapping, name: str) -> pd.Series:
    if name == "residence_names":
        return pd.Series([""] * len(raw), dtype=object)
    cols = mapping.columns.get(name, [])
    values = pd.Series([mapping.values.get(name, "")] * len(raw), index=raw.index, dtype=object)
    for col in reversed(cols):  # the first column named wins where it is non-empty
        cell = raw[col].str.strip()
        cell = cell.mask(cell.str.upper().isin(["NA", "N/A", "NAN", "NULL"]), "")
        values = cell.where(cell.ne(""), values)
    return values.astype(object).reset_index(drop=True)


def _check_ids(out: pd.DataFrame, file: str) -> list[Problem]:
    problems = [
        Problem("the case id is empty", file, int(ln), "case_id") for ln in out.loc[out["case_id"].eq(""), "line"]
    ]
    dup = out[out["case_id"].ne("") & out["case_id"].duplicated(keep="first")]
    problems += [
        Problem(f"case id '{c}' appears twice", file, int(ln), "case_id")
        for ln, c in zip(dup["line"], dup["case_id"], strict=True)
    ]
    return problems


def _token_pattern(fmt: str) -> str:
    parts = {"%d": r"\d{1,2}", "%m": r"\d{1,2}", "%Y": r"\d{4}", "%y": r"\d{2}"}
    return "".join(parts.get(tok, re.escape(tok)) for tok in re.findall(r"%[dmYy]|.", fmt, flags=re.S))


def _dates(values: pd.Series, fmt: str) -> tuple[pd.Series, list[int]]:
    """Dates in ``fmt``; a range or 'pre DATE' gives its last date. Returns the parsed column (NaT where empty)
    and the lines of non-empty values that are not dates."""
    text = values.astype(str)
    tokens = text.str.findall(_token_pattern(fmt)).str[-1]
    parsed = pd.to_datetime(tokens, format=fmt, errors="coerce")
    bad = text.ne("") & parsed.isna()
    return parsed.dt.date.astype(object).where(parsed.notna(), None), list(np.flatnonzero(bad.to_numpy()) + 2)


def _translate(
    values: pd.Series, table: dict[str, str], allowed: tuple[str, ...]
) -> tuple[pd.Series, list[tuple[int, str]]]:
    folded = values.astype(str).str.strip().str.casefold()
    mapped = folded.map(lambda v: table.get(v, table.get("*", v)) if v else "")
    bad = mapped.ne("") & ~mapped.isin(allowed)
    lines = np.flatnonzero(bad.to_numpy()) + 2
    return mapped.where(~bad, ""), list(zip(lines.tolist(), values[bad].tolist(), strict=True))

"""What every data format shares: decoding, CSV reading with line numbers, problem collection, the frame.

The **observation frame** is what every parser returns and every renderer takes: one row per
(jurisdiction, date, indicator, disaggregation) with these columns, in this order:

- ``jurisdiction`` (str): our jurisdiction code where the format carries one (``CN``, ``420000``); else ``''``
- ``jurisdiction_name`` (str): the name exactly as the file has it, ``''`` if none; the service resolves names
  to codes where the code is empty
- ``date`` (``datetime64[ns]``, normalised to midnight): the day the value is *for*
- ``indicator`` (str): a stored indicator code from :mod:`accord.surveillance.indicators`
- ``disaggregation`` (str): ``''`` for the total, else e.g. ``imported``
- ``value`` (float64)
- ``reason`` (str): why the value is unusual (a correction, a decrease of a published cumulative), else ``''``
- ``line`` (int64): 1-based line of the source file (header = line 1), or the 1-based record index for
  JSON / XML, so problems and flags can point back into the file

Parsers never raise on bad content: they collect :class:`~accord.errors.Problem` values (capped) and return
them beside whatever they could read. They raise :class:`~accord.errors.AccordError` only when the input is not
this kind of file at all, cannot be read as text, or is too large.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from accord.errors import AccordError, Problem

#: Default upper bound on an input file; the limit is a parameter of every parser.
MAX_BYTES = 200 * 1024 * 1024
#: Beyond this many problems a file is clearly the wrong file; listing more helps nobody.
MAX_PROBLEMS = 50
#: The widest table any layout needs: JHU's wide layout has one column per day, so 13 years fit.
MAX_COLUMNS = 5_000
#: The longest physical line of a text table, in characters (a JHU row of 5,000 days is about 40,000).
MAX_LINE_CHARS = 1_000_000
#: The longest single field, in characters (the longest free text we store, a reason, is capped at 2,000).
MAX_FIELD_CHARS = 10_000

FRAME_COLUMNS = (
    "jurisdiction",
    "jurisdiction_name",
    "date",
    "indicator",
    "disaggregation",
    "value",
    "reason",
    "line",
)
STRING_COLUMNS = ("jurisdiction", "jurisdiction_name", "indicator", "disaggregation", "reason")
PLACE_COLUMNS = ("code", "name", "local_name", "level", "parent_code", "population", "line")

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


@dataclass
class ParseResult:
    """What a parser read: observations, the problems that should reject the import, and notes.

    Places parsers (``accord.places.china_codes``, ``accord.places.csvformat``) return their places frame
    as both ``frame`` and ``places``.
    """

    frame: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: jurisdictions the file implies (canghailan's uncoded city buckets, places files); layout PLACE_COLUMNS
    places: pd.DataFrame = field(default_factory=lambda: empty_places())

    @property
    def ok(self) -> bool:
        return not self.problems


class Problems:
    """Collects problems for one file, keeping the first ``limit`` and counting the rest.

    Vectorised checks hand over a mask; only the rows that will be shown become Problem objects, so a file
    with a million bad rows costs no more than one with fifty.
    """

    def __init__(self, file: str | None, limit: int = MAX_PROBLEMS) -> None:
        self.file = file
        self.limit = limit
        self.items: list[Problem] = []
        self.dropped = 0

    def __bool__(self) -> bool:
        return bool(self.items) or self.dropped > 0

    def __len__(self) -> int:
        return len(self.items) + self.dropped

    def add(self, message: str, *, line: int | None = None, field: str | None = None, code: str = "invalid") -> None:
        if len(self.items) < self.limit:
            self.items.append(Problem(message, self.file, line, field, code))
        else:
            self.dropped += 1

    def add_rows(
        self,
        mask: pd.Series | np.ndarray,
        lines: pd.Series | np.ndarray,
        messages: pd.Series | str,
        *,
        field: str | pd.Series | np.ndarray | None = None,
        code: str = "invalid",
    ) -> None:
        """One problem per row where ``mask`` holds; ``messages`` and ``field`` are one value or per row."""
        mask = np.asarray(mask, dtype=bool)
        total = int(mask.sum())
        if not total:
            return
        room = max(self.limit - len(self.items), 0)
        idx = np.flatnonzero(mask)[:room]
        line_values = np.asarray(lines)[idx]
        texts = (
            [messages] * len(idx)
            if isinstance(messages, str)
            else [str(m) for m in np.asarray(messages, dtype=object)[idx]]
        )
        fields = (
            [field] * len(idx)
            if field is None or isinstance(field, str)
            else [str(f) for f in np.asarray(field, dtype=object)[idx]]
        )
        for line, text, name in zip(line_values, texts, fields, strict=True):
            self.items.append(Problem(text, self.file, int(line), name, code))
        self.dropped += total - len(idx)

    def extend(self, problems: Iterable[Problem]) -> None:
        for p in problems:
            if len(self.items) < self.limit:
                self.items.append(p)
            else:
                self.dropped += 1

    def as_list(self) -> list[Problem]:
        ordered = sorted(self.items, key=lambda p: (p.line is None, p.line or 0))
        if self.dropped:
            ordered.append(Problem(f"... and {self.dropped:,} more problems", self.file, code="truncated"))
        return ordered


# --------------------------------------------------------------------------------------------------------
# bytes -> text


def check_size(data: bytes, filename: str, max_bytes: int = MAX_BYTES) -> None:
    if len(data) > max_bytes:
        raise AccordError(
            f"{filename} is {len(data) / 2**20:,.1f} MB, over the limit of {max_bytes / 2**20:,.0f} MB; "
            "split it (e.g. by month) or raise the limit",
            status=413,
            kind="too-large",
        )


def decode(
    data: bytes, filename: str, encoding: str | None = None, max_bytes: int = MAX_BYTES
) -> tuple[str | None, list[Problem]]:
    """Bytes to text: UTF-8 (a BOM is dropped) unless ``encoding`` is given explicitly (e.g. ``gb18030``).

    We never guess an encoding: a wrong guess silently corrupts names. Invalid bytes give one problem that
    names the line and byte offset of the first one (and how many there are), and no text.
    """
    check_size(data, filename, max_bytes)
    if encoding is None and data.startswith(_UTF16_BOMS):
        return None, [
            Problem("file is UTF-16 encoded; save it as UTF-8 or pass encoding='utf-16'", filename, 1, code="encoding")
        ]
    if encoding is None and b"\x00" in data[:8192]:
        raise AccordError(
            f"{filename} is not a text file (it contains NUL bytes); export it as CSV, JSON or XML", kind="not-text"
        )
    codec = "utf-8-sig" if encoding is None or encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        return data.decode(codec), []
    except LookupError:
        raise AccordError(f"unknown text encoding '{encoding}'", kind="invalid-option") from None
    except UnicodeDecodeError as exc:
        return None, [_decode_problem(data, filename, codec, exc)]


def _decode_problem(data: bytes, filename: str, codec: str, exc: UnicodeDecodeError) -> Problem:
    start = exc.start
    line = data.count(b"\n", 0, start) + 1
    column = start - (data.rfind(b"\n", 0, start) + 1) + 1
    # surrogateescape maps each undecodable byte to one lone surrogate, so counting them counts the bad bytes
    bad = len(_ESCAPED_BYTE.findall(data.decode(codec, errors="surrogateescape")))
    name = "UTF-8" if codec == "utf-8-sig" else codec
    hint = " (e.g. encoding='gb18030' or 'latin-1')" if codec == "utf-8-sig" else ""
    return Problem(
        f"not valid {name}: byte 0x{data[start]:02X} at byte offset {start:,} (column {column}); "
        f"{bad:,} invalid byte{'s' if bad != 1 else ''} in all. Re-save the file as UTF-8 or name its "
        f"encoding{hint}",
        filename,
        line,
        code="encoding",
    )


# --------------------------------------------------------------------------------------------------------
# text -> string table


def read_csv(text: str, filename: str) -> tuple[pd.DataFrame, list[Problem]]:
    """Parse CSV text into an all-string DataFrame whose index is the 1-based source line of each row.

    The header is line 1. Quoted fields that contain newlines shift later line numbers; we count them so
    the index stays the physical line where each record starts. Blank lines are dropped. Header names are
    stripped of surrounding spaces. Rows with too few fields are padded with '' (the value checks catch
    what matters); rows with too many are a problem.
    """
    if not text.strip():
        return pd.DataFrame(), [Problem("file is empty", filename, code="empty")]
    # refused before pandas sees it: a million columns or a 50 MB line would tie the parser up for minutes
    longest = longest_line(text)
    too_big = shape_problem(text, filename, longest=longest)
    if too_big:
        return pd.DataFrame(), [too_big]
    header = next(csv.reader(io.StringIO(text)))
    names = [h.strip() for h in header]
    problems = _duplicate_header_problems(names, filename)
    if problems:
        return pd.DataFrame(), problems
    try:
        with warnings.catch_warnings():
            # index_col=False: without it pandas silently turns an extra first field into the index; with
            # it, that case is a ParserWarning, which we make an error
            warnings.simplefilter("error", pd.errors.ParserWarning)
            table = pd.read_csv(
                io.StringIO(text),
                dtype=str,
                header=0,
                names=names,
                index_col=False,
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=False,
                engine="c",
            )
    except pd.errors.ParserError as exc:
        return pd.DataFrame(), [_csv_error_problem(text, filename, exc)]
    except pd.errors.ParserWarning:
        line = 2 + sum(h.count("\n") for h in header)
        return pd.DataFrame(), [
            Problem("malformed CSV: more fields than the header has", filename, line, code="malformed")
        ]
    table = table.fillna("")
    table.index = pd.Index(_record_lines(text, table, header), name="line")
    blank = (table == "").all(axis=1)
    table = table[~blank.to_numpy()]
    # a field is no longer than its line, unless quotes let it span lines
    may_be_long = longest[1] > MAX_FIELD_CHARS or ('"' in text and len(text) > MAX_FIELD_CHARS)
    long = long_field_problem(table, filename) if may_be_long else None
    return (pd.DataFrame(), [long]) if long else (table, [])


def shape_problem(
    text: str, filename: str | None, sep: str = ",", longest: tuple[int, int] | None = None
) -> Problem | None:
    """The first way ``text`` is too big a table to parse: a line over MAX_LINE_CHARS, or a header of more
    than MAX_COLUMNS fields. Cheap (one vectorised pass over the bytes), so every CSV reader calls it first;
    ``longest`` is :func:`longest_line` of the text when the caller has it already."""
    line, length = longest or longest_line(text)
    if length > MAX_LINE_CHARS:
        return Problem(
            f"line is {length:,} characters long; at most {MAX_LINE_CHARS:,} per line", filename, line, code="too-long"
        )
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    if first.count(sep) + 1 > MAX_COLUMNS:
        columns = len(next(csv.reader(io.StringIO(first), delimiter=sep), []))
        if columns > MAX_COLUMNS:
            return Problem(
                f"the header has {columns:,} columns; at most {MAX_COLUMNS:,}", filename, 1, code="too-many-columns"
            )
    return None


def table_problem(text: str, filename: str | None, sep: str = ",") -> Problem | None:
    """Why ``text`` cannot be read as a table at all (empty, or too big by :func:`shape_problem`), or None.

    For readers that call pandas themselves (capacity reports, line lists, scenario regions): the same
    limits as :func:`read_csv`, checked before the parser runs."""
    if not text.strip():
        return Problem("file is empty", filename, code="empty")
    return shape_problem(text, filename, sep)


def longest_line(text: str) -> tuple[int, int]:
    """(1-based line number, length in characters) of the longest line; a line ends at \\n, \\r\\n or \\r."""
    data = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    newline = data == 10
    ends = newline | (data == 13)
    ends[:-1] &= ~newline[1:]  # the \\r of \\r\\n is part of its line's ending
    stops = np.flatnonzero(ends)
    starts = np.concatenate(([0], stops + 1))
    stops = np.concatenate((stops, [len(data)]))
    widths = stops - starts  # bytes: at least the characters, at most four times them
    index = int(np.argmax(widths))
    if widths[index] <= MAX_LINE_CHARS:
        return index + 1, int(widths[index])
    chars = len(data[starts[index] : stops[index]].tobytes().decode("utf-8", "surrogatepass").rstrip("\r"))
    return index + 1, chars


def long_field_problem(table: pd.DataFrame, filename: str | None) -> Problem | None:
    """The first field longer than MAX_FIELD_CHARS in an all-string table indexed by source line."""
    for name in table.columns:
        lengths = table[name].str.len()
        if len(lengths) and int(lengths.max()) > MAX_FIELD_CHARS:
            position = int(np.argmax(lengths.to_numpy()))
            line = table.index[position]
            return Problem(
                f"the field is {int(lengths.iloc[position]):,} characters long; at most {MAX_FIELD_CHARS:,}",
                filename,
                int(line) if isinstance(line, int | np.integer) else None,
                str(name),
                code="too-long",
            )
    return None


def _duplicate_header_problems(names: list[str], filename: str) -> list[Problem]:
    seen: dict[str, int] = {}
    problems = []
    for i, name in enumerate(names, start=1):
        if name in seen:
            problems.append(
                Problem(
                    f"column '{name}' appears twice (columns {seen[name]} and {i})",
                    filename,
                    1,
                    name,
                    code="duplicate-column",
                )
            )
        seen.setdefault(name, i)
    return problems


def _record_lines(text: str, table: pd.DataFrame, header: list[str]) -> np.ndarray:
    lines = np.arange(2, len(table) + 2, dtype=np.int64)
    if '"' not in text or table.empty:
        return lines  # no quoting, so no field can hold a newline: record i is line i + 2
    header_extra = sum(h.count("\n") for h in header)
    extra = np.zeros(len(table), dtype=np.int64)
    for col in table.columns:
        extra += table[col].str.count("\n").to_numpy(dtype=np.int64)
    shift = np.concatenate(([0], np.cumsum(extra)[:-1]))
    return lines + header_extra + shift


def _csv_error_problem(text: str, filename: str, exc: Exception) -> Problem:
    message = str(exc).strip()
    if m := re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message):
        return Problem(
            f"malformed CSV: {m.group(3)} fields where the header has {m.group(1)}",
            filename,
            _physical_line(text, int(m.group(2))),
            code="malformed",
        )
    if "EOF inside string" in message:
        return Problem(
            'malformed CSV: a quoted field is never closed (missing ")',
            filename,
            _unclosed_quote_line(text),
            code="malformed",
        )
    return Problem(f"malformed CSV: {message}", filename, code="malformed")


def _physical_line(text: str, record: int) -> int:
    """pandas counts records; a quoted field may span lines, so find where record ``record`` starts."""
    reader = csv.reader(io.StringIO(text))
    start = 1
    try:
        for number, _ in enumerate(reader, start=1):
            if number == record:
                return start
            start = reader.line_num + 1
    except csv.Error:
        pass
    return record


def _unclosed_quote_line(text: str) -> int | None:
    # Only on the error path: walk records with the csv module to find where the runaway quote starts.
    reader = csv.reader(io.StringIO(text), strict=True)
    start = 1
    try:
        for _ in reader:
            start = reader.line_num + 1
    except csv.Error:
        return start
    return None


def require_columns(
    table: pd.DataFrame, required: Sequence[str], filename: str, what: str = "this format"
) -> list[Problem]:
    """One problem naming every missing column (and the columns the file does have)."""
    missing = [c for c in required if c not in table.columns]
    if not missing:
        return []
    have = ", ".join(table.columns) or "none"
    return [
        Problem(
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} required by "
            f"{what} (the header has: {have})",
            filename,
            1,
            ",".join(missing),
            code="missing-column",
        )
    ]


# --------------------------------------------------------------------------------------------------------
# typed columns


def to_numbers(
    values: pd.Series, lines: pd.Series | np.ndarray, problems: Problems, field: str, *, required: bool = False
) -> pd.Series:
    """Strings to float64: '' is NaN (no report), or a problem when ``required``; non-numbers are problems."""
    text = values.astype(str).str.strip()
    numbers = pd.to_numeric(text, errors="coerce").astype("float64")
    empty = (text == "").to_numpy()
    bad = (~empty & ~np.isfinite(numbers.to_numpy())).astype(bool)
    problems.add_rows(bad, lines, "'" + text + "' is not a number", field=field, code="not-a-number")
    if required:
        problems.add_rows(empty, lines, "value is empty", field=field, code="empty-value")
    return numbers.where(~bad)


def numeric_block(block: pd.DataFrame) -> np.ndarray | None:
    """A string DataFrame to a (rows x columns) float64 array in one Arrow cast, '' as NaN.

    The fast path for wide files (JHU: a million cells). None when any cell is not a plain number: the
    caller then takes the per-cell path that reports each bad cell.
    """
    if block.empty:
        return np.empty(block.shape, dtype="float64")
    columns = []
    try:
        for name in block.columns:  # per column: concatenating Arrow chunks first is far slower
            text = pa.array(block[name])
            blank = pc.equal(text, "")
            number = pc.cast(pc.if_else(blank, pa.scalar(None, text.type), text), pa.float64())
            columns.append(number.to_numpy(zero_copy_only=False))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    values = np.column_stack(columns).astype("float64")
    if np.isinf(values).any():
        return None  # Arrow reads 'inf'; let the slow path report it
    return values


#: the span of days a surveillance figure can be for
EARLIEST_DAY = pd.Timestamp("1900-01-01")
LATEST_DAY = pd.Timestamp("2200-12-31")


def to_dates(
    values: pd.Series,
    lines: pd.Series | np.ndarray,
    problems: Problems,
    field: str,
    fmt: str = "%Y-%m-%d",
    shown: str = "YYYY-MM-DD",
) -> pd.Series:
    """Strings to datetime64[ns] days; unparseable or empty dates are problems (NaT in the result)."""
    text = values.astype(str).str.strip()
    parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    # a typo such as 0224 or 9999 parses but cannot be a surveillance day (nor fit datetime64[ns]): a problem
    in_range = parsed.notna() & (parsed >= EARLIEST_DAY) & (parsed <= LATEST_DAY)
    dates = parsed.where(in_range).astype("datetime64[ns]")
    problems.add_rows(
        (parsed.isna()).to_numpy(), lines, "'" + text + f"' is not a date ({shown})", field=field, code="bad-date"
    )
    problems.add_rows(
        (parsed.notna() & ~in_range).to_numpy(),
        lines,
        "'" + text + f"' is outside {EARLIEST_DAY.date()}..{LATEST_DAY.date()}",
        field=field,
        code="bad-date",
    )
    return dates.dt.normalize()


def format_numbers(values: pd.Series) -> pd.Series:
    """Float64 to text for export: integers without '.0', others in shortest round-trip form, NaN as ''."""
    values = values.astype("float64")
    out = pd.Series("", index=values.index, dtype=object)
    arr = values.to_numpy()
    finite = np.isfinite(arr)
    integral = finite & (np.abs(arr) < 2.0**53) & (np.floor(arr) == arr)
    out[integral] = values[integral].astype("int64").astype(str)
    other = finite & ~integral
    out[other] = values[other].map(repr)
    return out.astype(str)


def format_dates(values: pd.Series, fmt: str = "%Y-%m-%d") -> pd.Series:
    return pd.to_datetime(values).dt.strftime(fmt).astype(str)


# --------------------------------------------------------------------------------------------------------
# frames


def observation_frame(**columns: object) -> pd.DataFrame:
    """Build an observation frame with the canonical columns, order and dtypes from arrays or scalars.

    Missing string columns are ''; ``line`` defaults to 0 (unknown).
    """
    sizes = [len(v) for v in columns.values() if isinstance(v, pd.Series | np.ndarray | list)]
    n = sizes[0] if sizes else 0
    data: dict[str, object] = {}
    for name in FRAME_COLUMNS:
        value = columns.get(name, "" if name in STRING_COLUMNS else 0 if name == "line" else np.nan)
        if name in STRING_COLUMNS:
            data[name] = as_strings(value, n)
        else:
            data[name] = value.to_numpy() if isinstance(value, pd.Series) else value
    frame = pd.DataFrame(data, index=pd.RangeIndex(n))
    return normalise_frame(frame)


def as_strings(values: object, n: int) -> pd.Series:
    """A pandas ``str`` Series of length n from a scalar, list, array or Series.

    Going through factorize builds each distinct string once: a million rows of a few hundred place names
    convert several times faster than ``astype(str)`` on the objects.
    """
    if isinstance(values, pd.Series) and values.dtype == "str":
        return values.reset_index(drop=True)
    if not isinstance(values, pd.Series | np.ndarray | list):
        return pd.Series(
            pd.array(["" if values is None else str(values)], dtype="str").take(np.zeros(n, dtype=np.intp))
        )
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
    texts = ["" if u is None or (isinstance(u, float) and np.isnan(u)) else str(u) for u in uniques]
    texts.append("")  # the slot that missing values (code -1) take
    codes = np.where(codes < 0, len(texts) - 1, codes)
    return pd.Series(pd.array(texts, dtype="str").take(codes))


def take_strings(values: object, positions: np.ndarray) -> pd.Series:
    """``values[positions]`` as a ``str`` Series, converting each of the (few) source values only once."""
    return pd.Series(pd.array(np.asarray(values, dtype=object), dtype="str").take(positions))


def normalise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.loc[:, list(FRAME_COLUMNS)].copy()
    for name in STRING_COLUMNS:
        column = out[name]
        out[name] = (
            column.fillna("") if column.dtype == "str" else as_strings(column.to_numpy(), len(out)).set_axis(out.index)
        )
    out["date"] = pd.to_datetime(out["date"]).astype("datetime64[ns]").dt.normalize()
    out["value"] = out["value"].astype("float64")
    out["line"] = out["line"].astype("int64")
    return out.reset_index(drop=True)


def empty_frame() -> pd.DataFrame:
    return observation_frame(jurisdiction=[], date=np.array([], dtype="datetime64[ns]"))


def empty_places() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series([], dtype=str) for c in PLACE_COLUMNS})
    frame["population"] = frame["population"].astype("float64")
    frame["line"] = frame["line"].astype("int64")
    return frame


def failed_places(problems: Problems) -> ParseResult:
    places = empty_places()
    return ParseResult(places, problems.as_list(), [], places)


def failed(problems: Problems | list[Problem], notes: list[str] | None = None) -> ParseResult:
    items = problems.as_list() if isinstance(problems, Problems) else problems
    return ParseResult(empty_frame(), items, notes or [])


def duplicate_problems(frame: pd.DataFrame, keys: Sequence[str], problems: Problems, what: str = "row") -> np.ndarray:
    """Flag every repeat of a key, naming the line of its first occurrence; returns the repeat mask.

    ``what`` says what repeats, e.g. "observation (same jurisdiction and date)". Rows with a missing key
    (an unparseable date) already have their problem and are not compared.
    """
    complete = frame[list(keys)].notna().all(axis=1).to_numpy()
    repeat = frame.duplicated(list(keys), keep="first").to_numpy() & complete
    if repeat.any():
        first = frame.groupby(list(keys), sort=False, dropna=False)["line"].transform("min")
        problems.add_rows(repeat, frame["line"], f"duplicate {what} as line " + first.astype(str), code="duplicate")
    return repeat


Groups = pd.Series | pd.Index | np.ndarray | list[pd.Series]


def cumulative_to_daily(cumulative: pd.Series, groups: Groups) -> tuple[pd.Series, pd.Series]:
    """Daily counts from running totals: (daily, previous cumulative or NaN at a series' first row).

    Rows must be sorted by group, then date, with missing days already removed, so a gap is diffed against
    the last known total. The first row of each series counts its whole cumulative as that day's events.
    A decrease comes out as a negative count: we never clip, the service decides what a decrease means.
    """
    previous = cumulative.groupby(groups, sort=False).shift(1)
    daily = (cumulative - previous).where(previous.notna(), cumulative)
    return daily, previous


def daily_to_cumulative(daily: pd.Series, groups: Groups) -> pd.Series:
    """Running totals from daily counts (rows sorted by group, then date); the inverse of the above."""
    return daily.groupby(groups, sort=False).cumsum()


def decrease_reasons(
    daily: pd.Series, previous: pd.Series, cumulative: pd.Series, template: str, **fields: pd.Series
) -> pd.Series:
    """A reason for each negative daily count, '' elsewhere.

    ``template`` has ``{prev}`` and ``{cur}`` placeholders and one ``{name}`` per extra per-row ``fields``
    Series; only the (few) negative rows are formatted.
    """
    reasons = np.full(len(daily), "", dtype=object)
    negative = (daily < 0).to_numpy()
    if negative.any():
        values = {
            "prev": format_numbers(previous[negative]),
            "cur": format_numbers(cumulative[negative]),
            **{name: series[negative].astype(str) for name, series in fields.items()},
        }
        text = pd.Series("", index=values["prev"].index, dtype=object)
        for i, piece in enumerate(re.split(r"\{(\w+)\}", template)):
            text = text + (values[piece] if i % 2 else piece)
        reasons[negative] = text.to_numpy()
    return pd.Series(reasons, index=daily.index).astype(str)


def place_key(frame: pd.DataFrame) -> pd.Series:
    """For renderers: the jurisdiction code, or the name for rows without a code (World, International)."""
    code = frame["jurisdiction"].fillna("").astype(str)
    name = frame["jurisdiction_name"].fillna("").astype(str) if "jurisdiction_name" in frame else code
    return code.where(code != "", "name:" + name)


def string_column(table: pd.DataFrame, name: str) -> pd.Series:
    """A stripped string column, or '' everywhere when the file lacks it (optional columns)."""
    if name in table.columns:
        return table[name].astype(str).str.strip()
    return pd.Series("", index=table.index, dtype=str)


def read_table(
    data: bytes, filename: str, encoding: str | None, max_bytes: int, required: Sequence[str], what: str
) -> tuple[pd.DataFrame | None, Problems]:
    """decode + read_csv + require_columns, the opening of every CSV parser."""
    problems = Problems(filename)
    text, decode_problems = decode(data, filename, encoding, max_bytes)
    problems.extend(decode_problems)
    if text is None:
        return None, problems
    table, csv_problems = read_csv(text, filename)
    problems.extend(csv_problems)
    if csv_problems:
        return None, problems
    missing = require_columns(table, required, filename, what)
    problems.extend(missing)
    return (None if missing else table), problems


def header_only_note(table: pd.DataFrame) -> list[str]:
    return ["the file has a header but no data rows"] if table.empty else []

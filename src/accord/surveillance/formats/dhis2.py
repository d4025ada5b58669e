"""DHIS2 data value sets (JSON) and IHE ADX (XML): the exchange formats of health information systems.

Our mapping, the same for both:

===================  ==============================  =====================================
Accord               DHIS2 dataValueSet JSON          ADX XML
===================  ==============================  =====================================
jurisdiction         ``orgUnit``                      ``group/@orgUnit``
date                 ``period`` ``YYYYMMDD``          ``group/@period`` ``YYYY-MM-DD/P1D``
indicator            ``dataElement``                  ``dataValue/@dataElement``
disaggregation       ``categoryOptionCombo``          one extra ``dataValue`` attribute
                     ('' or ``default`` = total)      (we write ``origin=`` for imported/local)
value                ``value``                        ``dataValue/@value``
reason               ``comment``                      ``dataValue/annotation`` text
===================  ==============================  =====================================

Only daily periods are accepted: a weekly or monthly value cannot be split into days without inventing
data, so it is refused with a clear problem. ``line`` is the 1-based index of the data value in the
document. XML is parsed with defusedxml: DTDs and entity declarations are refused (entity expansion and
external entities are the classic attacks on XML parsers).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Final
from xml.etree import ElementTree as StdET

import numpy as np
import pandas as pd
from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml import ElementTree as SafeET

from accord.errors import AccordError
from accord.surveillance.formats.common import (
    MAX_BYTES,
    ParseResult,
    Problems,
    decode,
    duplicate_problems,
    failed,
    format_dates,
    format_numbers,
    observation_frame,
    to_numbers,
)
from accord.surveillance.formats.longcsv import check_indicators
from accord.surveillance.indicators import ORIGIN_PARTS

ADX_NS: Final = "urn:ihe:qrph:adx:2015"
_DAILY_DHIS2: Final = re.compile(r"\d{8}")
_DAILY_ADX: Final = re.compile(r"(\d{4}-\d{2}-\d{2})/P1D")
_TOTAL_NAMES: Final = ("", "default")
_KEY: Final = ["jurisdiction", "date", "indicator", "disaggregation"]


# --------------------------------------------------------------------------------------------------------
# DHIS2 JSON


def parse(data: bytes, filename: str, *, encoding: str | None = None, max_bytes: int = MAX_BYTES) -> ParseResult:
    """A DHIS2 ``dataValueSet`` JSON document."""
    problems = Problems(filename)
    text, decode_problems = decode(data, filename, encoding, max_bytes)
    problems.extend(decode_problems)
    if text is None:
        return failed(problems)
    if not text.strip():
        problems.add("file is empty", code="empty")
        return failed(problems)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        problems.add(f"malformed JSON: {exc.msg} (column {exc.colno})", line=exc.lineno, code="malformed")
        return failed(problems)
    except RecursionError:
        problems.add("malformed JSON: nested too deeply to be a data value set", code="malformed")
        return failed(problems)
    if not isinstance(document, dict) or not isinstance(document.get("dataValues"), list):
        raise AccordError(
            f"{filename} is not a DHIS2 data value set (no 'dataValues' list at the top level)", kind="wrong-format"
        )
    return _from_records(document["dataValues"], _defaults(document), problems, period_format="dhis2")


def _defaults(document: Mapping[str, object]) -> dict[str, str]:
    # a data value set may give orgUnit / period / attributeOptionCombo once for all of its values
    return {k: str(document[k]) for k in ("orgUnit", "period", "attributeOptionCombo") if k in document}


def _from_records(
    records: list[object], defaults: Mapping[str, str], problems: Problems, period_format: str
) -> ParseResult:
    fields = ("orgUnit", "period", "dataElement", "categoryOptionCombo", "attributeOptionCombo", "value", "comment")
    columns: dict[str, list[str]] = {f: [] for f in fields}
    lines: list[int] = []
    for i, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            problems.add(f"data value is a {type(record).__name__}, not an object", line=i, code="malformed")
            continue
        lines.append(i)
        for f in fields:
            value = record.get(f, defaults.get(f))
            columns[f].append("" if value is None else str(value))
    raw = pd.DataFrame(columns, index=pd.Index(lines, dtype="int64"))
    return _observations(raw, problems, period_format, notes=[] if records else ["no data values"])


def _observations(raw: pd.DataFrame, problems: Problems, period_format: str, notes: list[str]) -> ParseResult:
    """The checks both encodings share, on a table of strings (one row per data value)."""
    lines = raw.index.to_numpy()
    org_unit = raw["orgUnit"].astype(str).str.strip()
    problems.add_rows((org_unit == "").to_numpy(), lines, "orgUnit is empty", field="orgUnit", code="empty-value")
    indicator = raw["dataElement"].astype(str).str.strip()
    coc = raw["categoryOptionCombo"].astype(str).str.strip()
    disaggregation = coc.where(~coc.isin(_TOTAL_NAMES), "")
    check_indicators(indicator, disaggregation, lines, problems, "dataElement", "categoryOptionCombo")
    attribute = raw["attributeOptionCombo"].astype(str).str.strip()
    if (~attribute.isin(_TOTAL_NAMES)).any():
        notes.append("attributeOptionCombo values other than 'default' are ignored (Accord has none)")
    frame = observation_frame(
        jurisdiction=org_unit,
        date=_periods(raw["period"], lines, problems, period_format),
        indicator=indicator,
        disaggregation=disaggregation,
        value=to_numbers(raw["value"], lines, problems, "value", required=True),
        reason=raw["comment"].astype(str).str.strip(),
        line=lines,
    )
    duplicate_problems(frame, _KEY, problems, "data value (same orgUnit, period, dataElement, categoryOptionCombo)")
    return ParseResult(frame, problems.as_list(), notes)


def _periods(period: pd.Series, lines: np.ndarray, problems: Problems, period_format: str) -> pd.Series:
    text = period.astype(str).str.strip()
    if period_format == "dhis2":
        daily = text.str.fullmatch(_DAILY_DHIS2.pattern).fillna(False).to_numpy(dtype=bool)
        day, shown, fmt = text, "YYYYMMDD", "%Y%m%d"
    else:
        day = text.str.extract(_DAILY_ADX.pattern, expand=False).fillna("")
        daily, shown, fmt = (day != "").to_numpy(), "YYYY-MM-DD/P1D", "%Y-%m-%d"
    problems.add_rows(
        ~daily & (text != "").to_numpy(),
        lines,
        "period '" + text + f"' is not a daily period ({shown}); Accord stores daily values and "
        "cannot split a longer period into days",
        field="period",
        code="non-daily-period",
    )
    problems.add_rows((text == "").to_numpy(), lines, "period is empty", field="period", code="empty-value")
    dates = pd.to_datetime(day.where(daily, ""), format=fmt, errors="coerce").astype("datetime64[ns]")
    problems.add_rows(
        daily & dates.isna().to_numpy(),
        lines,
        "period '" + text + "' is not a real date",
        field="period",
        code="bad-date",
    )
    return dates


def render(frame: pd.DataFrame, *, data_set: str | None = None) -> bytes:
    """A dataValueSet JSON document; values as strings (as DHIS2 writes them), total without a combo."""
    rows = frame.reset_index(drop=True)
    periods = format_dates(rows["date"], "%Y%m%d")
    values = format_numbers(rows["value"])
    reasons = rows["reason"].fillna("").astype(str) if "reason" in rows else pd.Series("", index=rows.index)
    records = []
    for i in range(len(rows)):  # building JSON objects is inherently per record
        record = {
            "dataElement": str(rows.at[i, "indicator"]),
            "period": periods.iat[i],
            "orgUnit": str(rows.at[i, "jurisdiction"]),
            "value": values.iat[i],
        }
        if rows.at[i, "disaggregation"]:
            record["categoryOptionCombo"] = str(rows.at[i, "disaggregation"])
        if reasons.iat[i]:
            record["comment"] = reasons.iat[i]
        records.append(record)
    document: dict[str, object] = {"dataSet": data_set} if data_set else {}
    document["dataValues"] = records
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")


# --------------------------------------------------------------------------------------------------------
# ADX XML


def parse_adx(data: bytes, filename: str, *, encoding: str | None = None, max_bytes: int = MAX_BYTES) -> ParseResult:
    """An IHE ADX document (namespace ``urn:ihe:qrph:adx:2015``)."""
    problems = Problems(filename)
    text, decode_problems = decode(data, filename, encoding or "utf-8", max_bytes)
    problems.extend(decode_problems)
    if text is None:
        return failed(problems)
    if not text.strip():
        problems.add("file is empty", code="empty")
        return failed(problems)
    try:
        root = SafeET.fromstring(text.lstrip("\ufeff"), forbid_dtd=True)
    except (EntitiesForbidden, ExternalReferenceForbidden, DTDForbidden) as exc:
        problems.add(
            f"refused: the XML declares {_refusal(exc)}; ADX documents need no DTD or entities, and "
            "entity expansion ('billion laughs') and external entities are known attacks on XML "
            "parsers",
            code="hostile-xml",
        )
        return failed(problems)
    except DefusedXmlException as exc:
        problems.add(f"refused: {exc}", code="hostile-xml")
        return failed(problems)
    except StdET.ParseError as exc:
        problems.add(f"malformed XML: {exc}", line=exc.position[0], code="malformed")
        return failed(problems)
    if root.tag != f"{{{ADX_NS}}}adx":
        raise AccordError(
            f"{filename} is not an ADX document (root element {root.tag}, expected adx in namespace {ADX_NS})",
            kind="wrong-format",
        )
    table = _adx_table(root, problems)
    return _observations(table, problems, "adx", notes=[] if len(table) else ["no group/dataValue elements"])


def _refusal(exc: Exception) -> str:
    if isinstance(exc, DTDForbidden):
        return "a document type (DTD)"
    return f"the entity '{getattr(exc, 'name', '?')}'"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _adx_table(root: StdET.Element, problems: Problems) -> pd.DataFrame:
    rows: list[dict[str, str]] = []
    for group in root:
        if _local(group.tag) != "group":
            continue
        for value in group:
            if _local(value.tag) != "dataValue":
                continue
            rows.append(_adx_row(group, value, len(rows) + 1, problems))
    columns = ["orgUnit", "period", "dataElement", "categoryOptionCombo", "attributeOptionCombo", "value", "comment"]
    table = pd.DataFrame(rows, columns=columns).fillna("")
    table.index = pd.Index(np.arange(1, len(table) + 1, dtype=np.int64))
    return table


def _adx_row(group: StdET.Element, value: StdET.Element, number: int, problems: Problems) -> dict[str, str]:
    extra = {k: v for k, v in value.attrib.items() if k not in ("dataElement", "value")}
    if len(extra) > 1:
        problems.add(
            "more than one disaggregation attribute (" + ", ".join(extra) + "); Accord has one "
            "disaggregation per value",
            line=number,
            field=",".join(extra),
            code="unknown-disaggregation",
        )
    annotation = next((child.text or "" for child in value if _local(child.tag) == "annotation"), "")
    return {
        "orgUnit": group.get("orgUnit", ""),
        "period": group.get("period", ""),
        "dataElement": value.get("dataElement", ""),
        "value": value.get("value", ""),
        "categoryOptionCombo": next(iter(extra.values()), ""),
        "attributeOptionCombo": "",
        "comment": annotation.strip(),
    }


def render_adx(frame: pd.DataFrame, *, data_set: str = "ACCORD_DAILY", exported: str | None = None) -> bytes:
    """An ADX document, one group per (jurisdiction, day); ``origin=`` carries imported/local."""
    # the namespace is written as a plain xmlns attribute: ElementTree's default_namespace option refuses
    # the unqualified attribute names that ADX uses
    root = StdET.Element("adx", {"xmlns": ADX_NS, **({"exported": exported} if exported else {})})
    rows = frame.assign(period=format_dates(frame["date"]) + "/P1D", text=format_numbers(frame["value"]))
    reasons = rows["reason"].fillna("") if "reason" in rows else pd.Series("", index=rows.index)
    rows = rows.assign(reason_text=reasons.astype(str))
    for (org_unit, period), group in rows.groupby(["jurisdiction", "period"], sort=True):
        element = StdET.SubElement(
            root, "group", {"orgUnit": str(org_unit), "period": str(period), "dataSet": data_set}
        )
        for indicator, part, text, reason in group[["indicator", "disaggregation", "text", "reason_text"]].itertuples(
            index=False
        ):
            attrs = {"dataElement": str(indicator), "value": str(text)}
            if part:
                attrs["origin" if part in ORIGIN_PARTS else "disaggregation"] = str(part)
            value = StdET.SubElement(element, "dataValue", attrs)
            if reason:
                StdET.SubElement(value, "annotation").text = str(reason)
    StdET.indent(root)
    document: bytes = StdET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document

"""The canghailan China file (github.com/canghailan/Wuhan-2019-nCoV): daily cumulative counts by place.

Columns ``date,country,countryCode,province,provinceCode,city,cityCode,confirmed,suspected,cured,dead``
(``countryEnglishName``, ``provinceEnglishName`` optional), all four counts **cumulative**.

A row's level follows from which names are set: national when ``province`` is empty (jurisdiction =
``countryCode``), province when ``city`` is empty (jurisdiction = ``provinceCode``), city otherwise
(jurisdiction = ``cityCode``). City rows without a code are buckets the bulletins use: non-geographic ones
(外地来京, 境外输入, 未公布来源, 待确认, 监狱系统) and places without an MCA code (XPCC divisions 第七师, 两江新区,
...). Each (province, name) becomes an explicit child of its province, code ``{provinceCode}-X-{slug}`` where the
slug is the toneless pinyin of the name in ASCII (``110000-X-waidilaijing``); two names of one province with
the same pinyin both get ``-{6 hex digits of the name's SHA-1}`` appended. They are returned in
``ParseResult.places`` with level ``unallocated`` (non-geographic) or ``uncoded`` (a real place).

Counts become daily per (jurisdiction, series), in date order: confirmed -> new_confirmed, suspected ->
new_suspected, cured -> new_recovered, dead -> new_deaths. A series' first row counts its cumulative as that
day's events; a missing day is a gap (no row) and the next day is diffed against the last known total; a
decrease is kept as a negative count with the reason "cumulative {col} decreased from X to Y as reported".
Every reported day is emitted, zeros included: a zero is a report.

Real-file quirk: from 2020-03-05 the regions without cities (Taiwan, Hong Kong, Macao) carry a city row
whose cityCode equals the provinceCode; its counts sometimes differ from the province row. It continues the
bucket named 台湾 / 香港 / 澳门 before that day, so it is read as that bucket (see ``_fold_restatements``).
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
from typing import Final

import numpy as np
import pandas as pd

# imported as a module, used at call time: china_codes itself imports our common helpers (import cycle)
from accord.places import china_codes
from accord.surveillance.formats.common import (
    MAX_BYTES,
    PLACE_COLUMNS,
    ParseResult,
    Problems,
    cumulative_to_daily,
    daily_to_cumulative,
    decrease_reasons,
    duplicate_problems,
    failed,
    format_dates,
    format_numbers,
    header_only_note,
    observation_frame,
    read_table,
    string_column,
    take_strings,
    to_dates,
    to_numbers,
)

REQUIRED = (
    "date",
    "country",
    "countryCode",
    "province",
    "provinceCode",
    "city",
    "cityCode",
    "confirmed",
    "suspected",
    "cured",
    "dead",
)
COLUMNS = (*REQUIRED, "countryEnglishName", "provinceEnglishName")
SERIES: Final[dict[str, str]] = {
    "confirmed": "new_confirmed",
    "suspected": "new_suspected",
    "cured": "new_recovered",
    "dead": "new_deaths",
}

# X来京: arrivals from X into the province, by its one-character abbreviation (京 Beijing, 沪 Shanghai, ...)
_ARRIVALS: Final = re.compile(
    r"^(?P<origin>.+)来(?P<dest>[京津沪渝冀晋辽吉黑苏浙皖闽赣鲁豫鄂湘粤桂琼川贵黔云滇"
    r"藏陕甘陇青宁新])$"
)
_XPCC: Final = re.compile(r"^第(?P<n>[一二三四五六七八九十]+)师(?P<rest>.*)$")
_CN_DIGITS: Final = {c: i for i, c in enumerate("一二三四五六七八九十", start=1)}
_BUCKETS: Final[dict[str, str]] = {
    "境外输入": "Imported from abroad",
    "未公布来源": "Source not published",
    "监狱系统": "Prison system",
}
_TO_CONFIRM: Final = re.compile(r"待(?:确认|明确)")
# a bucket named like its province (台湾 under 台湾省) gets the province's English name


@functools.cache
def _province_stems() -> dict[str, str]:
    return {china_codes.strip_suffix(local): english for english, local in china_codes.PROVINCES.values()}


def parse(
    data: bytes, filename: str, *, country: str | None = "CN", encoding: str | None = None, max_bytes: int = MAX_BYTES
) -> ParseResult:
    """``country``: the ISO alpha-2 code whose rows to keep (others are skipped with a note); None keeps all."""
    table, problems = read_table(data, filename, encoding, max_bytes, REQUIRED, "the canghailan layout")
    if table is None:
        return failed(problems)
    notes = header_only_note(table)
    table, skipped = _select_country(table, country)
    notes += skipped
    table, restated = _fold_restatements(table)
    notes += restated
    jurisdiction, name, places = _jurisdictions(table, problems)
    lines = table.index.to_numpy()
    rows = pd.DataFrame(
        {
            "jurisdiction": jurisdiction.to_numpy(),
            "jurisdiction_name": name.to_numpy(),
            "date": to_dates(table["date"], lines, problems, "date").to_numpy(),
            "line": lines,
        }
    )
    repeat = duplicate_problems(rows, ["jurisdiction", "date"], problems, "row (same place and date)")
    keep = ~repeat & rows["date"].notna().to_numpy()
    counts = {col: to_numbers(table[col], lines, problems, col).to_numpy() for col in SERIES}
    frame = _daily(rows[keep], {col: v[keep] for col, v in counts.items()})
    buckets = int(places["code"].str.contains("-X-", regex=False).sum())
    if buckets:
        notes.append(f"{buckets} uncoded city-level buckets mapped to child jurisdictions of their province")
    return ParseResult(frame, problems.as_list(), notes, places)


def _select_country(table: pd.DataFrame, country: str | None) -> tuple[pd.DataFrame, list[str]]:
    if country is None:
        return table, []
    code = table["countryCode"].str.strip()
    mine = (code == country).to_numpy()
    if mine.all():
        return table, []
    others = table.loc[~mine, "country"].nunique()
    return table[mine], [f"skipped {int((~mine).sum()):,} rows of {others:,} other countries (kept {country})"]


def _fold_restatements(table: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """City rows whose cityCode is their provinceCode (台湾省 under 台湾省, from 2020-03-05 on for Taiwan, Hong
    Kong and Macao) continue the region's single city-level bucket that was named 台湾 / 香港 / 澳门 before.
    Their counts lag the province row on some days (a different source), so they are neither the province's
    row nor a duplicate of it: we give them the bucket's name and no code, so both spellings make one series.
    """
    city = table["city"].str.strip()
    city_code = table["cityCode"].str.strip()
    restates = ((city != "") & (city_code != "") & (city_code == table["provinceCode"].str.strip())).to_numpy()
    if not restates.any():
        return table, []
    table = table.copy()
    stems = city[restates].map({n: china_codes.strip_suffix(n) for n in city[restates].unique()})
    table.loc[restates, "city"] = stems
    table.loc[restates, "cityCode"] = ""
    return table, [
        f"{int(restates.sum()):,} city rows restate their province (cityCode = provinceCode): read "
        "as the province's city-level bucket (" + ", ".join(sorted(stems.unique())) + ")"
    ]


def _jurisdictions(table: pd.DataFrame, problems: Problems) -> tuple[pd.Series, pd.Series, pd.DataFrame]:
    """Code and name of each row's place, and the uncoded buckets as places."""
    country, country_code = string_column(table, "country"), string_column(table, "countryCode")
    province, province_code = string_column(table, "province"), string_column(table, "provinceCode")
    city, city_code = string_column(table, "city"), string_column(table, "cityCode")
    lines = table.index.to_numpy()
    problems.add_rows(
        ((province != "") & (province_code == "")).to_numpy(),
        lines,
        "province '" + province + "' has no provinceCode",
        field="provinceCode",
    )
    # the source gives some buckets pseudo codes on some days (1100xx, 3300y0, 220a61): only six digits are a
    # real MCA code, so anything else is read by name, making one series of both spellings
    real_code = city_code.str.fullmatch(r"\d{6}")
    bucket = ((city != "") & ~real_code).to_numpy()
    coded = _coded_places(province_code[~bucket], city[~bucket], city_code[~bucket], lines[~bucket])
    buckets = _bucket_places(province_code[bucket], city[bucket], lines[bucket])
    # a bucket that is also reported under a code on other days (两江新区 / 401147) is that coded place
    known = dict(zip(coded["parent_code"] + "\x00" + coded["local_name"], coded["code"], strict=False))
    bucket_key = buckets["parent_code"] + "\x00" + buckets["local_name"]
    buckets = buckets[~bucket_key.isin(known)]
    known.update(zip(buckets["parent_code"] + "\x00" + buckets["local_name"], buckets["code"], strict=True))
    places = pd.concat([buckets, coded], ignore_index=True)
    # every bucket row finds its code; other rows get NaN, which np.where below never picks
    bucket_code = (province_code + "\x00" + city).map(known).to_numpy(dtype=object)
    national = (province == "").to_numpy()
    provincial = ~national & (city == "").to_numpy()
    code = np.where(
        national, country_code, np.where(provincial, province_code, np.where(bucket, bucket_code, city_code))
    )
    name = np.where(national, country, np.where(provincial, province, city))
    return pd.Series(code, index=table.index), pd.Series(name, index=table.index), places


def _coded_places(province_code: pd.Series, city: pd.Series, city_code: pd.Series, lines: np.ndarray) -> pd.DataFrame:
    """Coded cities as places, so the importer can create the few the MCA list lacks (e.g. 136100 公主岭)."""
    seen = pd.DataFrame(
        {
            "code": city_code.to_numpy(),
            "parent_code": province_code.to_numpy(),
            "local_name": city.to_numpy(),
            "line": lines,
        }
    )
    found = seen[seen["local_name"] != ""].drop_duplicates("code").reset_index(drop=True)
    places = found.assign(name=[china_codes.romanize(n) for n in found["local_name"]], level="city", population=np.nan)
    out: pd.DataFrame = places.loc[:, list(PLACE_COLUMNS)].astype({"population": "float64", "line": "int64"})
    return out


def _bucket_places(province_code: pd.Series, city: pd.Series, lines: np.ndarray) -> pd.DataFrame:
    seen = pd.DataFrame({"parent_code": province_code.to_numpy(), "local_name": city.to_numpy(), "line": lines})
    found = seen.groupby(["parent_code", "local_name"], as_index=False, sort=True)["line"].min()
    slug = found["local_name"].map(_slug)
    clash = found.assign(slug=slug).duplicated(["parent_code", "slug"], keep=False).to_numpy()
    slug = slug.where(~clash, slug + "-" + found["local_name"].map(_short_hash))
    described = [_describe(n) for n in found["local_name"]]  # one call per distinct bucket, not per row
    places = found.assign(
        code=found["parent_code"] + "-X-" + slug,
        name=[d[0] for d in described],
        level=[d[1] for d in described],
        population=np.nan,
    )
    out: pd.DataFrame = places.loc[:, list(PLACE_COLUMNS)].astype({"population": "float64", "line": "int64"})
    return out


def _slug(name: str) -> str:
    text = re.sub(r"[^a-z0-9]", "", "".join(china_codes.syllables(name)).lower())
    return text or "h" + _short_hash(name)


def _short_hash(name: str) -> str:
    return hashlib.sha1(name.encode("utf-8")).hexdigest()[:6]


def _describe(name: str) -> tuple[str, str]:
    """(English name, level) of an uncoded city-level bucket."""
    if name in _BUCKETS:
        return _BUCKETS[name], "unallocated"
    if name in _province_stems():
        return _province_stems()[name], "uncoded"
    if _TO_CONFIRM.search(name):
        return "Location to be confirmed", "unallocated"
    if m := _ARRIVALS.match(name):
        origin = m["origin"]
        where = "other provinces" if origin in ("外地", "外省") else china_codes.romanize(origin)
        return f"Arrivals from {where}", "unallocated"
    if (m := _XPCC.match(name)) and all(c in _CN_DIGITS for c in m["n"]):
        rest = f" ({china_codes.romanize(m['rest'])})" if m["rest"] else ""
        return f"XPCC Division {_cn_number(m['n'])}{rest}", "uncoded"
    return china_codes.romanize(name, drop_suffix=False), "uncoded"


def _cn_number(text: str) -> int:
    # 七 -> 7, 十二 -> 12, 二十 -> 20: enough for the fourteen XPCC divisions
    if "十" not in text:
        return _CN_DIGITS[text]
    tens, _, units = text.partition("十")
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[units] if units else 0)


def _daily(rows: pd.DataFrame, counts: dict[str, np.ndarray]) -> pd.DataFrame:
    """Melt the four cumulative columns and difference each (jurisdiction, series) in date order.

    The long table carries integer positions, not strings: sorting and grouping on ints is what keeps the
    whole China file well under a second; strings are gathered once at the end.
    """
    n, k = len(rows), len(SERIES)
    place = pd.factorize(rows["jurisdiction"])[0]
    position = np.tile(np.arange(n), k)
    column = np.repeat(np.arange(k), n)
    cumulative = np.concatenate([counts[c] for c in SERIES]) if n else np.array([], dtype=float)
    day = rows["date"].to_numpy().astype("int64")
    known = ~np.isnan(cumulative)
    position, column, cumulative = position[known], column[known], cumulative[known]
    order = np.lexsort((day[position], column, place[position]))
    position, column, cumulative = position[order], column[order], cumulative[order]
    key = place[position] * k + column
    series = np.concatenate(([True], key[1:] != key[:-1])).cumsum()
    daily, previous = cumulative_to_daily(pd.Series(cumulative), series)
    names = np.array(list(SERIES))
    reasons = decrease_reasons(
        daily,
        previous,
        pd.Series(cumulative),
        "cumulative {column} decreased from {prev} to {cur} as reported",
        column=pd.Series(names[column]),
    )
    back = np.lexsort((column, position))  # source order: line, then the file's column order
    position, column = position[back], column[back]
    return observation_frame(
        jurisdiction=take_strings(rows["jurisdiction"], position),
        jurisdiction_name=take_strings(rows["jurisdiction_name"], position),
        date=rows["date"].to_numpy()[position],
        indicator=take_strings(list(SERIES.values()), column),
        value=daily.to_numpy()[back],
        reason=reasons.to_numpy()[back],
        line=rows["line"].to_numpy()[position],
    )


def render(
    frame: pd.DataFrame, *, country: str = "CN", country_name: str = "中国", country_english_name: str = "China"
) -> bytes:
    """The canghailan layout (cumulative) from daily totals.

    Levels come from the code: ``country`` is national, ``xx0000`` a province, any other code a city of
    province ``xx0000`` (``{provinceCode}-X-...`` codes are written without a cityCode, as the source does).
    Province names come from the frame's own province rows, else from the province table. Days on which a
    series has no value are left empty, so parsing the result gives back the same daily counts.
    """
    wide = _cumulative_wide(frame)
    code = wide["jurisdiction"].astype(str)
    national = (code == country).to_numpy()
    bucket = code.str.fullmatch(r"\d{6}-X-.+").to_numpy(dtype=bool)
    is_province = code.str.fullmatch(r"\d{2}0000").to_numpy(dtype=bool) & ~national
    province_code = np.where(national, "", code.str[:2] + "0000")
    names = dict(zip(code[is_province], wide["jurisdiction_name"][is_province], strict=True))
    fallback = {c: local for c, (_, local) in china_codes.PROVINCES.items()}
    provinces = pd.Series(province_code)
    province_name = provinces.map(names).fillna(provinces.map(fallback)).fillna("")
    english = provinces.map({c: english for c, (english, _) in china_codes.PROVINCES.items()}).fillna("")
    city = ~national & ~is_province
    out = pd.DataFrame(
        {
            "date": format_dates(wide["date"]).to_numpy(),
            "country": country_name,
            "countryCode": country,
            "province": np.where(national, "", province_name),
            "provinceCode": province_code,
            "city": np.where(city, wide["jurisdiction_name"], ""),
            "cityCode": np.where(city & ~bucket, code, ""),
            **{col: format_numbers(wide[col]).to_numpy() for col in SERIES},
            "countryEnglishName": country_english_name,
            "provinceEnglishName": english.to_numpy(),
        }
    )
    buffer = io.StringIO()
    out.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode("utf-8")


def _cumulative_wide(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (jurisdiction, date) with the four running totals, NaN where a day has no value."""
    totals = frame[(frame["disaggregation"].fillna("") == "") & frame["indicator"].isin(list(SERIES.values()))]
    totals = totals.assign(
        date=pd.to_datetime(totals["date"]), jurisdiction_name=totals["jurisdiction_name"].fillna("").astype(str)
    )
    wide = totals.pivot_table(
        index=["jurisdiction", "date"], columns="indicator", values="value", aggfunc="sum"
    ).reindex(columns=list(SERIES.values()))
    wide = wide.sort_index()
    groups = wide.index.get_level_values("jurisdiction")
    cumulative = {col: daily_to_cumulative(wide[ind], groups).where(wide[ind].notna()) for col, ind in SERIES.items()}
    names = totals.groupby("jurisdiction")["jurisdiction_name"].first()
    out = pd.DataFrame(cumulative).reset_index()
    out["jurisdiction_name"] = out["jurisdiction"].map(names).fillna("")
    return out

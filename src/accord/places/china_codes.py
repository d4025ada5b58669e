"""China's administrative division codes (MCA, 6 digits) as a places tree.

Input: the ``code,name`` CSV of the canghailan repository (``ChinaAreaCode.csv``: 2019 MCA codes, Chinese
names). Output: a places frame (``code, name, local_name, level, parent_code, population, line``) with

- a root ``CN`` (China, 中国, level ``country``, no parent),
- provinces ``xx0000`` (level ``province``, parent ``CN``),
- prefecture-level cities ``xxxx00`` (level ``city``, parent its province),
- counties and districts (all other codes, level ``county``), whose parent is their ``xxxx00`` city when the
  file has it, else the province: municipalities (Beijing's districts) and county-level cities governed
  directly by a province (Xiantao 429004, Hainan's 4690xx) have no prefecture above them.

English names: the 34 province-level names are written out below (conventional English forms: Inner
Mongolia, Tibet, Hong Kong, Macao, and Shaanxi apart from Shanxi). Every other name is romanised by
:func:`romanize`: Hanyu Pinyin of the name with its administrative suffix (市, 区, 县, 自治州 with the
ethnic groups before it, ...) dropped, syllables joined, an apostrophe before a syllable that starts with a
vowel (Xi'an), first letter capitalised. Automatic romanisation can pick the wrong reading of a polyphonic
character; the few we know of in place names are corrected in ``_READINGS``, the rest can be edited later.
Population is left empty (NaN): the file has none.
"""

from __future__ import annotations

import re
from typing import Final

import numpy as np
import pandas as pd
from pypinyin import Style, lazy_pinyin

from accord.surveillance.formats.common import (
    MAX_BYTES,
    PLACE_COLUMNS,
    ParseResult,
    duplicate_problems,
    failed_places,
    read_table,
)

PROVINCES: Final[dict[str, tuple[str, str]]] = {
    "110000": ("Beijing", "北京市"),
    "120000": ("Tianjin", "天津市"),
    "130000": ("Hebei", "河北省"),
    "140000": ("Shanxi", "山西省"),
    "150000": ("Inner Mongolia", "内蒙古自治区"),
    "210000": ("Liaoning", "辽宁省"),
    "220000": ("Jilin", "吉林省"),
    "230000": ("Heilongjiang", "黑龙江省"),
    "310000": ("Shanghai", "上海市"),
    "320000": ("Jiangsu", "江苏省"),
    "330000": ("Zhejiang", "浙江省"),
    "340000": ("Anhui", "安徽省"),
    "350000": ("Fujian", "福建省"),
    "360000": ("Jiangxi", "江西省"),
    "370000": ("Shandong", "山东省"),
    "410000": ("Henan", "河南省"),
    "420000": ("Hubei", "湖北省"),
    "430000": ("Hunan", "湖南省"),
    "440000": ("Guangdong", "广东省"),
    "450000": ("Guangxi", "广西壮族自治区"),
    "460000": ("Hainan", "海南省"),
    "500000": ("Chongqing", "重庆市"),
    "510000": ("Sichuan", "四川省"),
    "520000": ("Guizhou", "贵州省"),
    "530000": ("Yunnan", "云南省"),
    "540000": ("Tibet", "西藏自治区"),
    "610000": ("Shaanxi", "陕西省"),
    "620000": ("Gansu", "甘肃省"),
    "630000": ("Qinghai", "青海省"),
    "640000": ("Ningxia", "宁夏回族自治区"),
    "650000": ("Xinjiang", "新疆维吾尔自治区"),
    "710000": ("Taiwan", "台湾省"),
    "810000": ("Hong Kong", "香港特别行政区"),
    "820000": ("Macao", "澳门特别行政区"),
}
COUNTRY: Final = ("CN", "China", "中国")

# The 55 minority nationalities (and 各, 'all nationalities') as they appear before 自治州 / 自治县 / 自治旗,
# longest first so that 土家 wins over 土. Single-character ones only count when followed by 族, so a
# place name's own last character is safe.
# fmt: off
_NATIONALITIES: Final = sorted((
    "蒙古", "回", "藏", "维吾尔", "苗", "彝", "壮", "布依", "朝鲜", "满", "侗", "瑶", "白", "土家", "哈尼",
    "哈萨克", "傣", "黎", "傈僳", "佤", "畲", "高山", "拉祜", "水", "东乡", "纳西", "景颇", "柯尔克孜", "土",
    "达斡尔", "仫佬", "羌", "布朗", "撒拉", "毛南", "仡佬", "锡伯", "阿昌", "普米", "塔吉克", "怒", "乌孜别克",
    "俄罗斯", "鄂温克", "德昂", "保安", "裕固", "京", "塔塔尔", "独龙", "鄂伦春", "赫哲", "门巴", "珞巴",
    "基诺", "各",
), key=len, reverse=True)
# fmt: on
_MULTI = "|".join(n for n in _NATIONALITIES if len(n) > 1)
_ETHNIC_SUFFIX: Final = re.compile(rf"(?:(?:{'|'.join(_NATIONALITIES)})族|(?:{_MULTI}))+自治(?:州|县|旗)$")
_SUFFIXES: Final = (
    "特别行政区",
    "自治区",
    "自治州",
    "自治县",
    "自治旗",
    "林区",
    "新区",
    "矿区",
    "特区",
    "地区",
    "市",
    "区",
    "县",
    "旗",
    "盟",
    "省",
)
# Readings pypinyin gets wrong in place names (it reads 长 as zhang in 长治, 长白, ...; only 长子 is Zhangzi).
_READINGS: Final[dict[str, str]] = {
    "长子": "zhang zi",
    "长": "chang",
    "朝阳": "chao yang",
    "单县": "shan xian",
    "洪洞": "hong tong",
    "都昌": "du chang",
    "蚌": "beng",
}
_READING_SPLIT: Final = re.compile("(" + "|".join(sorted(_READINGS, key=len, reverse=True)) + ")")
_AUTONOMOUS: Final = re.compile(r"族?自治(?:州|县|旗)$")
_VOWEL_START: Final = re.compile(r"^[aoe]")


def strip_suffix(name: str) -> str:
    """Drop the administrative suffix, unless that would leave fewer than two characters (城区 stays)."""
    stem = _ETHNIC_SUFFIX.sub("", name)
    if len(stem) < 2:  # the name is the nationality itself (鄂伦春自治旗): keep it, drop only 自治旗
        stem = _AUTONOMOUS.sub("", name)
    if stem == name:
        for suffix in _SUFFIXES:
            if name.endswith(suffix):
                stem = name[: -len(suffix)]
                break
    return stem if len(stem) >= 2 else name


def syllables(name: str) -> list[str]:
    """Toneless pinyin syllables; characters that are not Chinese come through unchanged."""
    out: list[str] = []
    for piece in _READING_SPLIT.split(name):
        if piece in _READINGS:
            out.extend(_READINGS[piece].split())
        elif piece:
            out.extend(lazy_pinyin(piece, style=Style.NORMAL))
    return out


def romanize(name: str, *, drop_suffix: bool = True) -> str:
    """'武汉市' -> 'Wuhan', '西安市' -> "Xi'an", '恩施土家族苗族自治州' -> 'Enshi'."""
    parts = syllables(strip_suffix(name) if drop_suffix else name)
    if not parts:
        return name
    text = parts[0] + "".join(("'" + p) if _VOWEL_START.match(p) else p for p in parts[1:])
    return text[:1].upper() + text[1:]


def parse_china_area_codes(
    data: bytes, filename: str = "ChinaAreaCode.csv", *, encoding: str | None = None, max_bytes: int = MAX_BYTES
) -> ParseResult:
    """The MCA code file as a places frame (in ``frame`` and ``places`` of the result)."""
    table, problems = read_table(data, filename, encoding, max_bytes, ("code", "name"), "the MCA area-code file")
    if table is None:
        return failed_places(problems)
    code = table["code"].astype(str).str.strip()
    local = table["name"].astype(str).str.strip()
    lines = table.index.to_numpy()
    bad = ~code.str.fullmatch(r"\d{6}").to_numpy(dtype=bool)
    problems.add_rows(bad, lines, "'" + code + "' is not a 6-digit division code", field="code")
    keep = ~bad & ~duplicate_problems(pd.DataFrame({"code": code, "line": lines}), ["code"], problems, "division code")
    places = _tree(code[keep], local[keep], lines[keep])
    return ParseResult(places, problems.as_list(), [f"{len(places) - 1:,} divisions"], places)


#: the name the CLI and services look parsers up by
parse = parse_china_area_codes


def _tree(code: pd.Series, local: pd.Series, lines: np.ndarray) -> pd.DataFrame:
    province = code.str[:2] + "0000"
    city = code.str[:4] + "00"
    is_province = (code == province).to_numpy()
    is_city = ((code == city) & ~is_province).to_numpy()
    parent = np.where(is_province, COUNTRY[0], np.where(is_city | ~city.isin(set(code)), province, city))
    level = np.where(is_province, "province", np.where(is_city, "city", "county"))
    # romanise each distinct name once: names repeat (朝阳区, 城区, ...), pinyin is the slow part
    unique = pd.unique(local.to_numpy())
    english = local.map(dict(zip(unique, [romanize(str(n)) for n in unique], strict=True)))
    conventional = code.map({c: names[0] for c, names in PROVINCES.items()})
    english = conventional.where(conventional.notna(), english)
    places = pd.DataFrame(
        {
            "code": code.to_numpy(),
            "name": english.to_numpy(),
            "local_name": local.to_numpy(),
            "level": level,
            "parent_code": parent,
            "population": np.nan,
            "line": lines,
        }
    )
    root = pd.DataFrame(
        [
            {
                "code": COUNTRY[0],
                "name": COUNTRY[1],
                "local_name": COUNTRY[2],
                "level": "country",
                "parent_code": "",
                "population": np.nan,
                "line": 0,
            }
        ]
    )
    out = pd.concat([root, places], ignore_index=True).loc[:, list(PLACE_COLUMNS)]
    return out.astype({"population": "float64", "line": "int64"})

"""China's MCA administrative division codes as a places tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.places import china_codes
from accord.surveillance.formats.common import PLACE_COLUMNS

SMALL = """code,name
110000,北京市
110101,东城区
420000,湖北省
420100,武汉市
420102,江岸区
422800,恩施土家族苗族自治州
422801,恩施市
429004,仙桃市
610000,陕西省
610100,西安市
""".encode()


def test_small_tree() -> None:
    result = china_codes.parse(SMALL, "codes.csv")
    assert result.problems == []
    places = result.places.set_index("code")
    assert tuple(result.places.columns) == PLACE_COLUMNS and result.frame is result.places
    assert list(places.loc["CN"])[:4] == ["China", "中国", "country", ""]
    assert list(places.loc["420000", ["name", "level", "parent_code"]]) == ["Hubei", "province", "CN"]
    assert list(places.loc["420100", ["name", "level", "parent_code"]]) == ["Wuhan", "city", "420000"]
    assert list(places.loc["420102", ["name", "level", "parent_code"]]) == ["Jiang'an", "county", "420100"]
    # no prefecture above: Beijing's districts and province-governed county-level cities hang on the province
    assert places.loc["110101", "parent_code"] == "110000" and places.loc["429004", "parent_code"] == "420000"
    assert places.loc["422800", "name"] == "Enshi" and places.loc["422801", "parent_code"] == "422800"
    assert places.loc["610000", "name"] == "Shaanxi" and places.loc["610100", "name"] == "Xi'an"
    assert places["population"].isna().all() and places.loc["420102", "line"] == 6


@pytest.mark.parametrize(
    ("local", "english"),
    [
        ("武汉市", "Wuhan"),
        ("西安市", "Xi'an"),
        ("城区", "Chengqu"),
        ("朝阳区", "Chaoyang"),
        ("长治市", "Changzhi"),
        ("鄂伦春自治旗", "Elunchun"),
        ("伊犁哈萨克自治州", "Yili"),
        ("双江拉祜族佤族布朗族傣族自治县", "Shuangjiang"),
        ("香港特别行政区", "Xianggang"),
    ],
)
def test_romanize(local: str, english: str) -> None:
    assert china_codes.romanize(local) == english


def test_problems() -> None:
    data = b"code,name\n420000,\xe6\xb9\x96\xe5\x8c\x97\xe7\x9c\x81\n42010,x\n420000,y\n"
    found = [(p.line, p.code) for p in china_codes.parse(data, "codes.csv").problems]
    assert found == [(3, "invalid"), (4, "duplicate")]
    [p] = china_codes.parse(b"code\n110000\n", "codes.csv").problems
    assert p.code == "missing-column"


@pytest.mark.shared_data
def test_real_area_code_file(data_dir: Path) -> None:
    result = china_codes.parse(
        (data_dir / "china-covid19-canghailan" / "ChinaAreaCode.csv").read_bytes(), "ChinaAreaCode.csv"
    )
    assert result.problems == []
    places = result.places.set_index("code")
    assert (places["level"] == "province").sum() == 34
    assert places.loc["420100", "parent_code"] == "420000"
    assert places.loc["420102", "parent_code"] == "420100"
    assert places.loc["810000", "name"] == "Hong Kong" and places.loc["540000", "name"] == "Tibet"
    assert places["parent_code"].drop("CN").isin(places.index).all()
    assert places["name"].str.len().gt(0).all()

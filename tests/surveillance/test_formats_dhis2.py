"""DHIS2 data value sets (JSON) and IHE ADX (XML), including hostile XML."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from accord.errors import AccordError
from accord.surveillance.formats import dhis2

VALUE_SET = {
    "dataSet": "DAILY",
    "period": "20200212",
    "dataValues": [
        {
            "dataElement": "new_confirmed",
            "orgUnit": "420000",
            "categoryOptionCombo": "default",
            "value": "13797",
            "comment": "clinically diagnosed cases included",
        },
        {"dataElement": "new_confirmed", "orgUnit": "420000", "categoryOptionCombo": "imported", "value": "2"},
        {"dataElement": "new_deaths", "orgUnit": "420100", "period": "20200213", "value": "-1"},
    ],
}
ADX = """<?xml version="1.0" encoding="UTF-8"?>
<adx xmlns="urn:ihe:qrph:adx:2015" exported="2020-02-13T08:00:00Z">
  <group orgUnit="420000" period="2020-02-12/P1D" dataSet="DAILY">
    <dataValue dataElement="new_confirmed" value="13797"><annotation>临床诊断</annotation></dataValue>
    <dataValue dataElement="new_confirmed" origin="imported" value="2"/>
  </group>
  <group orgUnit="420100" period="2020-02-13/P1D" dataSet="DAILY">
    <dataValue dataElement="new_deaths" value="-1"/>
  </group>
</adx>
""".encode()


def key_sorted(frame: pd.DataFrame) -> pd.DataFrame:
    keys = ["jurisdiction", "date", "indicator", "disaggregation"]
    return frame.drop(columns="line").sort_values(keys).reset_index(drop=True)


def test_parse_value_set() -> None:
    result = dhis2.parse(json.dumps(VALUE_SET).encode(), "set.json")
    assert result.problems == []
    frame = result.frame
    assert frame["disaggregation"].tolist() == ["", "imported", ""]
    assert frame["date"].tolist() == [pd.Timestamp("2020-02-12")] * 2 + [pd.Timestamp("2020-02-13")]
    assert frame["reason"].iloc[0] == "clinically diagnosed cases included"
    assert frame["line"].tolist() == [1, 2, 3] and frame["value"].iloc[2] == -1.0


def test_value_set_problems() -> None:
    values = [
        {"dataElement": "new_confirmed", "orgUnit": "CN", "period": "2020W7", "value": "5"},
        {"dataElement": "new_confirmed", "orgUnit": "CN", "period": "202002", "value": "5"},
        {"dataElement": "cum_deaths", "orgUnit": "CN", "period": "20200212", "value": "5"},
        {"dataElement": "new_deaths", "orgUnit": "CN", "period": "20200231", "value": "many"},
        {"dataElement": "new_tests", "orgUnit": "", "period": "20200212", "value": "1"},
        {"dataElement": "new_tests", "orgUnit": "", "period": "20200212", "value": "1"},
        7,
    ]
    problems = dhis2.parse(json.dumps({"dataValues": values}).encode(), "set.json").problems
    found = [(p.line, p.field, p.code) for p in problems]
    assert found == [
        (1, "period", "non-daily-period"),
        (2, "period", "non-daily-period"),
        (3, "dataElement", "derived-indicator"),
        (4, "period", "bad-date"),
        (4, "value", "not-a-number"),
        (5, "orgUnit", "empty-value"),
        (6, "orgUnit", "empty-value"),
        (6, None, "duplicate"),
        (7, None, "malformed"),
    ]
    assert "cannot split a longer period into days" in problems[0].message


def test_json_that_is_broken_or_not_a_value_set() -> None:
    [p] = dhis2.parse(b'{"dataValues": [\n  {"x": 1},\n', "set.json").problems
    assert p.code == "malformed" and p.line == 3
    assert dhis2.parse(b"", "set.json").problems[0].code == "empty"
    with pytest.raises(AccordError, match="not a DHIS2 data value set"):
        dhis2.parse(b'{"rows": []}', "set.json")
    assert dhis2.parse(b'{"dataValues": []}', "set.json").notes == ["no data values"]


def test_parse_adx_matches_the_json_reading() -> None:
    result = dhis2.parse_adx(ADX, "daily.xml")
    assert result.problems == []
    assert result.frame["reason"].iloc[0] == "临床诊断"
    from_json = dhis2.parse(json.dumps(VALUE_SET).encode(), "set.json").frame
    expected = key_sorted(from_json).assign(reason=lambda f: f["reason"].where(f["reason"] == "", "临床诊断"))
    pd.testing.assert_frame_equal(key_sorted(result.frame), expected)


def test_adx_problems() -> None:
    data = ADX.replace(b"2020-02-13/P1D", b"2020-02-10/P7D").replace(
        b'origin="imported"', b'origin="imported" age="0-9"'
    )
    found = [(p.line, p.field, p.code) for p in dhis2.parse_adx(data, "x.xml").problems]
    assert found == [(2, "origin,age", "unknown-disaggregation"), (3, "period", "non-daily-period")]
    [p] = dhis2.parse_adx(b'<adx xmlns="urn:ihe:qrph:adx:2015"><group>\n</adx>', "x.xml").problems
    assert p.code == "malformed" and p.line == 2 and "mismatched tag" in p.message
    with pytest.raises(AccordError, match="not an ADX document"):
        dhis2.parse_adx(b"<html><body/></html>", "x.xml")
    assert dhis2.parse_adx(b'<adx xmlns="urn:ihe:qrph:adx:2015"/>', "x.xml").notes == ["no group/dataValue elements"]


@pytest.mark.parametrize(
    "document",
    [
        # billion laughs: nested entity expansion
        b'<?xml version="1.0"?><!DOCTYPE adx [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><adx xmlns="urn:ihe:qrph:adx:2015">&c;</adx>',
        # external entity
        b'<?xml version="1.0"?><!DOCTYPE adx [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
        b'<adx xmlns="urn:ihe:qrph:adx:2015"><group orgUnit="&secret;" period="2020-01-01/P1D"/></adx>',
        # a DTD alone is refused too: ADX has no use for one
        b'<?xml version="1.0"?><!DOCTYPE adx SYSTEM "http://example.org/adx.dtd"><adx xmlns="urn:ihe:qrph:adx:2015"/>',
    ],
)
def test_hostile_xml_is_refused_with_a_clear_problem(document: bytes) -> None:
    result = dhis2.parse_adx(document, "hostile.xml")
    [p] = result.problems
    assert p.code == "hostile-xml" and "refused" in p.message and "entity expansion" in p.message
    assert result.frame.empty


def test_render_both_then_parse() -> None:
    frame = dhis2.parse(json.dumps(VALUE_SET).encode(), "set.json").frame
    document = json.loads(dhis2.render(frame, data_set="DAILY"))
    assert document["dataSet"] == "DAILY"
    assert document["dataValues"][0] == {
        "dataElement": "new_confirmed",
        "period": "20200212",
        "orgUnit": "420000",
        "value": "13797",
        "comment": "clinically diagnosed cases included",
    }
    assert document["dataValues"][1]["categoryOptionCombo"] == "imported"
    pd.testing.assert_frame_equal(key_sorted(dhis2.parse(dhis2.render(frame), "a.json").frame), key_sorted(frame))
    xml = dhis2.render_adx(frame, data_set="DAILY")
    assert xml.startswith(b"<?xml") and b'origin="imported"' in xml
    pd.testing.assert_frame_equal(key_sorted(dhis2.parse_adx(xml, "a.xml").frame), key_sorted(frame))

"""The registry of formats: lookup, options, detection; and the purity of the format modules."""

from __future__ import annotations

import subprocess
import sys

import pytest

from accord.errors import AccordError
from accord.surveillance import formats


def test_names_and_lookup() -> None:
    assert formats.names() == ["csv", "owid", "jhu", "who", "canghailan", "dhis2", "adx"]
    spec = formats.get("adx")
    assert (spec.extension, spec.media_type) == ("xml", "application/adx+xml") and spec.render is not None
    with pytest.raises(AccordError, match="unknown format 'xlsx'; known formats: csv, owid") as info:
        formats.get("xlsx")
    assert info.value.status == 400


def test_unknown_options_are_a_clear_error() -> None:
    result = formats.get("jhu").parse(
        b"Province/State,Country/Region,Lat,Long,1/22/20\n,Italy,0,0,3\n", "x.csv", indicator="new_deaths"
    )
    assert result.frame["indicator"].tolist() == ["new_deaths"]
    with pytest.raises(AccordError, match="unknown option colour for format 'jhu'; its options are: indicator"):
        formats.get("jhu").parse(b"", "x.csv", colour="red")


@pytest.mark.parametrize(
    ("filename", "head", "expected"),
    [
        ("daily.csv", b"jurisdiction,date,indicator,value\n", "csv"),
        ("owid-covid-data.csv", b"iso_code,continent,location,date\n", "owid"),
        ("time_series_covid19_confirmed_global.csv", b"Province/State,Country/Region,Lat,Long,1/22/20\n", "jhu"),
        ("time_series_covid19_confirmed_US.csv", b"UID,iso2,iso3,code3,FIPS\n", "jhu"),
        ("WHO-COVID-19-global-data.csv", b"\xef\xbb\xbfDate_reported, Country_code\n", "who"),
        ("china.csv", b"date,country,countryCode,province\n", "canghailan"),
        ("set.json", b'{\n "dataValues": [', "dhis2"),
        ("export.xml", b'<?xml version="1.0"?>\n<adx xmlns="urn:ihe:qrph:adx:2015">', "adx"),
        ("notes.txt", b"hello\n", None),
    ],
)
def test_detect(filename: str, head: bytes, expected: str | None) -> None:
    assert formats.detect(filename, head) == expected


def test_format_modules_import_no_database_web_or_cli_code() -> None:
    code = (
        "import sys, accord.surveillance.formats, accord.places.china_codes, accord.places.csvformat; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'fastapi', 'starlette', 'typer') "
        "or m in ('accord.db', 'accord.app', 'accord.cli')]; print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr

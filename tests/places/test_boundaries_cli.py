"""`accord places boundaries`: GeoJSON stored with the jurisdictions, malformed input named by feature."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from accord.cli import app
from accord.settings import get_settings

SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("ACCORD_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    places = tmp_path / "places.csv"
    places.write_text("code,name,level,parent_code\nZZ,Zed,country,\nZZ-1,One,province,ZZ\n")
    runner = CliRunner()
    assert runner.invoke(app, ["places", "import", str(places)]).exit_code == 0
    yield runner
    get_settings.cache_clear()


def test_boundaries_are_stored(cli_env: CliRunner, tmp_path: Path) -> None:
    doc = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {"code": "ZZ-1"}, "geometry": SQUARE}],
    }
    path = tmp_path / "b.geojson"
    path.write_text(json.dumps(doc))
    result = cli_env.invoke(app, ["places", "boundaries", str(path)])
    assert result.exit_code == 0 and "stored 1 boundaries" in result.output


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "is not valid GeoJSON"),
        (json.dumps({"type": "Feature"}), "no 'features' list"),
        (
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": [
                        {"type": "Feature", "properties": {"code": "ZZ-1"}, "geometry": SQUARE},
                        {"type": "Feature", "properties": {"name": "no code"}, "geometry": SQUARE},
                    ],
                }
            ),
            "feature 1",
        ),
        (
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": [{"type": "Feature", "properties": {"code": "ZZ-9"}, "geometry": SQUARE}],
                }
            ),
            "unknown jurisdiction 'ZZ-9'",
        ),
    ],
)
def test_malformed_geojson_is_named_and_nothing_is_stored(
    cli_env: CliRunner, tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "bad.geojson"
    path.write_text(content)
    result = cli_env.invoke(app, ["places", "boundaries", str(path)])
    assert result.exit_code != 0
    # in-process, the refusal surfaces as the AccordError that `accord` prints as one sentence
    assert expected in result.output + str(result.exception or "")
    assert "Traceback" not in result.output

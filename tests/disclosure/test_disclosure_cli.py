"""``accord bulletin`` and ``accord opendata build`` as a user runs them (through Typer's runner)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import typer
from disclosure_data import build_store
from typer.testing import CliRunner

from accord.disclosure import cli
from accord.settings import get_settings


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[typer.Typer, Path]]:
    path = tmp_path_factory.mktemp("cli")
    build_store(path)
    mp = pytest.MonkeyPatch()
    mp.setenv("ACCORD_DATA_DIR", str(path))
    get_settings.cache_clear()
    root = typer.Typer()
    root.command("bulletin")(cli.bulletin)
    root.add_typer(cli.opendata_app, name="opendata")
    yield root, path
    mp.undo()
    get_settings.cache_clear()


def test_bulletin_markdown_and_html_in_chinese(app: tuple[typer.Typer, Path]) -> None:
    root, _ = app
    runner = CliRunner()
    md = runner.invoke(root, ["bulletin", "--jurisdiction", "AR", "--date", "2020-02-10"])
    assert md.exit_code == 0, md.output
    assert md.output.startswith("# Arcadia: epidemic situation on 10 February 2020")
    html = runner.invoke(root, ["bulletin", "-j", "AR", "--lang", "zh", "--format", "html"])
    assert html.exit_code == 0 and "<h1>阿卡迪亚" in html.output
    missing = runner.invoke(root, ["bulletin", "-j", "NOPE"])
    assert missing.exit_code == 3


def test_opendata_build_writes_every_level_layout_codebook_and_errata(app: tuple[typer.Typer, Path]) -> None:
    root, path = app
    out = path / "open"
    result = CliRunner().invoke(root, ["opendata", "build", "-j", "AR", "--out", str(out)])
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir()}
    assert {"codebook.csv", "errata.csv", "manifest.json", "AR_city_owid.csv", "AR_community_long.parquet"} <= names
    assert len(pd.read_csv(out / "errata.csv")) == 2

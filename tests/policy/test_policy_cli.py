"""``accord policy ...`` as a user runs it (the real executable, a fresh data directory): the China tree, the
real OxCGRT files, measures, in-force, inbox, risk areas, and bad input with one-sentence errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from accord.cli import app
from accord.policy import oxcgrt
from accord.settings import get_settings

ACCORD = Path(sys.executable).parent / "accord"
PYCACHE = Path(tempfile.gettempdir()) / "accord-e2e-pycache"


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    env.update(ACCORD_DATA_DIR=str(data_dir), PYTHONPYCACHEPREFIX=str(PYCACHE), COLUMNS="200")
    return env


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Result]]:
    """In-process runs of the same Typer app (one executable start costs seconds on a loaded machine)."""
    monkeypatch.setenv("ACCORD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str, expect: int = 0) -> Result:
        result = runner.invoke(app, list(args))
        shown = f"accord {' '.join(args)} -> {result.exit_code}\n{result.output}"
        assert result.exception is None or isinstance(result.exception, SystemExit), shown
        assert result.exit_code == expect, shown
        return result

    yield run
    get_settings.cache_clear()


def _china_tree(path: Path) -> Path:
    rows = [("CN", "China", "中国", "country", "", 1_400_000_000)]
    rows += [(code, region, region, "province", "CN", 1_000_000) for region, code in oxcgrt.CHINA_PROVINCES.items()]
    rows += [("420100", "Wuhan", "武汉市", "city", "420000", 11_000_000)]
    rows += [("420102", "Jiang'an", "江岸区", "community", "420100", 900_000)]
    frame = pd.DataFrame(rows, columns=["code", "name", "local_name", "level", "parent_code", "population"])
    frame.to_csv(path, index=False)
    return path


@pytest.mark.shared_data
def test_policy_cli_on_the_china_tree(cli: Callable[..., Result], tmp_path: Path, data_dir: Path) -> None:
    src = data_dir / "oxcgrt-policy"
    cli("places", "import", str(_china_tree(tmp_path / "china.csv")))
    out = cli("policy", "import-oxcgrt", str(src / "oxcgrt_legacy_national_daily_2020_long.csv")).output
    assert "for 1 jurisdictions" in out and "186 regions not in the tree skipped" in out
    out = cli("policy", "import-oxcgrt", str(src / "OxCGRT_timeseries_StringencyIndex_v1.csv")).output
    assert "for 32 jurisdictions" in out
    # OxCGRT's national record is in force in Wuhan's districts, ordered by CN
    force = json.loads(cli("policy", "in-force", "420102", "--date", "2020-02-15", "--format", "json").stdout)
    c1 = next(f for f in force if f["indicator"] == "C1")
    assert (c1["level"], c1["ordered_by"], c1["measure"]["kind"]) == (3, "CN", "recorded")
    # a stricter Hubei directive, then a relaxation in Wuhan that it forbids
    cli("policy", "measure", "add", "420000", "C7", "2", "--start", "2020-01-23", "--notes", "cordon")
    bad = cli("policy", "measure", "add", "420100", "C7", "1", "--start", "2020-02-01", expect=5)
    assert "relaxes an order from above" in bad.output and "at '420000'" in bad.output
    inbox = cli("policy", "inbox", "420102", "--format", "csv").stdout
    assert "420000" in inbox and "C7 2" in inbox
    listed = json.loads(cli("policy", "measure", "list", "--at", "420000", "--format", "json").stdout)
    assert [m["notes"] for m in listed] == ["cordon"]
    # risk areas over the one community (no surveillance data: low), and the list of a day
    out = cli("policy", "risk", "classify", "--date", "2020-02-01", "--to", "2020-02-10").output
    assert "0 high, 0 medium, 10 low" in out
    table = cli("policy", "risk", "list", "--date", "2020-02-05", "--format", "csv").stdout
    assert table.splitlines()[1].startswith("420102,Jiang'an,low,0,")
    bad = cli("policy", "risk", "publish-rule", "--version", "x", "--high-cases", "0", expect=1)
    assert "field 'high_cases'" in bad.output
    # the real executable, once: a clear sentence and the exit code scripts rely on, no traceback
    proc = subprocess.run(
        [str(ACCORD), "policy", "measure", "add", "420100", "C9", "1", "--start", "2020-02-01"],
        cwd=tmp_path,
        env=_env(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "unknown indicator code 'C9'" in proc.stderr

"""``accord resources ...`` as a user runs it: in-process through Typer for the whole workflow (exit codes and
one-sentence errors included), and once through the installed ``accord`` executable."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from accord.cli import app
from tests.conftest import SMALL_TREE

ACCORD = Path(sys.executable).parent / "accord"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("ACCORD_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ACCORD_DATABASE_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    from accord.settings import get_settings

    if hasattr(get_settings, "cache_clear"):
        get_settings.cache_clear()
    SMALL_TREE.to_csv(tmp_path / "places.csv", index=False)
    return {**os.environ}


def run(*args: str, expect: int = 0) -> str:
    result = CliRunner().invoke(app, list(args))
    out = result.stdout + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exit_code == expect, f"accord {' '.join(args)} -> {result.exit_code}\n{out}"
    if expect:
        assert "Traceback" not in out and "error:" in out
    return out


def test_workflow_from_the_terminal(env: dict[str, str], tmp_path: Path) -> None:
    run("places", "import", str(tmp_path / "places.csv"))
    report = tmp_path / "saner.csv"
    report.write_text(
        "date,jurisdiction,numbeds,numICUBeds,numVent,numBedsOcc,n95\n"
        "2026-03-01,AR-01,400,20,12,310,5000\n2026-03-01,AR-02-01,300,10,8,120,800\n"
    )
    out = run("resources", "import-capacity", str(report))
    assert "ledger posting" in out and "numBedsOcc" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("date,jurisdiction,n95\n2026-03-01,AR-01,-4\n2026-03-01,ZZ,3\n")
    out = run("resources", "import-capacity", str(bad), expect=1)
    assert "bad.csv, line 2, field 'n95': -4 is negative" in out
    run(
        "resources",
        "book",
        "transfer",
        "n95",
        "4000",
        "--from",
        "stock:AR-01",
        "--to",
        "stockpile:AR-01",
        "--date",
        "2026-03-01",
    )
    run(
        "resources",
        "book",
        "consume",
        "n95",
        "2",
        "--unit",
        "box of 50",
        "--from",
        "AR-02-01",
        "--to",
        "consumed:AR-02-01",
        "--date",
        "2026-03-01",
    )
    run(
        "resources",
        "book",
        "consume",
        "n95",
        "2",
        "--unit",
        "kg",
        "--from",
        "AR-02-01",
        "--to",
        "consumed:AR-02-01",
        expect=1,
    )
    run("resources", "need", "AR-02-01", "n95", "1500", "--why", "ICU", "--by", "2026-03-05", "--priority", "2")
    run("resources", "need", "AR-01-01-001", "ventilators", "3", "--why", "surge", "--by", "2026-03-03")
    run("resources", "route", "AR-01", "AR-02-01", "--lead-days", "3", "--cost", "2")
    out = run(
        "resources",
        "plan",
        "AR",
        "--resource",
        "n95",
        "--resource",
        "ventilators",
        "--horizon",
        "7",
        "--start",
        "2026-03-01",
    )
    assert "plan 1" in out and "shortfall 3" in out  # nobody offers ventilators
    csv = run("resources", "show", "1", "--format", "csv")
    ships = pd.read_csv(io.StringIO(csv))
    assert ships["quantity"].sum() == pytest.approx(1500) and (ships["arrive_day"] <= "2026-03-05").all()
    # three days on the stored route
    assert (pd.to_datetime(ships["arrive_day"]) - pd.to_datetime(ships["depart_day"])).dt.days.tolist() == [3]
    run("resources", "approve", "1")
    assert "already approved" in run("resources", "approve", "1", expect=5)
    sid = str(ships["id"].iloc[0])
    arrive = str(ships["arrive_day"].iloc[0])
    run("resources", "receive", sid, "1501", "--date", arrive, expect=1)
    run("resources", "receive", sid, "1500", "--date", arrive)
    warn = pd.read_csv(io.StringIO(run("resources", "warn", "AR", "--date", arrive, "--format", "csv")))
    strict = pd.read_csv(
        io.StringIO(
            run("resources", "warn", "AR", "--date", arrive, "--thresholds", "medical:1000:2000", "--format", "csv")
        )
    )
    key = ["jurisdiction", "resource"]
    before, after = warn.set_index(key)["level"], strict.set_index(key)["level"]
    assert before[("AR-02", "n95")] == "ok" and after[("AR-02", "n95")] == "critical"  # about 150 days < 1000
    run("resources", "warn", "AR", "--thresholds", "capacity:9:1", expect=1)
    assert {"n95", "beds", "icu_beds", "ventilators"} <= set(warn["resource"])
    needs = pd.read_csv(io.StringIO(run("resources", "needs", "AR", "--format", "csv")))
    assert set(needs["status"]) == {"closed", "open"}
    run("resources", "plan", expect=2)


def test_plan_instance_needs_no_database(env: dict[str, str], tmp_path: Path) -> None:
    """``--instance`` hands over to the standalone solver (docs/resources-optimiser.md); no store is touched."""
    instance = tmp_path / "inst.json"
    instance.write_text(
        json.dumps(
            {
                "days": 3,
                "resources": [{"id": "n95"}],
                "nodes": [{"id": "depot", "stock": {"n95": 100}}, {"id": "city"}],
                "demand": [{"node": "city", "resource": "n95", "day": 2, "quantity": 60}],
                "routes": [{"origin": "depot", "destination": "city", "lead_days": 1, "unit_cost": 1}],
            }
        )
    )
    run("resources", "plan", "--instance", str(instance), "--out", str(tmp_path / "out"))
    assert (tmp_path / "out").is_dir() and not (tmp_path / "accord.db").exists()
    assert "no such file" in run("resources", "plan", "--instance", str(tmp_path / "nope.json"), expect=1)


def test_the_executable(env: dict[str, str], tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(ACCORD), "resources", "catalog", "--format", "csv"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "n95,N95 respirators" in proc.stdout and "rice,Rice" in proc.stdout

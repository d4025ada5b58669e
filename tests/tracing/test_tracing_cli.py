"""``accord tracing`` as an operator runs it: import a line list through a mapping (all or nothing, with a clear
sentence and exit code), generate the day's tasks, list clusters, reconcile, make a key."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from accord.places import service as places
from accord.settings import get_settings
from accord.tracing import cli, crypto
from tests.conftest import SMALL_TREE

GOOD = (
    "case_id,gender ,age,symptom_onset,symptom_type,confirm_date,Infection_source,start_source,end_source,severity\n"
    "TJ1,F,59,14/01/2020,NA,21/01/2020,Wuhan,,,severe\n"
    "TJ2,M,57,18/01/2020,NA,23/01/2020,TJ1,,,normal\n"
    "TJ3,M,30,20/01/2020,NA,24/01/2020,TJ1; TJ2,,,normal\n"
)


@pytest.fixture
def root(tmp_path: Path) -> Iterator[typer.Typer]:
    mp = pytest.MonkeyPatch()
    mp.setenv("ACCORD_DATA_DIR", str(tmp_path))
    mp.delenv("ACCORD_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    from accord import clikit

    with clikit.session_scope() as s:
        places.import_places(s, SMALL_TREE)
    app = typer.Typer()
    app.add_typer(cli.app, name="tracing")
    yield app
    mp.undo()
    get_settings.cache_clear()


def test_import_tasks_clusters_reconcile(root: typer.Typer, tmp_path: Path) -> None:
    run = CliRunner().invoke
    bad = tmp_path / "bad.csv"
    bad.write_text(GOOD + "TJ4,F,41,31/02/2020,NA,24/01/2020,TJ3,,,normal\n")
    r = run(root, ["tracing", "import", str(bad), "--mapping", "tindale2020-tianjin", "--into", "AR-01-01-001"])
    assert r.exit_code != 0 and "bad.csv, line 5, field 'onset_date'" in r.output and "Traceback" not in r.output
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    r = run(root, ["tracing", "import", str(good), "--mapping", "tindale2020-tianjin", "--into", "AR-01-01-001"])
    assert r.exit_code == 0, r.output
    assert "3 cases" in r.output and "3 row(s) could not be placed" in r.output  # 120000 is not in this tree
    r = run(root, ["tracing", "import", str(good), "--mapping", "tindale2020-tianjin", "--into", "AR-01-01-001"])
    assert r.exit_code != 0 and "imported before" in r.output
    r = run(root, ["tracing", "import", str(good), "--mapping", "nope", "--into", "AR"])
    assert r.exit_code != 0 and "no mapping file 'nope'" in r.output
    r = run(root, ["tracing", "clusters", "AR-01-01-001", "--json"])
    assert r.exit_code == 0 and '"transmission_pairs": 2' in r.output, r.output
    r = run(root, ["tracing", "clusters", "AR-01-01-001"])
    assert r.exit_code == 0 and "serial interval 5.00 days" in r.output, r.output
    r = run(root, ["tracing", "tasks", "--day", "2020-01-25"])
    assert r.exit_code == 0 and "0 follow-up task(s) added" in r.output
    r = run(root, ["tracing", "reconcile", "AR", "--start", "2020-01-20", "--end", "2020-01-25"])
    assert r.exit_code == 0 and "0 mismatch(es)" in r.output, r.output
    r = run(root, ["tracing", "new-key"])
    assert r.exit_code == 0 and len(base64.urlsafe_b64decode(r.output.strip())) == 32
    r = run(root, ["tracing", "rotate-key"])
    assert r.exit_code != 0 and "ACCORD_OLD_PERSONAL_DATA_KEY" in r.output
    dev = base64.urlsafe_b64encode(hashlib.sha256(crypto.DEV_KEY_SEED).digest()).decode()
    new = run(root, ["tracing", "new-key"]).output.strip()
    r = CliRunner(env={"ACCORD_OLD_PERSONAL_DATA_KEY": dev, "ACCORD_PERSONAL_DATA_KEY": new}).invoke(
        root, ["tracing", "rotate-key"]
    )
    assert r.exit_code == 0 and "3 identities moved" in r.output, r.output


def test_clusters_are_groups_of_two_or_more_and_unknown_onsets_print_empty(root: typer.Typer, tmp_path: Path) -> None:
    """A cluster of three, a pair whose onsets are both unknown, and two cases linked to nobody: two clusters and
    two single cases; no 'NaT' or 'nan' anywhere in the table or the JSON."""
    lines = GOOD + (
        "TJ4,F,41,,NA,24/01/2020,Wuhan,,,normal\n"  # single, onset unknown
        "TJ5,M,33,22/01/2020,NA,25/01/2020,Wuhan,,,normal\n"  # single
        "TJ6,F,45,,NA,26/01/2020,Wuhan,,,normal\n"
        "TJ7,M,50,,NA,27/01/2020,TJ6,,,normal\n"  # a pair, neither onset known
    )
    path = tmp_path / "list.csv"
    path.write_text(lines)
    run = CliRunner().invoke
    r = run(root, ["tracing", "import", str(path), "--mapping", "tindale2020-tianjin", "--into", "AR-01-01-001"])
    assert r.exit_code == 0, r.output
    r = run(root, ["tracing", "clusters", "AR-01-01-001", "--json"])
    assert r.exit_code == 0, r.output
    stats = json.loads(r.output)
    assert (stats["cases"], stats["clusters"], stats["single_cases"], stats["cases_in_clusters"]) == (7, 2, 2, 5)
    assert stats["largest_cluster"] == 3
    assert "NaN" not in r.output and "NaT" not in r.output
    r = run(root, ["tracing", "clusters", "AR-01-01-001"])
    assert r.exit_code == 0, r.output
    assert "NaT" not in r.output and "nan" not in r.output.lower(), r.output
    assert "2 clusters of 2 or more (5 cases, the largest 3), 2 single cases" in r.output
    pair = [line for line in r.output.splitlines() if line.strip().startswith("│ 2 ")]
    assert pair and pair[0].count("│") >= 6, r.output

"""The `accord` command line end to end, run as a user would: the installed executable, a fresh data directory,
one command after another. Every error must be one sentence on stderr with the documented exit code, and no
command may ever print a traceback.

Each `accord` process pays the import of everything `accord.cli` imports (pandas, SQLAlchemy, Alembic, SciPy:
~3 s of CPU on a 2-core machine), so commands that do not depend on each other run side by side, `--help` of
every sub-command is checked in-process, and byte code is cached outside the repository (PYTHONPYCACHEPREFIX)
so only the first process compiles.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx
import pandas as pd
import pytest
import typer.testing
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.main import get_command
from typer.testing import CliRunner

from accord.cli import app
from accord.db import make_engine, session_factory, transaction
from accord.surveillance import service
from accord.surveillance.model import Observation, Submission

ACCORD = Path(sys.executable).parent / "accord"
PYCACHE = Path(tempfile.gettempdir()) / "accord-e2e-pycache"
TIMEOUT = 300  # generous: a loaded CI machine runs several of these at once

PLACES_CSV = """code,name,local_name,level,parent_code,population
AR,Arcadia,阿卡迪亚,country,,1000000
AR-01,North,北省,province,AR,600000
AR-02,South,南省,province,AR,400000
AR-01-01,Riverton,河城,city,AR-01,350000
AR-01-02,Hillside,山城,city,AR-01,250000
AR-02-01,Bayport,湾城,city,AR-02,400000
"""

REPORT_CSV = """jurisdiction,date,indicator,disaggregation,value,reason
AR-01-01,2024-03-01,new_confirmed,,5,
AR-01-01,2024-03-02,new_confirmed,,7,
AR-01-02,2024-03-01,new_confirmed,,3,
AR-02-01,2024-03-01,new_confirmed,,11,
AR-01-01,2024-03-01,new_deaths,,1,
"""

# what a coordinator approves below: everything but Bayport (AR-02-01)
PUBLIC = {
    ("AR-01-01", "2024-03-01", "new_confirmed"): 5.0,
    ("AR-01-01", "2024-03-02", "new_confirmed"): 7.0,
    ("AR-01-01", "2024-03-01", "new_deaths"): 1.0,
    ("AR-01-02", "2024-03-01", "new_confirmed"): 3.0,
}
NAMES = {"AR-01-01": "Riverton", "AR-01-02": "Hillside", "AR-02-01": "Bayport"}


def accord_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The user's environment without any ACCORD_* setting of the developer's shell, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    env["ACCORD_DATA_DIR"] = str(data_dir)
    env["COLUMNS"] = "200"  # rich wraps ordinary output at the terminal width
    env.update(extra)
    return env


def check_streams(args: tuple[str, ...], proc: subprocess.CompletedProcess[str], expect: int) -> None:
    shown = f"accord {' '.join(args)} -> {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, shown
    assert "Traceback" not in proc.stdout, shown
    assert proc.returncode == expect, shown


def expect(proc: subprocess.CompletedProcess[str], code: int) -> subprocess.CompletedProcess[str]:
    check_streams(tuple(str(a) for a in proc.args[1:]), proc, code)
    return proc


def error_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.strip()]


@dataclass
class Workspace:
    root: Path
    data_dir: Path
    env: dict[str, str]
    outputs: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    token: str = ""

    def run(self, *args: str, expect: int = 0, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(ACCORD), *args],
            cwd=self.root,  # no .env of the repository is read
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        check_streams(args, proc, expect)
        return proc

    def run_parallel(
        self, commands: dict[str, tuple[list[str], int]], check: bool = True
    ) -> dict[str, subprocess.CompletedProcess[str]]:
        """Commands that do not write (or write nothing another one reads), all at once: name -> (args, exit code).

        ``check=False`` leaves the checks of each result to the test that reads it (see :func:`expect`).
        """
        started = {
            name: subprocess.Popen(
                [str(ACCORD), *args],
                cwd=self.root,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name, (args, _) in commands.items()
        }
        out = {}
        for name, popen in started.items():
            stdout, stderr = popen.communicate(timeout=TIMEOUT)
            proc = subprocess.CompletedProcess(popen.args, popen.returncode, stdout, stderr)
            args, code = commands[name]
            if check:
                check_streams(tuple(args), proc, code)
            out[name] = proc
        return out

    def sessions(self) -> sessionmaker[Session]:
        return session_factory(make_engine(f"sqlite:///{self.data_dir / 'accord.db'}"))

    def counts(self) -> tuple[int, int]:
        with transaction(self.sessions()) as s:
            return (
                int(s.scalar(select(func.count()).select_from(Observation)) or 0),
                int(s.scalar(select(func.count()).select_from(Submission)) or 0),
            )


Refusals = tuple[Workspace, dict[str, subprocess.CompletedProcess[str]], tuple[int, int]]


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A fresh instance built through the CLI: init, places, one report, a coordinator and a reporter."""
    root = tmp_path_factory.mktemp("cli")
    data_dir = root / "data"  # does not exist yet: `accord init` creates it
    w = Workspace(root, data_dir, accord_env(data_dir))
    (root / "places.csv").write_text(PLACES_CSV, encoding="utf-8")
    (root / "report.csv").write_text(REPORT_CSV, encoding="utf-8")
    w.outputs["init"] = w.run("init")
    w.outputs["places"] = w.run("places", "import", "places.csv")
    w.outputs["submit"] = w.run("report", "submit", "report.csv")
    w.outputs["add_coord"] = w.run("users", "add", "coord", "--role", "coordinator", "--scope", "AR")
    w.outputs["add_rep"] = w.run("users", "add", "rep", "--role", "reporter", "--scope", "AR-01-01")
    # one writer (the token) beside one reader (the provisional series, before anything is approved)
    w.outputs.update(
        w.run_parallel({"token": (["users", "token", "coord"], 0), "series_before": (["report", "series", "AR"], 0)})
    )
    w.token = w.outputs["token"].stdout.strip()
    return w


@pytest.fixture(scope="module")
def approved(ws: Workspace) -> Workspace:
    """The coordinator of the country approves Riverton's two days and Hillside's one; Bayport stays provisional."""
    ws.outputs["approve_riverton"] = ws.run(
        "report", "approve", "AR-01-01", "2024-03-01..2024-03-02", "--user", "coord"
    )
    ws.outputs["approve_hillside"] = ws.run("report", "approve", "AR-01-02", "2024-03-01", "--user", "coord")
    return ws


@pytest.fixture(scope="module")
def refusals(ws: Workspace) -> Refusals:
    """Commands that must be refused (and a replay that must change nothing), run side by side: none writes."""
    (ws.root / "bayport.csv").write_text(
        "jurisdiction,date,indicator,value\nAR-02-01,2024-03-03,new_confirmed,4\n", encoding="utf-8"
    )
    (ws.root / "unknown.csv").write_text(
        "jurisdiction,date,indicator,value\nAR-01-01,2024-03-03,new_confirmed,4\nAR-09-99,2024-03-03,new_confirmed,4\n",
        encoding="utf-8",
    )
    before = ws.counts()
    procs = ws.run_parallel(
        {
            "replay": (["import", "--format", "csv", "report.csv"], 0),
            "out_of_scope": (["report", "submit", "bayport.csv", "--user", "rep"], 4),
            "unknown": (["import", "--format", "csv", "unknown.csv"], 1),
            "not_found": (["report", "series", "NOWHERE"], 3),
            "bad_as_of": (["report", "series", "AR", "--as-of", "yesterday"], 1),
            "help": (["--help"], 0),
        },
        check=False,
    )
    return ws, procs, before


def test_setup_commands_say_what_they_did(ws: Workspace) -> None:
    assert ws.outputs["init"].stdout.startswith("database ready: sqlite:")
    assert (ws.data_dir / "accord.db").is_file()
    assert "places.csv: 6 created, 0 updated, 0 unchanged" in ws.outputs["places"].stdout
    assert "5 rows — 5 new, 0 revised, 0 unchanged" in ws.outputs["submit"].stdout
    assert "added coord (coordinator of AR)" in ws.outputs["add_coord"].stdout
    assert "added rep (reporter of AR-01-01)" in ws.outputs["add_rep"].stdout
    assert ws.token.startswith("acc_") and len(ws.token) > 30 and "\n" not in ws.token


def test_provisional_series_before_approval(ws: Workspace) -> None:
    frame = pd.read_csv(io.StringIO(ws.outputs["series_before"].stdout))
    assert frame["date"].tolist() == ["2024-03-01", "2024-03-02"]
    assert frame["value"].tolist() == [5 + 3 + 11, 7]
    assert frame["provisional"].tolist() == [True, True]


def test_approval_then_exports_in_every_layout_match_the_series(approved: Workspace) -> None:
    w = approved
    assert "approved 2 day(s) of AR-01-01" in w.outputs["approve_riverton"].stdout
    assert "approved 1 day(s) of AR-01-02" in w.outputs["approve_hillside"].stdout
    with transaction(w.sessions()) as s:
        public = {
            (code, ind): service.series(s, code, ind, view="public")
            for code in NAMES
            for ind in ("new_confirmed", "new_deaths")
        }
        country = service.series(s, "AR", "new_confirmed", view="public")
        everything = service.series(s, "AR", "new_confirmed", view="all")
    # the series themselves: approved figures are public, Bayport's are not, the country sums the public ones
    got = {
        (code, d.strftime("%Y-%m-%d"), ind): v
        for (code, ind), frame in public.items()
        for d, v in zip(frame["date"], frame["value"], strict=True)
    }
    assert got == PUBLIC
    assert country["value"].tolist() == [8, 7]

    city = ["--jurisdiction", "AR", "--level", "city"]
    exports = w.run_parallel(
        {
            "csv": (["export", "--format", "csv", *city], 0),
            "owid": (["export", "--format", "owid", *city], 0),
            "jhu": (["export", "--format", "jhu", *city], 0),
            "who": (["export", "--format", "who", *city], 0),
            "dhis2": (["export", "-f", "dhis2", "-j", "AR", "--level", "city", "--output", "out.json"], 0),
            "adx": (["export", "--format", "adx", *city], 0),
            "country": (["export", "-f", "owid", "-j", "AR", "--level", "country", "--include-provisional"], 0),
        }
    )

    csv = pd.read_csv(io.StringIO(exports["csv"].stdout), dtype={"disaggregation": str}, keep_default_na=False)
    assert list(csv.columns) == ["jurisdiction", "date", "indicator", "disaggregation", "value", "reason"]
    assert {(r.jurisdiction, r.date, r.indicator): float(r.value) for r in csv.itertuples()} == PUBLIC

    owid = pd.read_csv(io.StringIO(exports["owid"].stdout))
    owid = owid.set_index(["location", "date"])
    assert owid.loc[("Riverton", "2024-03-01"), "new_cases"] == 5
    assert owid.loc[("Riverton", "2024-03-02"), "new_cases"] == 7
    assert owid.loc[("Riverton", "2024-03-02"), "total_cases"] == 12
    assert owid.loc[("Riverton", "2024-03-01"), "new_deaths"] == 1
    assert owid.loc[("Riverton", "2024-03-01"), "population"] == 350_000
    assert owid.loc[("Hillside", "2024-03-01"), "total_cases"] == 3
    assert "Bayport" not in set(owid.index.get_level_values("location"))  # provisional stays off public data

    jhu = pd.read_csv(io.StringIO(exports["jhu"].stdout), keep_default_na=False)
    assert list(jhu.columns)[:4] == ["Province/State", "Country/Region", "Lat", "Long"]
    assert list(jhu.columns)[4:] == ["3/1/24", "3/2/24"]
    label = jhu["Province/State"].where(jhu["Province/State"] != "", jhu["Country/Region"])
    wide = jhu.assign(place=label).set_index("place")[["3/1/24", "3/2/24"]]
    assert wide.loc["Riverton"].tolist() == [5, 12]  # cumulative, as JHU publishes
    assert wide.loc["Hillside"].tolist() == [3, 3]
    assert "Bayport" not in wide.index

    who = pd.read_csv(io.StringIO(exports["who"].stdout)).set_index(["Country", "Date_reported"])
    assert who.loc[("Riverton", "2024-03-02"), "New_cases"] == 7
    assert who.loc[("Riverton", "2024-03-02"), "Cumulative_cases"] == 12
    assert who.loc[("Riverton", "2024-03-01"), "New_deaths"] == 1
    assert who.loc[("Hillside", "2024-03-01"), "Cumulative_cases"] == 3

    assert exports["dhis2"].stdout == ""
    assert "out.json" in exports["dhis2"].stderr
    values = json.loads((w.root / "out.json").read_text(encoding="utf-8"))["dataValues"]
    period = {v["period"]: v for v in values}
    assert set(period) <= {"20240301", "20240302"}
    assert {
        (v["orgUnit"], f"{v['period'][:4]}-{v['period'][4:6]}-{v['period'][6:]}", v["dataElement"]): float(v["value"])
        for v in values
    } == PUBLIC

    adx = ET.fromstring(exports["adx"].stdout)
    ns = "{urn:ihe:qrph:adx:2015}"
    assert adx.tag == f"{ns}adx"
    found = {}
    for group in adx.iter(f"{ns}group"):
        day = group.attrib["period"].split("/")[0]
        for dv in group.iter(f"{ns}dataValue"):
            found[(group.attrib["orgUnit"], day, dv.attrib["dataElement"])] = float(dv.attrib["value"])
    assert found == PUBLIC

    # the country with provisional figures: Bayport's 11 counts, as in the series of everything
    national = pd.read_csv(io.StringIO(exports["country"].stdout))
    assert national["location"].unique().tolist() == ["Arcadia"]
    assert national["new_cases"].tolist() == everything["value"].tolist() == [5 + 3 + 11, 7]
    assert national["total_cases"].tolist() == [19, 26]
    assert national["new_deaths"].tolist()[0] == 1


def test_replaying_the_same_import_changes_nothing(refusals: Refusals) -> None:
    ws, procs, before = refusals
    assert "already imported as submission 1: nothing changed" in expect(procs["replay"], 0).stdout
    assert ws.counts() == before


def test_reporter_outside_scope_is_refused_with_exit_4(refusals: Refusals) -> None:
    ws, procs, before = refusals
    lines = error_lines(expect(procs["out_of_scope"], 4))
    assert len(lines) == 1, procs["out_of_scope"].stderr
    assert "AR-02-01" in lines[0] and "AR-01-01" in lines[0] and "rep" in lines[0]
    assert ws.counts() == before


def test_unknown_jurisdiction_is_rejected_with_file_and_line(refusals: Refusals) -> None:
    ws, procs, before = refusals
    lines = error_lines(expect(procs["unknown"], 1))
    assert len(lines) == 1, procs["unknown"].stderr
    assert "unknown.csv" in lines[0] and "line 3" in lines[0] and "AR-09-99" in lines[0]
    assert "nothing was stored" in lines[0]
    assert ws.counts() == before


def test_not_found_is_exit_3(refusals: Refusals) -> None:
    _, procs, _ = refusals
    assert error_lines(expect(procs["not_found"], 3)) == ["error: no jurisdiction with code 'NOWHERE'"]


def test_a_bad_as_of_time_is_one_sentence_not_a_traceback(refusals: Refusals) -> None:
    _, procs, _ = refusals
    lines = error_lines(expect(procs["bad_as_of"], 1))
    assert len(lines) == 1 and "yesterday" in lines[0], lines


def _command_paths() -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = [()]

    def walk(command: object, prefix: tuple[str, ...]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            paths.append((*prefix, name))
            walk(sub, (*prefix, name))

    walk(get_command(app), ())
    return paths


def test_help_works_for_every_command(refusals: Refusals, monkeypatch: pytest.MonkeyPatch) -> None:
    _, procs, _ = refusals
    top = expect(procs["help"], 0).stdout
    for name in ("init", "places", "import", "export", "report", "users", "serve", "demo"):
        assert name in top
    paths = _command_paths()
    assert len(paths) > 20 and ("report", "approve") in paths and ("users", "token") in paths
    # the runner turns the Typer app into a Click command on every call (0.1 s each): once is enough here
    command = get_command(app)
    monkeypatch.setattr(typer.testing, "_get_command", lambda _app: command)
    runner = CliRunner()
    for path in paths:  # in-process: one `accord` process per command would take a minute
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output and "Traceback" not in result.output, (path, result.output)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(approved: Workspace) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [str(ACCORD), "serve"],
        cwd=approved.root,
        env={**approved.env, "ACCORD_PORT": str(port), "ACCORD_HOST": "127.0.0.1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"accord serve exited with {proc.returncode}: {proc.stderr.read()}")
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("accord serve did not answer within 180 s")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            _, stderr = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate()
        assert "Traceback" not in stderr, stderr
        assert f"127.0.0.1:{port}" in stderr  # it said where to look


def test_serve_answers_health_and_series(server: str, approved: Workspace) -> None:
    health = httpx.get(f"{server}/api/v1/health", timeout=10)
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["database"] == "sqlite"
    params = {"jurisdiction": "AR", "indicator": "new_confirmed"}
    public = httpx.get(f"{server}/api/v1/series", params=params, timeout=10).json()["data"]
    assert [(p["date"][:10], p["value"]) for p in public] == [("2024-03-01", 8), ("2024-03-02", 7)]
    auth = {"Authorization": f"Bearer {approved.token}"}
    everything = httpx.get(f"{server}/api/v1/series", params={**params, "view": "all"}, headers=auth, timeout=10)
    assert everything.status_code == 200, everything.text
    rows = everything.json()["data"]
    assert [(p["date"][:10], p["value"], p["provisional"]) for p in rows] == [
        ("2024-03-01", 19, True),
        ("2024-03-02", 7, False),
    ]
    as_csv = httpx.get(f"{server}/api/v1/series", params={**params, "format": "csv"}, timeout=10)
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert pd.read_csv(io.StringIO(as_csv.text))["value"].tolist() == [8, 7]
    missing = httpx.get(f"{server}/api/v1/series", params={**params, "jurisdiction": "NOWHERE"}, timeout=10)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert date.fromisoformat(public[0]["date"][:10]) == date(2024, 3, 1)

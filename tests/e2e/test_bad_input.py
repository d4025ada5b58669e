"""Bad input, one test each: a clear error that says what and where (file, line, field), and a store that is
unchanged, or, where the input is acceptable, fully applied.

Most go through the exchange layer (what `accord import` and `POST /api/v1/imports` call); scope and size
limits also through the HTTP API, and the real Xu line list and an oversized file through the `accord`
executable.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from tests.conftest import SMALL_TREE, shared_data

from accord.app import create_app
from accord.auth import service as auth
from accord.auth.roles import SYSTEM, Actor
from accord.db import session_factory, transaction
from accord.errors import AccordError, Conflict, Forbidden
from accord.places import service as places
from accord.settings import Settings
from accord.surveillance import exchange, service
from accord.surveillance.model import Figure, Flag, Observation, ReportDay, Submission

HEADER = "jurisdiction,date,indicator,value,reason\n"
ACCORD = Path(sys.executable).parent / "accord"
PYCACHE = Path(tempfile.gettempdir()) / "accord-e2e-pycache"
TABLES = (Observation, Figure, Submission, ReportDay, Flag)


# ------------------------------------------------------------------------------------------------ helpers
def counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    with transaction(sessions) as s:
        return {t.__tablename__: int(s.scalar(select(func.count()).select_from(t)) or 0) for t in TABLES}


def import_file(
    sessions: sessionmaker[Session],
    data: bytes | str,
    name: str = "report.csv",
    fmt: str = "csv",
    actor: Actor = SYSTEM,
    **options: object,
) -> dict[str, object]:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with transaction(sessions) as s:
        return exchange.import_bytes(s, fmt, raw, name, actor=actor, options=options or None)


def rejected(
    sessions: sessionmaker[Session], data: bytes | str, name: str = "report.csv", fmt: str = "csv", **options: object
) -> AccordError:
    """Import that must fail and leave every table as it was; returns the error."""
    before = counts(sessions)
    with pytest.raises(AccordError) as info:
        import_file(sessions, data, name, fmt, **options)
    assert counts(sessions) == before, "a rejected import changed the store"
    message = str(info.value)
    assert "Traceback" not in message and "\n" not in message  # one sentence
    return info.value


def value(sessions: sessionmaker[Session], code: str, day: str, indicator: str = "new_confirmed") -> float | None:
    with transaction(sessions) as s:
        frame = service.series(s, code, indicator, view="all")
    hit = frame[frame["date"] == pd.Timestamp(day)]
    return None if hit.empty else float(hit["value"].iat[0])


def one_row(code: str, number: float, day: str = "2024-03-01") -> pd.DataFrame:
    return pd.DataFrame([{"jurisdiction": code, "date": day, "indicator": "new_confirmed", "value": number}])


@pytest.fixture
def tree(sqlite_engine: Engine) -> sessionmaker[Session]:
    sessions = session_factory(sqlite_engine)
    with transaction(sessions) as s:
        places.import_places(s, SMALL_TREE)
        auth.add_user(s, "coord", "coordinator", "AR-01")
        auth.add_user(s, "rep", "reporter", "AR-01-01")
    return sessions


def accord_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(PYTHONPYCACHEPREFIX=str(PYCACHE), ACCORD_DATA_DIR=str(data_dir), COLUMNS="200", **extra)
    return env


# ------------------------------------------------------------------------------------------------ broken CSV
def test_unbalanced_quote_names_the_line_where_the_quote_opens(tree: sessionmaker[Session]) -> None:
    data = (
        HEADER + "AR-01-01-001,2024-03-01,new_confirmed,1,\n"
        '"AR-01-01-002,2024-03-01,new_confirmed,2,\n'
        "AR-01-02,2024-03-01,new_confirmed,3,\n"
    )
    err = rejected(tree, data, "quotes.csv")
    (p,) = err.problems
    assert (p.file, p.line, p.code) == ("quotes.csv", 3, "malformed")
    assert "quoted field is never closed" in p.message
    assert "quotes.csv, line 3" in str(err) and "nothing was stored" in str(err)


def test_wrong_column_count_is_refused_with_line_and_counts(tree: sessionmaker[Session]) -> None:
    data = HEADER + "AR-01-01-001,2024-03-01,new_confirmed,1,\nAR-01-01-002,2024-03-01,new_confirmed,2,,9\n"
    err = rejected(tree, data, "columns.csv")
    (p,) = err.problems
    assert (p.file, p.line) == ("columns.csv", 3)
    assert "6 fields where the header has 5" in p.message
    # too few fields: each missing required field is named
    err = rejected(tree, HEADER + "AR-01-01-001,2024-03-01,new_confirmed,1,\nAR-01-01-002,2024-03-01\n", "short.csv")
    assert {(p.line, p.field) for p in err.problems} == {(3, "indicator"), (3, "value")}


def test_wrong_column_count_after_a_multiline_field_names_the_physical_line(tree: sessionmaker[Session]) -> None:
    # a quoted reason spanning lines 2-3 moves the next record to line 4, where an editor shows it
    data = HEADER + 'AR-01-01-001,2024-03-01,new_confirmed,1,"two\nlines"\nAR-01-01-002,2024-03-01,new_confirmed,2,,9\n'
    err = rejected(tree, data, "multiline.csv")
    (p,) = err.problems
    assert (p.file, p.line) == ("multiline.csv", 4), p.sentence()
    assert "6 fields where the header has 5" in p.message


# ---------------------------------------------------------------------------------------------- encodings
def test_latin1_file_is_refused_naming_line_and_byte_then_accepted_with_its_encoding(
    tree: sessionmaker[Session],
) -> None:
    data = (
        HEADER + "AR-01-01-001,2024-03-01,new_confirmed,1,\nAR-01-01-002,2024-03-01,new_confirmed,2,révisé\n"
    ).encode("latin-1")
    err = rejected(tree, data, "latin1.csv")
    (p,) = err.problems
    assert (p.file, p.line, p.code) == ("latin1.csv", 3, "encoding")
    assert "not valid UTF-8" in p.message and "0xE9" in p.message and "encoding" in p.message
    # named explicitly, the same bytes are read correctly: the accent survives
    result = import_file(tree, data, "latin1.csv", encoding="latin-1")
    assert result["new"] == 2
    with transaction(tree) as s:
        hist = service.history(s, "AR-01-01-002", "new_confirmed", date(2024, 3, 1))
    assert hist["reason"].tolist() == ["révisé"]


def test_gb18030_file_is_refused_then_read_with_its_encoding(tree: sessionmaker[Session]) -> None:
    data = "jurisdiction,jurisdiction_name,date,indicator,value\n,河城,2024-03-01,new_confirmed,4\n".encode("gb18030")
    err = rejected(tree, data, "gb.csv")
    assert err.problems[0].line == 2 and "not valid UTF-8" in err.problems[0].message
    result = import_file(tree, data, "gb.csv", encoding="gb18030")
    assert result["new"] == 1
    assert value(tree, "AR-01-01", "2024-03-01") == 4  # 河城 is the local name of Riverton


def first_invalid_utf8_line(data: bytes) -> int:
    for number, line in enumerate(data.split(b"\n"), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return number
    raise AssertionError("the file is valid UTF-8")


# the two CLI checks run side by side (each `accord` process spends ~2 s importing its libraries)
@pytest.fixture(scope="module")
def cli_refusals(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, subprocess.CompletedProcess[str]]]:
    root = tmp_path_factory.mktemp("bad-cli")
    big = root / "big.csv"
    big.write_text(HEADER + "AR-01-01-001,2024-03-01,new_confirmed,1,\n" * 100, encoding="utf-8")
    commands: dict[str, tuple[list[str], dict[str, str]]] = {
        "big": (["import", "--format", "csv", str(big)], {"ACCORD_MAX_UPLOAD_BYTES": "1000"}),
    }
    shared = shared_data()
    if shared is not None:  # the Xu test itself skips without it
        xu = shared / "linelist-xu2020-beoutbreakprepared" / "linelist_outside-hubei.csv"
        commands["xu"] = (["import", "--format", "csv", str(xu)], {})
    started = {
        name: subprocess.Popen(
            [str(ACCORD), *args],
            cwd=root,
            env=accord_env(root / name, **extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (args, extra) in commands.items()
    }
    out = {}
    for name, popen in started.items():
        stdout, stderr = popen.communicate(timeout=300)
        out[name] = subprocess.CompletedProcess(popen.args, popen.returncode, stdout, stderr)
    yield out


def test_xu_line_list_with_invalid_utf8_is_one_clear_sentence(
    cli_refusals: dict[str, subprocess.CompletedProcess[str]], data_dir: Path
) -> None:
    xu = data_dir / "linelist-xu2020-beoutbreakprepared" / "linelist_outside-hubei.csv"
    line = first_invalid_utf8_line(xu.read_bytes())
    proc = cli_refusals["xu"]
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 1, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert f"linelist_outside-hubei.csv, line {line}:" in lines[0]
    assert "not valid UTF-8" in lines[0] and "nothing was stored" in lines[0]


# ---------------------------------------------------------------------------------------- what the rows say
def test_unknown_jurisdiction_names_code_line_and_field(tree: sessionmaker[Session]) -> None:
    data = HEADER + "AR-01-01-001,2024-03-01,new_confirmed,1,\nAR-07-77,2024-03-01,new_confirmed,2,\n"
    err = rejected(tree, data, "unknown.csv")
    (p,) = err.problems
    assert (p.file, p.line, p.field, p.code) == ("unknown.csv", 3, "jurisdiction", "unknown_jurisdiction")
    assert "AR-07-77" in p.message


def test_duplicate_rows_in_one_file_name_both_lines(tree: sessionmaker[Session]) -> None:
    data = (
        HEADER + "AR-01-01-001,2024-03-01,new_confirmed,1,\n"
        "AR-01-01-002,2024-03-01,new_confirmed,2,\n"
        "AR-01-01-001,2024-03-01,new_confirmed,5,\n"
    )
    err = rejected(tree, data, "dup.csv")
    (p,) = err.problems
    assert (p.file, p.line) == ("dup.csv", 4) and "duplicate" in p.message and "line 2" in p.message
    # the same through the service (API batches): both rows are named
    frame = pd.DataFrame(
        {
            "jurisdiction": ["AR-01-01-001", "AR-01-01-001"],
            "date": ["2024-03-01", "2024-03-01"],
            "indicator": ["new_confirmed", "new_confirmed"],
            "value": [1, 5],
            "line": [1, 2],
        }
    )
    before = counts(tree)
    with pytest.raises(AccordError) as info, transaction(tree) as s:
        service.submit(s, frame, actor=SYSTEM, source="test", file="observations")
    assert {(p.line, p.code) for p in info.value.problems} == {(1, "duplicate_row"), (2, "duplicate_row")}
    assert counts(tree) == before


def test_negative_count_needs_a_reason(tree: sessionmaker[Session]) -> None:
    err = rejected(tree, HEADER + "AR-01-01-001,2024-03-01,new_confirmed,-3,\n", "negative.csv")
    (p,) = err.problems
    assert (p.line, p.field, p.code) == (2, "value", "negative_count")
    assert "-3" in p.message and "reason" in p.message
    # with a reason it is a downward correction: kept as is and flagged, not clipped
    import_file(tree, HEADER + "AR-01-01-001,2024-03-01,new_confirmed,-3,duplicate removed\n", "negative.csv")
    assert value(tree, "AR-01-01-001", "2024-03-01") == -3
    with transaction(tree) as s:
        flags, total = service.flags(s, root_code="AR-01-01-001", code="cumulative_decrease")
    assert total == 1 and flags[0]["date"] == "2024-03-01" and "duplicate removed" in flags[0]["message"]


def test_future_date_is_refused(tree: sessionmaker[Session]) -> None:
    later = (datetime.now(UTC).date() + timedelta(days=3)).isoformat()
    err = rejected(tree, HEADER + f"AR-01-01-001,2024-03-01,new_confirmed,1,\nAR-01-01-001,{later},new_confirmed,1,\n")
    (p,) = err.problems
    assert (p.file, p.line, p.field, p.code) == ("report.csv", 3, "date", "future_date")
    assert later in p.message and "future" in p.message


@pytest.mark.parametrize("day", ["0224-03-01", "9999-12-31"])
def test_a_date_typo_far_out_of_range_is_a_problem_not_a_crash(tree: sessionmaker[Session], day: str) -> None:
    # a mistyped year (0224 for 2024) or a "don't know" sentinel (9999-12-31) is bad input, not a server error
    err = rejected(tree, HEADER + f"AR-01-01-001,2024-03-01,new_confirmed,1,\nAR-01-01-002,{day},new_confirmed,1,\n")
    (p,) = err.problems
    assert (p.file, p.line, p.field) == ("report.csv", 3, "date")
    assert day in p.message or day.lstrip("0") in p.message


def test_half_valid_batch_stores_nothing_then_the_fixed_batch_everything(small_tree: sessionmaker[Session]) -> None:
    good = [
        "AR-01-01-001,2024-03-01,new_confirmed,4,",
        "AR-01-01-002,2024-03-01,new_confirmed,6,",
        "AR-02-01,2024-03-01,new_confirmed,5,",
    ]
    bad = ["AR-01-09,2024-03-01,new_confirmed,2,", "AR-01-02,2024-03-01,new_deaths,-1,"]
    before = counts(small_tree)
    err = rejected(small_tree, HEADER + "\n".join(good + bad) + "\n", "half.csv")
    assert {(p.line, p.field, p.code) for p in err.problems} == {
        (5, "jurisdiction", "unknown_jurisdiction"),
        (6, "value", "negative_count"),
    }
    assert "2 problems" in str(err)
    assert counts(small_tree) == before
    assert value(small_tree, "AR", "2024-03-01") is None
    fixed = ["AR-01-02,2024-03-01,new_confirmed,2,", "AR-01-02,2024-03-01,new_deaths,1,"]
    result = import_file(small_tree, HEADER + "\n".join(good + fixed) + "\n", "half.csv")
    assert result["new"] == 5
    after = counts(small_tree)
    assert after["observation"] == before["observation"] + 5
    assert after["submission"] == before["submission"] + 1
    assert after["report_day"] == before["report_day"] + 4
    assert value(small_tree, "AR-01-01", "2024-03-01") == 10
    assert value(small_tree, "AR", "2024-03-01") == 4 + 6 + 5 + 2
    assert value(small_tree, "AR", "2024-03-01", "new_deaths") == 1


def test_replayed_batch_is_a_no_op_and_a_reused_key_with_other_rows_conflicts(tree: sessionmaker[Session]) -> None:
    data = HEADER + "AR-01-01-001,2024-03-01,new_confirmed,4,\n"
    first = import_file(tree, data)
    before = counts(tree)
    again = import_file(tree, data)
    assert again["replayed"] is True and again["submission_id"] == first["submission_id"]
    assert counts(tree) == before
    with transaction(tree) as s:
        service.submit(s, one_row("AR-01-01-002", 1), actor=SYSTEM, source="test", idempotency_key="k-1")
    before = counts(tree)
    with pytest.raises(Conflict) as info, transaction(tree) as s:
        service.submit(s, one_row("AR-01-01-002", 2), actor=SYSTEM, source="test", idempotency_key="k-1")
    assert info.value.status == 409 and "k-1" in str(info.value)
    assert counts(tree) == before
    assert value(tree, "AR-01-01-002", "2024-03-01") == 1


# ------------------------------------------------------------------------------------------- scope and size
@pytest.fixture
def client(tree: sessionmaker[Session], sqlite_engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(database_url=sqlite_engine.url.render_as_string(), data_dir=tmp_path, max_upload_bytes=2_000)
    with transaction(tree) as s:
        tokens = {u: auth.issue_token(s, u) for u in ("rep", "coord")}
    with TestClient(create_app(settings)) as c:
        c.headers.update({"Authorization": f"Bearer {tokens['rep']}"})
        yield c


def test_request_over_the_users_scope_is_403_and_stores_nothing(
    client: TestClient, tree: sessionmaker[Session]
) -> None:
    before = counts(tree)
    data = HEADER + "AR-01-01-001,2024-03-01,new_confirmed,1,\nAR-02-01,2024-03-01,new_confirmed,2,\n"
    r = client.post("/api/v1/imports", params={"format": "csv", "filename": "mixed.csv"}, content=data.encode())
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")
    detail = r.json()["detail"]
    assert "AR-02-01" in detail and "AR-01-01" in detail and "rep" in detail
    assert counts(tree) == before
    # the same through the service: Forbidden, nothing stored
    with pytest.raises(Forbidden), transaction(tree) as s:
        exchange.import_bytes(s, "csv", data.encode(), "mixed.csv", actor=auth.actor_for(s, "rep"))
    assert counts(tree) == before
    # inside the scope the same reporter is fine
    ok = client.post(
        "/api/v1/imports",
        params={"format": "csv", "filename": "own.csv"},
        content=(HEADER + "AR-01-01-001,2024-03-01,new_confirmed,1,\n").encode(),
    )
    assert ok.status_code == 201, ok.text
    assert counts(tree)["observation"] == before["observation"] + 1


def test_a_replay_does_not_bypass_the_scope_check(tree: sessionmaker[Session]) -> None:
    # Bayport's report, imported by the system; the same bytes sent by Riverton's reporter must be refused,
    # not answered "already imported" with another unit's submission
    data = HEADER + "AR-02-01,2024-03-01,new_confirmed,2,\n"
    first = import_file(tree, data, "bayport.csv")
    assert first["replayed"] is False
    before = counts(tree)
    with pytest.raises(Forbidden) as info, transaction(tree) as s:
        exchange.import_bytes(s, "csv", data.encode(), "bayport.csv", actor=auth.actor_for(s, "rep"))
    assert "AR-02-01" in str(info.value)
    assert counts(tree) == before


def test_enormous_upload_is_413_in_the_api_and_exit_6_in_the_cli(
    client: TestClient, tree: sessionmaker[Session], cli_refusals: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    before = counts(tree)
    big = (HEADER + "AR-01-01-001,2024-03-01,new_confirmed,1,\n" * 100).encode()
    r = client.post("/api/v1/imports", params={"format": "csv", "filename": "big.csv"}, content=big)
    assert r.status_code == 413
    assert "2,000 bytes" in r.json()["detail"]
    # streamed without a declared length, it is cut off as well

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 500):
            yield big[start : start + 500]

    r = client.post("/api/v1/imports", params={"format": "csv"}, content=chunks())
    assert r.status_code == 413
    assert counts(tree) == before
    proc = cli_refusals["big"]
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 6, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "big.csv" in lines[0] and "1,000 bytes" in lines[0], proc.stderr
    # the parsers have their own limit too
    err = rejected(tree, big, "big.csv", max_bytes=1000)
    assert err.status == 413 and "big.csv" in str(err)


# -------------------------------------------------------------------------------------------- hostile files
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<adx xmlns="urn:ihe:qrph:adx:2015">
 <group orgUnit="AR-01-01-001" period="2024-03-01/P1D">
  <dataValue dataElement="new_confirmed" value="1">&lol9;</dataValue>
 </group>
</adx>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE adx [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<adx xmlns="urn:ihe:qrph:adx:2015">
 <group orgUnit="&xxe;" period="2024-03-01/P1D"><dataValue dataElement="new_confirmed" value="1"/></group>
</adx>
"""


@pytest.mark.timeout(30)
def test_hostile_adx_is_refused_without_expanding_it(tree: sessionmaker[Session]) -> None:
    for name, data in (("laughs.xml", BILLION_LAUGHS), ("xxe.xml", EXTERNAL_ENTITY)):
        err = rejected(tree, data, name, fmt="adx")
        (p,) = err.problems
        assert p.file == name and p.code == "hostile-xml"
        assert "DTD" in p.message or "entit" in p.message
        assert "root:" not in str(err)  # nothing of /etc/passwd


def test_binary_garbage_is_not_text(tree: sessionmaker[Session]) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8
    err = rejected(tree, png, "photo.csv")
    assert "photo.csv" in str(err) and "not a text file" in str(err)
    noise = bytes((i * 37 + 11) % 255 + 1 for i in range(4000))  # no NUL byte, but not UTF-8 either
    err = rejected(tree, noise, "noise.csv")
    assert err.problems[0].file == "noise.csv" and err.problems[0].line == 1
    assert "not valid UTF-8" in err.problems[0].message


def test_empty_and_header_only_files(tree: sessionmaker[Session]) -> None:
    for data in (b"", b"\n\n  \n"):
        err = rejected(tree, data, "empty.csv")
        assert "empty.csv" in str(err) and "empty" in err.problems[0].message
    err = rejected(tree, HEADER, "header.csv")
    assert "header.csv" in str(err)
    assert "empty" in str(err) or "no data rows" in str(err) or "no observations" in str(err)


# ---------------------------------------------------------------------------------------------- corrections
def test_correcting_an_approved_day_needs_a_reason_and_keeps_history(tree: sessionmaker[Session]) -> None:
    import_file(tree, HEADER + "AR-01-01-001,2024-03-01,new_confirmed,4,\n", "first.csv")
    with transaction(tree) as s:
        assert service.approve(s, auth.actor_for(s, "coord"), "AR-01-01-001", [date(2024, 3, 1)]) == 1
    err = rejected(tree, HEADER + "AR-01-01-001,2024-03-01,new_confirmed,6,\n", "silent.csv")
    (p,) = err.problems
    assert (p.file, p.line, p.field, p.code) == ("silent.csv", 2, "reason", "locked_without_reason")
    assert "4 -> 6" in p.message and "approved" in p.message
    result = import_file(tree, HEADER + "AR-01-01-001,2024-03-01,new_confirmed,6,late lab results\n", "fix.csv")
    assert result["revised"] == 1 and result["new"] == 0
    with transaction(tree) as s:
        hist = service.history(s, "AR-01-01-001", "new_confirmed", date(2024, 3, 1))
        public = service.series(s, "AR", "new_confirmed", view="public")
    assert hist["revision"].tolist() == [1, 2]
    assert hist["value"].tolist() == [4, 6]
    assert hist["previous_value"].iloc[1] == 4
    assert pd.isna(hist["reason"].iloc[0]) or hist["reason"].iloc[0] in ("", None)
    assert hist["reason"].iloc[1] == "late lab results"
    assert hist["source"].tolist() == ["import:csv:first.csv", "import:csv:fix.csv"]
    assert public["value"].tolist() == [6]  # the approved day shows the corrected figure

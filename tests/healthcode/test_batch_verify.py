"""``accord healthcode verify`` on many codes (a file, or standard input): one verdict per line, JSON lines with
--json, exit 2 when any is invalid; and the command starts without the rest of the application."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from accord.cli import app
from accord.healthcode import trustlist
from tests.healthcode.keyring import NOW, keyring

runner = CliRunner()
AT = (NOW + timedelta(hours=1)).isoformat()


@pytest.fixture(scope="module")
def trust_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ring = keyring()
    entries = [trustlist.Entry(ring.issuer, "AR-01"), trustlist.Entry(ring.other, "AR-02", status="revoked")]
    text = trustlist.sign_trust_list(entries, root_key=ring.root_key, root_cert=ring.root, version=1, issued_at=NOW)
    path = tmp_path_factory.mktemp("trust") / "trust.json"
    path.write_text(text, encoding="utf-8")
    return path


def _codes() -> list[str]:
    ring = keyring()
    good = ring.code(at=NOW)
    return [
        good,
        "",  # blank lines are skipped, not verdicts
        ring.code(at=NOW, key="other"),  # revoked issuer
        "XX1:" + good[4:],  # bad prefix
        ring.code(at=NOW - timedelta(hours=13)),  # expired an hour before AT
        good + "\r",  # a Windows line end is not part of the code
    ]


def test_a_file_gives_one_verdict_per_code_in_order(tmp_path: Path, trust_file: Path) -> None:
    codes = tmp_path / "codes.txt"
    codes.write_text("\n".join(_codes()) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["healthcode", "verify", "--file", str(codes), "--trust", str(trust_file), "--at", AT])
    assert result.exit_code == 2, result.output
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert [(n, verdict) for n, verdict, _ in lines] == [
        ("1", "valid"),
        ("3", "invalid"),
        ("4", "invalid"),
        ("5", "invalid"),
        ("6", "valid"),
    ]
    assert "revoked issuer" in lines[1][2] and "bad prefix" in lines[2][2] and "expired" in lines[3][2]
    assert "green JD issued by AR" in lines[0][2]
    assert "5 codes: 2 valid, 3 invalid" in result.stderr


def test_standard_input_and_json_lines(trust_file: Path) -> None:
    ring = keyring()
    text = "\n".join([ring.code(at=NOW), ring.code(at=NOW, hours=2)]) + "\n"
    result = runner.invoke(
        app, ["healthcode", "verify", "-", "--json", "--trust", str(trust_file), "--at", AT], input=text
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["line"] for r in rows] == [1, 2] and all(r["valid"] for r in rows)
    assert rows[0]["claims"]["colour"] == "green" and rows[0]["reason"] == "valid"


def test_errors_are_one_sentence(tmp_path: Path, trust_file: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    none = runner.invoke(app, ["healthcode", "verify", "--file", str(empty), "--trust", str(trust_file)])
    assert none.exit_code == 1 and "no codes" in none.output
    neither = runner.invoke(app, ["healthcode", "verify", "--trust", str(trust_file)])
    assert neither.exit_code == 1 and "give a CODE" in neither.output
    missing = runner.invoke(
        app, ["healthcode", "verify", "--file", str(tmp_path / "x.txt"), "--trust", str(trust_file)]
    )
    assert missing.exit_code == 1 and "no such file" in missing.output


def test_the_verifier_starts_without_the_application(tmp_path: Path, trust_file: Path) -> None:
    """A fresh process: the codes are checked, and neither the web stack, the database layer, pandas nor the
    epidemic models were imported to do it."""
    codes = tmp_path / "codes.txt"
    codes.write_text(keyring().code(at=NOW) + "\n", encoding="utf-8")
    probe = (
        "import sys, runpy\n"
        "file, trust, at = sys.argv[1:4]\n"
        "sys.argv = ['accord', 'healthcode', 'verify', '--file', file, '--trust', trust, '--at', at]\n"
        "try:\n"
        "    from accord.cli import main; main()\n"
        "except SystemExit as e:\n"
        "    code = e.code\n"
        "heavy = sorted({m.split('.')[0] if not m.startswith('accord.') else '.'.join(m.split('.')[:2])\n"
        "    for m in sys.modules} & {'fastapi', 'starlette', 'sqlalchemy', 'alembic', 'pandas', 'scipy',\n"
        "    'accord.epi', 'accord.analytics', 'accord.surveillance', 'accord.web', 'accord.db', 'accord.app'})\n"
        "print('HEAVY', heavy, file=sys.stderr); sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(codes), str(trust_file), AT],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1\tvalid")
    assert "HEAVY []" in done.stderr, done.stderr

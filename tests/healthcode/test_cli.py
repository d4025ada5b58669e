"""The CLI as a user runs it: keys, trust list, issue a code, verify it (string and QR image), exit codes."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from accord.db import make_engine, session_factory, transaction
from accord.healthcode import service
from accord.healthcode.cli import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ACCORD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ACCORD_DATABASE_URL", f"sqlite:///{tmp_path / 'a.db'}")
    monkeypatch.setenv("ACCORD_HEALTHCODE_KEK", "test-kek-not-a-secret")
    from accord.settings import get_settings

    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def ok(*args: str) -> str:
    r = runner.invoke(app, list(args))
    assert r.exit_code == 0, r.output
    return r.output


def test_issue_and_verify_round_trip(env: Path) -> None:
    ok("keys", "init-root", "AR")
    ok("keys", "add", "AR-01")
    ok("trustlist", "publish")
    ok("trustlist", "export", str(env / "trust.json"))
    eng = make_engine(f"sqlite:///{env / 'a.db'}")
    with transaction(session_factory(eng)) as s:
        service.refresh_statuses(
            s,
            pd.DataFrame({"person_id": ["p9"], "residence_risk": ["low"]}),
            pd.Timestamp.now(tz="UTC").to_pydatetime(),
        )
    eng.dispose()
    out = runner.invoke(
        app,
        [
            "issue",
            "p9",
            "--jurisdiction",
            "AR-01",
            "--initials",
            "JD",
            "--birth-day",
            "07-14",
            "--qr",
            str(env / "code.png"),
        ],
    )
    assert out.exit_code == 0, out.output
    code = out.output.rstrip("\n")
    assert code.startswith("AC1:")
    trust = str(env / "trust.json")
    assert "valid" in ok("verify", code, "--trust", trust)
    assert "valid" in ok("verify", str(env / "code.png"), "--trust", trust)
    later = runner.invoke(app, ["verify", code, "--trust", trust, "--at", "2099-01-01T00:00:00Z", "--json"])
    assert later.exit_code == 2 and json.loads(later.output)["reason"] == "expired"
    bad = runner.invoke(app, ["verify", "XX1:" + code[4:], "--trust", trust])
    assert bad.exit_code == 2 and "bad prefix" in bad.output
    assert "p9: red" in ok("status", "override", "p9", "--colour", "red", "--reason", "lab result", "--hours", "2")
    no_reason = runner.invoke(app, ["status", "override", "p9", "--colour", "red", "--reason", ""])
    assert no_reason.exit_code == 1 and "needs a reason" in no_reason.output
    keys = ok("keys", "list")
    assert "issuer" in keys and "PRIVATE" not in keys


@pytest.mark.shared_data
def test_verify_eu_dcc_with_pem_bundle(data_dir: Path, tmp_path: Path) -> None:
    vec = json.loads((data_dir / "eu-dcc-testdata/AT/2DCode/raw/1.json").read_text())
    pem = (
        b"-----BEGIN CERTIFICATE-----\n"
        + base64.encodebytes(base64.b64decode(vec["TESTCTX"]["CERTIFICATE"]))
        + (b"-----END CERTIFICATE-----\n")
    )
    (tmp_path / "dsc.pem").write_bytes(pem)
    clock = vec["TESTCTX"]["VALIDATIONCLOCK"]
    r = runner.invoke(app, ["verify", vec["PREFIX"], "--trust", str(tmp_path / "dsc.pem"), "--at", clock])
    assert r.exit_code == 0, r.output

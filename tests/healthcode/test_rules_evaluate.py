"""``accord healthcode rules evaluate`` and ``POST /api/v1/healthcode/rules/evaluate``: EU business rules (the DCC
Gateway format, CertLogic) on a certificate payload at a validation clock.

The CertLogic specification's own test suite runs through the command: every active assertion becomes a rule
whose Logic is the assertion's expression with its ``var`` paths moved under ``payload`` (the EU data context is
``{"payload": ..., "external": ...}``), evaluated on the assertion's data as the payload."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import accord.app
from accord.cli import app
from accord.settings import Settings

runner = CliRunner()
SUITE = "certlogic/certlogic/specification/testSuite"
AT = "2021-08-01T12:00:00Z"


def under_payload(expr: Any) -> Any:
    """``expr`` with every data path read from ``payload`` (not inside a reduce lambda, whose data is its own)."""
    if isinstance(expr, list):
        return [under_payload(e) for e in expr]
    if not isinstance(expr, dict) or len(expr) != 1:
        return expr
    ((op, args),) = expr.items()
    if op == "var":
        path = args if not isinstance(args, int) or isinstance(args, bool) else str(args)
        if isinstance(path, str):
            return {"var": "payload" if path == "" else f"payload.{path}"}
        return expr
    if op == "reduce" and isinstance(args, list) and len(args) == 3:
        return {op: [under_payload(args[0]), args[1], under_payload(args[2])]}
    return {op: under_payload(args)}


def suite_assertions(root: Path) -> Iterator[tuple[str, Any, Any, Any]]:
    for path in sorted((root / SUITE).glob("*.json")):
        suite = json.loads(path.read_text(encoding="utf-8"))
        if suite.get("directive") == "skip":
            continue
        for case in suite["cases"]:
            if case.get("directive") == "skip":
                continue
            for i, a in enumerate(case["assertions"]):
                if a.get("directive") == "skip":
                    continue
                expr = a.get("certLogicExpression", case.get("certLogicExpression"))
                yield f"{path.stem} / {case['name']} / {i + 1}", expr, a["data"], a["expected"]


def rule(identifier: str, logic: Any, **extra: Any) -> dict[str, Any]:
    return {
        "Identifier": identifier,
        "Type": "Acceptance",
        "Country": "EU",
        "Version": "1.0.0",
        "SchemaVersion": "1.0.0",
        "Engine": "CERTLOGIC",
        "EngineVersion": "1.3.3",
        "CertificateType": "General",
        "Description": [{"lang": "en", "desc": identifier}],
        "ValidFrom": "2021-07-01T00:00:00Z",
        "ValidTo": "2030-06-01T00:00:00Z",
        "AffectedFields": [],
        "Logic": logic,
        **extra,
    }


def evaluate(tmp: Path, rules: Any, payload: Any, *more: str) -> tuple[int, dict[str, Any], str]:
    (tmp / "rules.json").write_text(json.dumps(rules), encoding="utf-8")
    (tmp / "payload.json").write_text(json.dumps(payload), encoding="utf-8")
    r = runner.invoke(
        app,
        ["healthcode", "rules", "evaluate", "--rules", str(tmp / "rules.json"), "--payload", str(tmp / "payload.json"),
         "--json", *(more if "--at" in more else ("--at", AT, *more))],
    )  # fmt: skip
    return r.exit_code, json.loads(r.stdout) if r.stdout.strip() else {}, r.stderr


def same(a: Any, b: Any) -> bool:
    """Deep JSON equality with booleans apart from numbers (True is not 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b) and type(a) in (type(b), int, float) and type(b) in (type(a), int, float)


@pytest.mark.shared_data
def test_every_active_assertion_of_the_certlogic_suite_through_the_command(data_dir: Path, tmp_path: Path) -> None:
    checked = 0
    for name, expr, data, expected in suite_assertions(data_dir):
        code, out, err = evaluate(tmp_path, [rule("CL-1", under_payload(expr))], data)
        (result,) = out["results"]
        assert same(result["result"], expected), (name, result, expected)
        # a rule passes only when its Logic gives exactly true, and the command says so by its exit code
        assert (code == 0) == (expected is True), (name, code, err)
        if code:
            assert "CL-1" in err
        checked += 1
    assert checked == 218


RULES = [
    rule("VR-EU-0001", {"in": [{"var": "payload.v.0.mp"}, {"var": "external.valueSets.vaccines-covid-19-names"}]},
         CertificateType="Vaccination"),
    # two versions of one rule: the newer one in force at the clock is applied
    rule("VR-EU-0002", {"<=": [{"var": "payload.v.0.dn"}, 0]}, CertificateType="Vaccination"),
    rule("VR-EU-0002", {">=": [{"var": "payload.v.0.dn"}, {"var": "payload.v.0.sd"}]}, CertificateType="Vaccination",
         Version="1.1.0"),
    rule("VR-EU-0003", {"not-after": [
        {"plusTime": [{"var": "payload.v.0.dt"}, 14, "day"]},
        {"plusTime": [{"var": "external.validationClock"}, 0, "day"]},
    ]}, CertificateType="Vaccination"),
    # not yet in force at the clock, and a test rule: neither applies to this vaccination
    rule("VR-EU-0004", False, ValidFrom="2029-01-01T00:00:00Z"),
    rule("TR-EU-0001", False, CertificateType="Test"),
]  # fmt: skip
PAYLOAD = {
    "ver": "1.3.0",
    "nam": {"fn": "Musterfrau", "gn": "Erika", "fnt": "MUSTERFRAU", "gnt": "ERIKA"},
    "dob": "1964-08-12",
    "v": [{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215", "dn": 2, "sd": 2,
           "dt": "2021-06-01", "co": "AT", "is": "Ministry",
           "ci": "URN:UVCI:01:AT:10807843F94AEE0EE5093FBC254BD813#B"}],
}  # fmt: skip
VALUE_SETS = {"vaccines-covid-19-names": ["EU/1/20/1528", "EU/1/20/1507"]}


def test_rule_selection_outcomes_and_exit_codes(tmp_path: Path) -> None:
    (tmp_path / "vs.json").write_text(json.dumps(VALUE_SETS), encoding="utf-8")
    code, out, err = evaluate(tmp_path, RULES, PAYLOAD, "--value-sets", str(tmp_path / "vs.json"))
    assert code == 0, err
    assert out["passed"] and out["certificate_type"] == "Vaccination"
    assert [(r["rule"], r["version"], r["outcome"]) for r in out["results"]] == [
        ("VR-EU-0001", "1.0.0", "passed"),
        ("VR-EU-0002", "1.1.0", "passed"),
        ("VR-EU-0003", "1.0.0", "passed"),
    ]
    left_out = {(r["rule"], r["version"]): r["why"] for r in out["not_applicable"]}
    assert "superseded" in left_out[("VR-EU-0002", "1.0.0")] and "not valid" in left_out[("VR-EU-0004", "1.0.0")]
    assert "Test rule" in left_out[("TR-EU-0001", "1.0.0")]

    # one dose of two, and a vaccine outside the value set: both rules fail, named, exit 2
    partial = {**PAYLOAD, "v": [{**PAYLOAD["v"][0], "dn": 1, "mp": "Sputnik-V"}]}
    code, out, err = evaluate(tmp_path, RULES, partial, "--value-sets", str(tmp_path / "vs.json"))
    assert code == 2 and out["failing"] == ["VR-EU-0001", "VR-EU-0002"]
    assert "failed: VR-EU-0001" in err and "failed: VR-EU-0002" in err

    # vaccinated a week before the clock: not yet the 14 days the time rule asks for
    recent = {**PAYLOAD, "v": [{**PAYLOAD["v"][0], "dt": "2021-07-25"}]}
    code, out, _ = evaluate(tmp_path, RULES, recent, "--value-sets", str(tmp_path / "vs.json"))
    assert code == 2 and out["failing"] == ["VR-EU-0003"]
    # before the rules came into force none applies, and the command says so
    code, out, err = evaluate(tmp_path, RULES, PAYLOAD, "--at", "2021-06-10")
    assert code == 0 and out["results"] == [] and "no rule" in err


def test_a_rule_that_cannot_be_evaluated_is_open(tmp_path: Path) -> None:
    code, out, err = evaluate(tmp_path, [rule("GR-EU-0001", {"no-such-op": [1]})], PAYLOAD)
    assert code == 2 and out["results"][0]["outcome"] == "open" and "unknown operation" in err


def test_malformed_rule_sets_are_one_sentence(tmp_path: Path) -> None:
    bad = [rule("VR-EU-0001", True), {"Identifier": "VR-EU-0002", "Version": "1.0.0"}]
    (tmp_path / "rules.json").write_text(json.dumps(bad), encoding="utf-8")
    (tmp_path / "payload.json").write_text(json.dumps(PAYLOAD), encoding="utf-8")
    r = runner.invoke(
        app,
        ["healthcode", "rules", "evaluate", "--rules", str(tmp_path / "rules.json"), "--payload",
         str(tmp_path / "payload.json")],
    )  # fmt: skip
    assert r.exit_code == 1 and "rule 2 (VR-EU-0002): field 'Logic' is missing" in r.output
    (tmp_path / "rules.json").write_text("[{", encoding="utf-8")
    r = runner.invoke(
        app,
        ["healthcode", "rules", "evaluate", "--rules", str(tmp_path / "rules.json"), "--payload",
         str(tmp_path / "payload.json")],
    )  # fmt: skip
    assert r.exit_code == 1 and "line 1: not JSON" in r.output


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    path = tmp_path_factory.mktemp("rules-api")
    with TestClient(accord.app.create_app(Settings(data_dir=path))) as c:
        yield c


def test_the_same_over_http(client: TestClient) -> None:
    body = {"rules": RULES, "payload": PAYLOAD, "at": AT, "value_sets": VALUE_SETS}
    r = client.post("/api/v1/healthcode/rules/evaluate", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["passed"]
    assert [x["rule"] for x in r.json()["results"]] == ["VR-EU-0001", "VR-EU-0002", "VR-EU-0003"]
    failing = client.post("/api/v1/healthcode/rules/evaluate", json={**body, "value_sets": {}}).json()
    assert not failing["passed"] and failing["failing"] == ["VR-EU-0001"]
    bad = client.post("/api/v1/healthcode/rules/evaluate", json={**body, "rules": [{"Identifier": "X"}]})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert "field 'Logic' is missing" in bad.text

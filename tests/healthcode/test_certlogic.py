"""The CertLogic specification's own language-neutral test suite (1.3.3), plus our own edge cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from accord.healthcode import certlogic

SUITE = "certlogic/certlogic/specification/testSuite"


def load_assertions(data_dir: Path) -> list[tuple[str, Any, Any, Any, bool]]:
    out = []
    for path in sorted((data_dir / SUITE).glob("*.json")):
        suite = json.loads(path.read_text(encoding="utf-8"))
        for case in suite["cases"]:
            for i, a in enumerate(case["assertions"]):
                skip = "skip" in (suite.get("directive"), case.get("directive"), a.get("directive"))
                expr = a.get("certLogicExpression", case.get("certLogicExpression"))
                out.append((f"{path.name}:{case['name']}#{i}", expr, a["data"], a["expected"], skip))
    return out


def run(expr: Any, data: Any) -> Any:
    try:
        return certlogic.evaluate(expr, data)
    except certlogic.CertLogicError as exc:
        return f"error: {exc}"


@pytest.mark.shared_data
def test_specification_suite(data_dir: Path) -> None:
    assertions = load_assertions(data_dir)
    active = [a for a in assertions if not a[4]]
    assert (len(assertions), len(active)) == (232, 218)
    failures = [(name, run(e, d), x) for name, e, d, x, _ in active if json.dumps(run(e, d)) != json.dumps(x)]
    assert failures == [], failures[:5]


@pytest.mark.shared_data
def test_skipped_in_with_null_is_an_error(data_dir: Path) -> None:
    # the 4 skipped "ins with nulls" assertions expect false; the spec says it is an error, and so do we
    skipped = [a for a in load_assertions(data_dir) if a[4] and a[0].startswith("ins-with-nulls")]
    assert len(skipped) == 4
    for _, expr, data, _, _ in skipped:
        with pytest.raises(certlogic.CertLogicError, match="must be an array"):
            certlogic.evaluate(expr, data)


def test_plus_time_follows_javascript_dates() -> None:
    def iso(text: str, n: int, unit: str) -> str:
        return certlogic.plus_time(certlogic.parse_date_time(text), n, unit).isoformat()

    assert iso("2020-02-29", 1, "day") == "2020-03-01T00:00:00.000Z"
    assert iso("2020-02-29", 1, "month") == "2020-03-29T00:00:00.000Z"
    assert iso("2020-02-29", 1, "year") == "2021-03-01T00:00:00.000Z"
    assert iso("2021-01-31", 1, "month") == "2021-03-03T00:00:00.000Z"
    assert iso("2021-06-01T10:00:00+2", 0, "hour") == "2021-06-01T08:00:00.000Z"
    assert iso("2021-06-01T10:00:00.123456-0130", 0, "hour") == "2021-06-01T11:30:00.123Z"
    assert certlogic.parse_date_time("1990").isoformat() == "1990-12-31T00:00:00.000Z"
    assert certlogic.parse_date_time("2000-02").isoformat() == "2000-02-29T00:00:00.000Z"


def test_invalid_expressions_raise() -> None:
    for expr in (
        {"nope": [1]},
        {"if": [True, 1]},
        {"<": [1, "2"]},
        {"after": [1, 2]},
        {"and": [True]},
        None,
        {"var": "a", "if": []},
        {"plusTime": ["2021-13-99x", 1, "day"]},
    ):
        with pytest.raises(certlogic.CertLogicError):
            certlogic.evaluate(expr, {})

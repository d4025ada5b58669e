"""Status rules: the published rule set, the reference (per person) and column-wise evaluations agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.healthcode import rules

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def person(**kw: object) -> dict[str, object]:
    return {k: kw.get(k) for k in rules.INPUTS}


def test_colours_and_reasons() -> None:
    rs = rules.DEFAULT
    assert rules.evaluate_person(rs, person(), NOW).colour == "green"
    s = rules.evaluate_person(rs, person(case_status="confirmed", residence_risk="high"), NOW)
    assert (s.colour, s.reasons) == ("red", ("HC-R1", "HC-Y1"))
    q = rules.evaluate_person(rs, person(quarantine_until=NOW + timedelta(hours=5)), NOW)
    assert q.colour == "red" and q.valid_until == NOW + timedelta(hours=5)  # the code ends with the quarantine
    assert rules.evaluate_person(rs, person(quarantine_until=NOW - timedelta(hours=1)), NOW).colour == "green"
    t = rules.evaluate_person(rs, person(travel_risk="medium", travel_date=NOW - timedelta(days=13)), NOW)
    assert t.colour == "yellow" and t.reasons == ("HC-Y2",) and t.valid_until == NOW + timedelta(hours=12)
    t2 = rules.evaluate_person(rs, person(travel_risk="high", travel_date=NOW - timedelta(days=14, hours=-3)), NOW)
    assert t2.colour == "yellow" and t2.valid_until == NOW + timedelta(hours=3)  # the window closes first
    medium = person(residence_risk="medium")
    assert rules.evaluate_person(rs, medium, NOW).reasons == ("HC-Y4",)
    tested = {**medium, "test_result": "negative", "test_date": NOW - timedelta(days=2)}
    assert rules.evaluate_person(rs, tested, NOW).colour == "green"


def test_rule_set_validation() -> None:
    with pytest.raises(ValueError, match="colour"):
        rules.RuleSet.from_dict({"version": "x", "rules": [{"id": "a", "colour": "blue", "logic": True}]})
    with pytest.raises(ValueError):
        rules.RuleSet.from_dict({"version": "x", "rules": [{"id": "a", "colour": "red", "logic": {"zz": []}}]})
    again = rules.RuleSet.from_dict(rules.DEFAULT.as_dict())
    assert again == rules.DEFAULT


def random_frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    def dates(p: float) -> pd.Series:
        offs = rng.integers(-30 * 24, 30 * 24, n)
        vals = pd.Series(pd.Timestamp(NOW) + pd.to_timedelta(offs, unit="h"))
        return vals.where(rng.random(n) < p)

    def pick(options: list[str | None]) -> pd.Series:
        return pd.Series(np.array(options, dtype=object)[rng.integers(0, len(options), n)])

    return pd.DataFrame(
        {
            "case_status": pick([None, "none", "suspected", "confirmed", "recovered"]),
            "case_date": dates(0.5),
            "quarantine_until": dates(0.3),
            "residence_risk": pick([None, "low", "medium", "high"]),
            "travel_risk": pick([None, "low", "medium", "high"]),
            "travel_date": dates(0.4),
            "test_result": pick([None, "positive", "negative"]),
            "test_date": dates(0.5),
        }
    )


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_columnwise_equals_reference(seed: int) -> None:
    frame = random_frame(np.random.default_rng(seed), 60)
    if seed % 2:  # categorical inputs take the fast path; results must not change
        frame = frame.astype({c: "category" for c in ("case_status", "residence_risk", "travel_risk", "test_result")})
    got = rules.evaluate_frame(rules.DEFAULT, frame, NOW)
    for i, row in frame.iterrows():
        ref = rules.evaluate_person(rules.DEFAULT, {k: (None if pd.isna(v) else v) for k, v in row.items()}, NOW)
        assert got.loc[i, "colour"] == ref.colour, (row.to_dict(), ref)
        assert got.loc[i, "reasons"] == ";".join(ref.reasons)
        assert got.loc[i, "valid_until"].to_pydatetime() == ref.valid_until
        nc = got.loc[i, "next_change"]
        assert (None if pd.isna(nc) else nc.to_pydatetime()) == ref.next_change

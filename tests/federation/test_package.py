"""Packages and keys, pure: round trips, determinism, every refusal with its code."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.errors import AccordError
from accord.federation import keys, package
from accord.federation.keys import FederationSettings

PLACES = pd.DataFrame(
    [
        ("AA", "A", "", "country", "", 10),
        ("AA-01", "A1", "", "province", "AA", 5),
        ("AA-02", "A2", "", "province", "AA", None),
    ],
    columns=package.PLACE_COLUMNS,
)
NOW = datetime(2026, 3, 5, tzinfo=UTC)


def frame(values: list[float]) -> pd.DataFrame:
    n = len(values)
    return pd.DataFrame(
        {
            "jurisdiction": ["AA-01", "AA-02"] * (n // 2) + ["AA"] * (n % 2),
            "date": pd.date_range("2026-03-01", periods=n, freq="D"),
            "indicator": "new_confirmed",
            "disaggregation": "",
            "value": values,
            "reason": "",
        }
    )


def build(values: list[float], key=None, **kw) -> package.Built:  # type: ignore[no-untyped-def]
    args = dict(
        key=key or keys.generate(),
        sender="AA",
        receiver="WORLD",
        subtree="AA",
        start=date(2026, 3, 1),
        end=date(2026, 3, 9),
        indicators=["new_confirmed"],
        sequence=1,
        previous_id=None,
        revises=[],
        created_at=NOW,
        link=package.LinkConfig(),
    )
    args.update(kw)
    return package.build(frame(values), PLACES, **args)  # type: ignore[arg-type]


@settings(max_examples=15, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=40))
def test_round_trip_and_same_content_same_id(values: list[float]) -> None:
    key = keys.generate()
    built = build(values, key)
    again = build(values, key, created_at=NOW + timedelta(hours=3))
    assert built.id == again.id  # cut at another time: the same package
    opened = package.open_payload(built.payload)
    package.verify(opened, key.public_key())
    data = package.read_data(opened.data)
    assert data["value"].tolist() == values
    assert data["jurisdiction"].tolist() == frame(values)["jurisdiction"].tolist()
    package.check_scope(data, package.read_places(opened.places), "AA")
    assert build(values, key, sequence=2).id != built.id


def test_refusals_name_what_is_wrong() -> None:
    key = keys.generate()
    built = build([1, 2, 3], key)
    opened = package.open_payload(built.payload)
    with pytest.raises(AccordError) as err:
        package.verify(opened, keys.generate().public_key())
    assert err.value.problems[0].code == "bad_signature"
    for broken, code in (
        (built.payload[: len(built.payload) // 2], "malformed"),
        (
            package.pack({**opened.manifest, "sequence": "one"}, opened.signature, opened.data, opened.places),
            "malformed",
        ),
        (package.pack({k: v for k, v in opened.manifest.items() if k != "period"}, "", b"", b""), "malformed"),
    ):
        with pytest.raises(AccordError) as err:
            package.open_payload(broken)
        assert err.value.problems[0].code == code
    with pytest.raises(AccordError, match="ahead of this instance's clock"):
        package.check_clock(opened.manifest, NOW - timedelta(hours=1), 300)
    package.check_clock(opened.manifest, NOW - timedelta(seconds=100), 300)  # small skew is fine
    outside = frame([1, 2]).assign(jurisdiction=["AA-01", "BB-01"])
    with pytest.raises(AccordError, match="outside the sender's jurisdiction 'AA'"):
        package.check_scope(outside, PLACES, "AA")
    hijack = pd.concat([PLACES, pd.DataFrame([("BB-01", "B", "", "province", "BB", 1)], columns=package.PLACE_COLUMNS)])
    with pytest.raises(AccordError, match="not within 'AA'"):
        package.check_scope(frame([1]), hijack, "AA")


def test_link_config_selects_levels_and_suppresses_small_counts() -> None:
    rows = pd.DataFrame({"indicator": ["new_confirmed"] * 4 + ["new_deaths"], "value": [10, 2, 30, 0, 1.0]})
    depth = np.array([0, 1, 2, 1, 1])
    cfg = package.LinkConfig(depth=1, suppress_below=5, indicators=("new_confirmed",))
    kept = package.select_upward(rows, depth, cfg)
    assert kept["value"].tolist() == [10, 0]  # the 2 withheld, depth 2 not sent, deaths not chosen
    with pytest.raises(AccordError, match="invalid link configuration"):
        package.LinkConfig.from_dict({"view": "everything"})


def test_private_key_encrypted_at_rest_and_kek_rules() -> None:
    key = keys.generate()
    kek = b"x" * 40
    blob = keys.encrypt_private(key, kek)
    assert b"ENCRYPTED PRIVATE KEY" in blob
    assert keys.public_text(keys.decrypt_private(blob, kek)) == keys.public_text(key)
    with pytest.raises(AccordError, match="cannot be decrypted"):
        keys.decrypt_private(blob, b"y" * 40)
    with pytest.raises(AccordError, match="must be set"):
        FederationSettings(kek=None).kek_bytes("production")
    with pytest.raises(AccordError, match="at least 32"):
        FederationSettings(kek="short").kek_bytes("development")
    assert FederationSettings(kek="k" * 32).kek_bytes("production") == b"k" * 32


def test_retries_back_off_then_give_up_with_one_sentence() -> None:
    import httpx

    from accord.federation import transport

    slept: list[float] = []
    calls = {"n": 0}

    def flaky() -> dict[str, object]:
        calls["n"] += 1
        if calls["n"] < 3:
            raise httpx.ConnectError("connection reset")
        return {"status": "applied"}

    retry = transport.Retrying(attempts=4, base_seconds=0.5, sleep=slept.append)
    assert retry(flaky, "pushing") == {"status": "applied"}
    assert slept == [0.5, 1.0] and retry.retries == 2

    def dead() -> dict[str, object]:
        raise httpx.ConnectError("connection refused")

    with pytest.raises(AccordError, match="pushing failed after 3 attempts: connection refused"):
        transport.Retrying(attempts=3, base_seconds=10, cap_seconds=15, sleep=slept.append)(dead, "pushing")
    assert slept[2:] == [10, 15]  # capped

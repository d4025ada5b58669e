"""Health codes: issue and verify throughput per core beside pycose, and the 10-million-person daily update.

1. Issue = evaluate the rules + sign + encode, on the same payloads both ways. Ours: the rules column-wise for
   the batch, then ``codec.issue`` per person. Peer: the same rule evaluation, then pycose's ``Sign1Message``
   (ES256) + zlib + Base45 + prefix (pycose has no Base45; ours is used on both sides, so the comparison is
   the COSE/CBOR layer). The ``cwt`` package (which would be the other peer) does not import in this
   environment (it is not installed), so pycose is the peer.
2. Verify = prefix, Base45, inflate, COSE, CBOR, kid lookup, signature, expiry. Ours: ``codec.verify`` (with
   its extra checks: bounded inflate, canonical CBOR, r/s range). Peer: the same steps with pycose decoding and
   verifying the COSE_Sign1.
3. Status of N persons (default 10 million) after a day's new cases, contacts, tests, travel and risk-area
   changes: full evaluation vs incremental (only persons whose inputs changed, who live in an area whose risk
   level changed, or whose next date-driven change has come).

All single process, one core. The machine is shared: the load average is printed and recorded.

    uv run python benchmarks/healthcode_throughput.py [--codes 2000] [--persons 10000000]
"""

from __future__ import annotations

import argparse
import os
import time
import zlib
from datetime import UTC, datetime, timedelta

import cbor2
import numpy as np
import pandas as pd

from accord.healthcode import base45, codec, rules, trustlist
from common import machine, print_table, say, write_results

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
TEXT = {
    "case_status": (["none", "suspected", "confirmed", "recovered"], [0.985, 0.003, 0.004, 0.008]),
    "travel_risk": (["low", "medium", "high"], [0.6, 0.3, 0.1]),
    "test_result": (["negative", "positive"], [0.97, 0.03]),
}


def population(n: int, areas: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """A synthetic population: categorical texts, datetime64 dates, a residence area per person."""
    t0 = np.datetime64(NOW.replace(tzinfo=None), "ms")

    def dates(share: float, lo_days: int, hi_days: int) -> np.ndarray:
        out = np.full(n, np.datetime64("NaT"), dtype="datetime64[ms]")
        has = rng.random(n) < share
        hours = rng.integers(lo_days * 24, hi_days * 24, int(has.sum()))
        out[has] = t0 + hours.astype("timedelta64[h]")
        return out

    def cat(name: str, share: float) -> pd.Categorical:
        cats, p = TEXT[name]
        codes = rng.choice(len(cats), n, p=p).astype(np.int8)
        codes[rng.random(n) >= share] = -1
        return pd.Categorical.from_codes(codes, categories=cats)

    residence = rng.integers(0, areas, n).astype(np.int32)
    area_risk = rng.choice(3, areas, p=[0.9, 0.08, 0.02]).astype(np.int8)
    frame = pd.DataFrame(
        {
            "case_status": cat("case_status", 1.0),
            "case_date": dates(0.015, -60, 0),
            "quarantine_until": dates(0.02, -20, 14),
            "residence_risk": pd.Categorical.from_codes(area_risk[residence], categories=["low", "medium", "high"]),
            "travel_risk": cat("travel_risk", 0.05),
            "travel_date": dates(0.05, -30, 0),
            "test_result": cat("test_result", 0.3),
            "test_date": dates(0.3, -30, 0),
        }
    )
    return frame, residence, area_risk


def day_of_changes(
    frame: pd.DataFrame, residence: np.ndarray, area_risk: np.ndarray, now: datetime, rng: np.random.Generator
) -> np.ndarray:
    """Apply one day's new inputs in place; return the positions of persons whose inputs changed."""
    n = len(frame)
    t = np.datetime64(now.replace(tzinfo=None), "ms")
    # per 10 million: 20,000 new cases, 200,000 new close contacts, 300,000 test results, 100,000 travellers
    new_cases = rng.choice(n, n // 500, replace=False)
    contacts = rng.choice(n, n // 50, replace=False)
    tests = rng.choice(n, n * 3 // 100, replace=False)
    travellers = rng.choice(n, n // 100, replace=False)
    frame.loc[frame.index[new_cases], "case_status"] = "confirmed"
    frame.loc[frame.index[new_cases], "case_date"] = t
    frame.loc[frame.index[contacts], "quarantine_until"] = t + np.timedelta64(14, "D")
    frame.loc[frame.index[tests], "test_result"] = "negative"
    frame.loc[frame.index[tests], "test_date"] = t
    frame.loc[frame.index[travellers], "travel_risk"] = "medium"
    frame.loc[frame.index[travellers], "travel_date"] = t
    changed_areas = rng.choice(len(area_risk), 30, replace=False)
    area_risk[changed_areas] = (area_risk[changed_areas] + 1) % 3
    in_changed = np.isin(residence, changed_areas)
    frame["residence_risk"] = pd.Categorical.from_codes(area_risk[residence], categories=["low", "medium", "high"])
    mask = in_changed
    for idx in (new_cases, contacts, tests, travellers):
        mask[idx] = True
    return np.flatnonzero(mask)


def bench_status(n: int) -> dict[str, float]:
    rng = np.random.default_rng(11)
    say(f"building {n:,} persons ...")
    frame, residence, area_risk = population(n, 3_000, rng)
    t0 = time.perf_counter()
    first = rules.evaluate_frame(rules.DEFAULT, frame, NOW)
    full = time.perf_counter() - t0
    # the state kept between days: plain arrays (colour code, fired-rule bits, next date-driven change)
    colour = first["colour"].cat.codes.to_numpy().copy()
    bits = first["reason_bits"].to_numpy().copy()
    next_change = first["next_change"].dt.tz_convert(None).to_numpy().copy()
    del first
    say(f"full evaluation: {full:.1f} s")
    tomorrow = NOW + timedelta(days=1)
    changed = day_of_changes(frame, residence, area_risk, tomorrow, rng)
    t0 = time.perf_counter()
    due_mask = next_change <= np.datetime64(tomorrow.replace(tzinfo=None), "ms")
    due = int(due_mask.sum())
    due_mask[changed] = True  # a mask, not a sorted union: linear
    todo = np.flatnonzero(due_mask)
    fresh = rules.evaluate_frame(rules.DEFAULT, frame.iloc[todo], tomorrow)
    colour[todo] = fresh["colour"].cat.codes.to_numpy()
    bits[todo] = fresh["reason_bits"].to_numpy()
    next_change[todo] = fresh["next_change"].dt.tz_convert(None).to_numpy()
    incremental = time.perf_counter() - t0
    say(f"incremental: {len(todo):,} persons re-evaluated in {incremental:.1f} s")
    t0 = time.perf_counter()
    check = rules.evaluate_frame(rules.DEFAULT, frame.iloc[todo[:200_000]], tomorrow)
    full_day2_rate = len(check) / (time.perf_counter() - t0)
    assert (check["colour"].cat.codes.to_numpy() == colour[todo[:200_000]]).all()
    t0 = time.perf_counter()
    everyone = rules.evaluate_frame(rules.DEFAULT, frame, tomorrow)
    full_day2 = time.perf_counter() - t0
    # the incremental state equals a full re-evaluation of everybody on day 2
    assert (everyone["colour"].cat.codes.to_numpy() == colour).all()
    assert (everyone["reason_bits"].to_numpy() == bits).all()
    return {
        "persons": n,
        "full_s": full,
        "full_day2_s": full_day2,
        "incremental_s": incremental,
        "reevaluated": len(todo),
        "changed_inputs": len(changed),
        "due_by_time": due,
        "persons_per_s": full_day2_rate,
    }


def pycose_issue_verify(payloads: list[bytes], key: object, pub: object, kid: bytes) -> tuple[float, float, list[str]]:
    from pycose.algorithms import Es256
    from pycose.headers import KID, Algorithm
    from pycose.keys import EC2Key
    from pycose.messages import Sign1Message

    priv = EC2Key._from_cryptography_key(key)
    public = EC2Key._from_cryptography_key(pub)
    t0 = time.perf_counter()
    codes = []
    for p in payloads:
        msg = Sign1Message(phdr={Algorithm: Es256, KID: kid}, payload=p)
        msg.key = priv
        codes.append("AC1:" + base45.encode(zlib.compress(msg.encode(), 9)))
    issue = time.perf_counter() - t0
    t0 = time.perf_counter()
    now = NOW.timestamp()
    for c in codes:
        raw = zlib.decompress(base45.decode(c[4:]))
        # pycose's Sign1Message.decode expects a list and a dict inside the tag, and this cbor2 gives a tuple and
        # a frozendict there: do the same two steps it does (cbor2.loads, from_cose_obj) with mutable copies
        parts = list(cbor2.loads(raw).value)
        parts[1] = dict(parts[1])
        msg = Sign1Message.from_cose_obj(parts, True)
        assert msg.phdr[KID] == kid
        msg.key = public
        assert msg.verify_signature()
        claims = cbor2.loads(msg.payload)
        assert claims[codec.CLAIM_EXP] > now
    return issue, time.perf_counter() - t0, codes


def bench_codec(count: int) -> dict[str, float]:
    rng = np.random.default_rng(5)
    frame, _, _ = population(count, 50, rng)
    root_key = trustlist.new_key()
    root = trustlist.root_certificate(root_key, "AR", now=NOW - timedelta(days=1))
    key = trustlist.new_key()
    cert = trustlist.issuer_certificate(root_key, root, key.public_key(), "AR-01", now=NOW - timedelta(days=1))
    kid = codec.kid_of(cert)
    trust = codec.Trust.from_certificates([cert])

    t0 = time.perf_counter()
    status = rules.evaluate_frame(rules.DEFAULT, frame, NOW)
    evaluate = time.perf_counter() - t0
    claims = [codec.HealthClaim(str(c), "2026.1", "AR-01", "JD", "07-14") for c in status["colour"]]
    t0 = time.perf_counter()
    ours = [
        codec.issue(c, issuer="AR-01", private_key=key, kid=kid, issued_at=NOW, validity=timedelta(hours=12))
        for c in claims
    ]
    ours_issue = time.perf_counter() - t0 + evaluate
    t0 = time.perf_counter()
    for code in ours:
        assert codec.verify(code, trust, NOW).valid
    ours_verify = time.perf_counter() - t0

    # the same payloads for the peer: exactly the CBOR our codes carry
    payloads = [cbor2.loads(codec.decode(c).cose.payload) for c in ours]
    payload_bytes = [cbor2.dumps(p, canonical=True) for p in payloads]
    peer_issue, peer_verify, peer_codes = pycose_issue_verify(payload_bytes, key, key.public_key(), kid)
    peer_issue += evaluate
    # interoperability: our verifier accepts every pycose-made code
    assert all(codec.verify(c, trust, NOW).valid for c in peer_codes[:200])
    return {
        "codes": count,
        "evaluate_s": evaluate,
        "ours_issue_per_s": count / ours_issue,
        "pycose_issue_per_s": count / peer_issue,
        "ours_verify_per_s": count / ours_verify,
        "pycose_verify_per_s": count / peer_verify,
        "issue_ratio": peer_issue / ours_issue,
        "verify_ratio": peer_verify / ours_verify,
        "code_chars": float(np.mean([len(c) for c in ours])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--codes", type=int, default=2000)
    parser.add_argument("--persons", type=int, default=10_000_000)
    args = parser.parse_args()
    say(f"load average {os.getloadavg()} on {os.cpu_count()} cores (shared machine)")
    c = bench_codec(args.codes)
    print_table(
        f"Issue and verify, one core, {args.codes:,} codes (ES256)",
        ["operation", "ours / s", "pycose / s", "ours vs pycose (x)"],
        [
            ["issue (evaluate + sign + encode)", c["ours_issue_per_s"], c["pycose_issue_per_s"], c["issue_ratio"]],
            [
                "verify (decode + check + signature)",
                c["ours_verify_per_s"],
                c["pycose_verify_per_s"],
                c["verify_ratio"],
            ],
        ],
    )
    s = bench_status(args.persons)
    print_table(
        f"Status of {s['persons']:,} persons after one day",
        ["what", "seconds", "persons"],
        [
            ["full evaluation, day 1", s["full_s"], s["persons"]],
            ["full evaluation, day 2 (for comparison)", s["full_day2_s"], s["persons"]],
            ["incremental (changed inputs + due by time)", s["incremental_s"], s["reevaluated"]],
        ],
    )
    write_results(
        "healthcode_throughput",
        {
            "codec": c,
            "status": s,
            "load_after": machine()["load_average_1_5_15"],
            "cwt_package": "not importable here (not installed)",
        },
    )


if __name__ == "__main__":
    main()

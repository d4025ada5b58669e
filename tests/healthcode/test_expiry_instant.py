"""The exact expiry instant: EU certificates (HC1) are valid there, as the EU test harness checks
(``validation_clock <= expiry``); our own codes (AC1) are not, as RFC 8392 says ("the current date/time MUST be
before the expiration date/time")."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cbor2
import pytest
from cryptography import x509

from accord.healthcode import codec, dcc_vectors
from tests.healthcode.keyring import NOW, keyring

ONE_SECOND = timedelta(seconds=1)


def _at(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@pytest.mark.shared_data
def test_eu_certificates_are_valid_at_their_expiry_instant_and_expired_a_second_later(data_dir: Path) -> None:
    checked = 0
    for name, vec in dcc_vectors.vectors(data_dir / "eu-dcc-testdata"):
        expected = vec.get("EXPECTEDRESULTS", {})
        if not (expected.get("EXPECTEDVERIFY") and expected.get("EXPECTEDEXPIRATIONCHECK") and "PREFIX" in vec):
            continue
        cert = x509.load_der_x509_certificate(base64.b64decode(vec["TESTCTX"]["CERTIFICATE"]))
        trust = codec.Trust.from_certificates([cert])
        if not codec.verify(vec["PREFIX"], trust, dcc_vectors._clock(vec)).valid:
            continue  # invalid for another reason (key usage, ...): not a test of the clock
        exp = codec.decode(vec["PREFIX"]).claims[codec.CLAIM_EXP]
        if _at(exp) > cert.not_valid_after_utc:
            continue  # the signing certificate ends first: its own end decides
        at_expiry = codec.verify(vec["PREFIX"], trust, _at(exp))
        assert at_expiry.valid, (name, at_expiry.sentence())
        after = codec.verify(vec["PREFIX"], trust, _at(exp) + ONE_SECOND)
        assert after.reason is codec.Reason.EXPIRED, (name, after.sentence())
        checked += 1
    assert checked >= 100


@pytest.mark.shared_data
def test_the_harness_expiration_stage_agrees_at_the_instant(data_dir: Path) -> None:
    """The vector check behind the agreement table, with each positive vector's clock moved to its expiry."""
    moved = 0
    for _, vec in dcc_vectors.vectors(data_dir / "eu-dcc-testdata"):
        if not vec.get("EXPECTEDRESULTS", {}).get("EXPECTEDEXPIRATIONCHECK") or "COSE" not in vec:
            continue
        if dcc_vectors.run_stage("EXPECTEDEXPIRATIONCHECK", vec)[0] is not True:
            continue
        cose = codec.parse_cose(bytes.fromhex(vec["COSE"]), require_tag=False)
        exp = codec.parse_claims(cose.payload, ours=False)[codec.CLAIM_EXP]
        at_exp = {**vec, "TESTCTX": {**vec["TESTCTX"], "VALIDATIONCLOCK": _at(exp).isoformat()}}
        if _at(exp) > dcc_vectors._certificate(vec).not_valid_after_utc:
            continue
        assert dcc_vectors.run_stage("EXPECTEDEXPIRATIONCHECK", at_exp) == (True, "")
        moved += 1
    assert moved >= 100


def test_our_codes_expire_at_the_instant_as_rfc_8392_says() -> None:
    ring = keyring()
    code = ring.code(at=NOW, hours=12)
    exp = NOW + timedelta(hours=12)
    assert codec.verify(code, ring.trust(), exp - ONE_SECOND).valid
    at_expiry = codec.verify(code, ring.trust(), exp)
    assert at_expiry.reason is codec.Reason.EXPIRED and at_expiry.stage is codec.Stage.TIME
    # the issue instant is inside the validity for both kinds
    assert codec.verify(code, ring.trust(), NOW).valid


def test_an_eu_certificate_of_our_own_making_is_valid_at_expiry() -> None:
    """The same rule on an HC1 code we sign ourselves (no shared data needed)."""
    ring = keyring()
    iat = int(NOW.timestamp())
    claims = {codec.CLAIM_ISS: "AR", codec.CLAIM_IAT: iat, codec.CLAIM_EXP: iat + 3600, codec.CLAIM_HCERT: {1: {}}}
    code = codec.encode_cose(
        cbor2.dumps(claims),
        private_key=ring.issuer_key,
        kid=codec.kid_of(ring.issuer),
        alg=codec.ES256,
        prefix=codec.EU_PREFIX,
    )
    assert codec.verify(code, ring.trust(), _at(iat + 3600)).valid
    assert codec.verify(code, ring.trust(), _at(iat + 3601)).reason is codec.Reason.EXPIRED

"""EU DCC interoperability: our verifier agrees with the dgc-testdata expectations, stage by stage."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography import x509

from accord.healthcode import codec, dcc_vectors

ROOT = "eu-dcc-testdata"


@pytest.mark.shared_data
def test_agreement_per_stage(data_dir: Path) -> None:
    outcomes = dcc_vectors.evaluate(data_dir / ROOT)
    disagree = [o for o in outcomes if o.got is not None and not o.known_issue and o.got != o.expected]
    assert disagree == [], disagree[:5]
    table = {r["stage"]: r for r in dcc_vectors.agreement_table(outcomes)}
    for stage in ("VERIFY", "B45DECODE", "COMPRESSION", "UNPREFIX", "EXPIRATIONCHECK", "KEYUSAGE", "PICTUREDECODE"):
        assert (table[stage]["agree"] > 0 and table[stage]["expected_false"] > 0) or stage == "VALIDJSON"
    assert table["VERIFY"]["agree"] == table["VERIFY"]["vectors"] == 405
    # every disputed expectation is explained
    assert all(o.known_issue for o in outcomes if (o.vector, o.stage) in dcc_vectors.DISPUTED)


@pytest.mark.shared_data
def test_full_verifier_on_every_positive_vector(data_dir: Path) -> None:
    """codec.verify end to end (prefix to time) with the vector's certificate as the trust list."""
    checked = 0
    for name, vec in dcc_vectors.vectors(data_dir / ROOT):
        exp = vec.get("EXPECTEDRESULTS", {})
        if not (
            exp.get("EXPECTEDVERIFY")
            and exp.get("EXPECTEDEXPIRATIONCHECK")
            and exp.get("EXPECTEDUNPREFIX")
            and exp.get("EXPECTEDB45DECODE")
            and exp.get("EXPECTEDKEYUSAGE", True)
            and "PREFIX" in vec
        ):
            continue
        cert = x509.load_der_x509_certificate(base64.b64decode(vec["TESTCTX"]["CERTIFICATE"]))
        trust = codec.Trust.from_certificates([cert])
        v = codec.verify(vec["PREFIX"], trust, dcc_vectors._clock(vec))
        if "EXPECTEDKEYUSAGE" not in exp and v.reason is codec.Reason.WRONG_KEY_USAGE:
            continue  # key usage not asserted by the vector; the certificate's OIDs exclude this type
        assert v.valid, (name, v.sentence())
        assert v.claims["kind"] == "eu-dcc" and v.claims["dcc"]
        # the same certificate, revoked in our trust list: the reason says so
        revoked = codec.Trust.from_certificates([cert], revoked=[codec.kid_of(cert)])
        assert codec.verify(vec["PREFIX"], revoked, dcc_vectors._clock(vec)).reason is codec.Reason.REVOKED_ISSUER
        checked += 1
    assert checked > 250


def test_known_issue_matching() -> None:
    issues = {("NL", "", "test_cose_schema"), ("BG", "1", "test_cose_schema")}
    assert dcc_vectors.is_known_issue(issues, "NL/2DCode/raw/7.json", "EXPECTEDSCHEMAVALIDATION")
    assert dcc_vectors.is_known_issue(issues, "BG/2DCode/raw/1.json", "EXPECTEDSCHEMAVALIDATION")
    assert not dcc_vectors.is_known_issue(issues, "BG/2DCode/raw/2.json", "EXPECTEDSCHEMAVALIDATION")
    assert not dcc_vectors.is_known_issue(issues, "NL/2DCode/raw/7.json", "EXPECTEDVERIFY")
    assert json.dumps(dcc_vectors.as_json({1: b"x"[:0] or "a"})) == '{"1": "a"}'

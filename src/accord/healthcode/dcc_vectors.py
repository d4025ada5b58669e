"""Run our verifier over the EU DCC test vectors (dgc-testdata) stage by stage and count agreement.

Each vector carries every stage of the hcert pipeline and ``EXPECTEDRESULTS`` flags; for each flag present we
compute our own answer from the vector's inputs with our codec (never from the flag) and compare. The stages
(see the upstream README for their definitions):

========================  ====================================================================================
PICTUREDECODE             the QR PNG decodes (zxing-cpp) to the ``PREFIX`` text
UNPREFIX                  ``PREFIX`` starts with ``HC1:`` and the rest equals ``BASE45``
B45DECODE                 our Base45 decoder accepts ``BASE45`` and gives ``COMPRESSED``
COMPRESSION               our bounded zlib inflate accepts ``COMPRESSED`` and gives ``COSE``
VERIFY                    ``COSE`` is a well-formed COSE_Sign1 whose kid and signature match ``CERTIFICATE``
DECODE                    the CWT payload inside ``COSE`` decodes and equals ``CBOR`` (decoded, compared as data)
VALIDJSON                 the whole chain from ``PREFIX`` decodes and its DCC equals ``JSON``
ENCODE                    ``JSON`` encoded as CBOR equals the DCC in ``CBOR`` (compared as data, map order aside)
EXPIRATIONCHECK           at ``VALIDATIONCLOCK`` the CWT is neither expired nor not yet valid
KEYUSAGE                  the certificate's EU key-usage OIDs allow the DCC's type (t / v / r)
========================  ====================================================================================

``EXPECTEDSCHEMAVALIDATION`` and ``EXPECTEDVALIDOBJECT`` need the DCC JSON schema, which the data set does not
include: they are counted as *not evaluated*. The upstream ``known_issues.csv`` lists vectors whose expectation
is disputed; we report them in their own column instead of silently passing or failing them.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import cbor2
from cryptography import x509

from accord.healthcode import codec

STAGES = (
    "EXPECTEDPICTUREDECODE",
    "EXPECTEDUNPREFIX",
    "EXPECTEDB45DECODE",
    "EXPECTEDCOMPRESSION",
    "EXPECTEDVERIFY",
    "EXPECTEDDECODE",
    "EXPECTEDVALIDJSON",
    "EXPECTEDENCODE",
    "EXPECTEDEXPIRATIONCHECK",
    "EXPECTEDKEYUSAGE",
    "EXPTECTEDEXPIRED",  # sic: a misspelt flag four upstream vectors use; true means "is expired"
    "EXPECTEDSCHEMAVALIDATION",
    "EXPECTEDVALIDOBJECT",
)


@dataclass(frozen=True)
class Outcome:
    vector: str  # "AT/2DCode/raw/1.json"
    stage: str
    expected: bool
    got: bool | None  # None: not evaluated
    known_issue: bool
    detail: str = ""


def vectors(root: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(root.glob("*/2DCode/raw/*.json")):
        yield str(path.relative_to(root)), json.loads(path.read_text(encoding="utf-8"))


def known_issues(root: Path) -> set[tuple[str, str, str]]:
    """(country, test set or '' for the whole country, harness test name)."""
    path = root / "known_issues.csv"
    if not path.exists():
        return set()
    rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
    return {(r["country"], r["test_set"], r["test_name"]) for r in rows}


#: which upstream harness test checks which flag (for matching known_issues.csv)
HARNESS_TEST = {
    "EXPECTEDSCHEMAVALIDATION": "test_cose_schema",
    "EXPECTEDVERIFY": "test_verification_check",
    "EXPECTEDEXPIRATIONCHECK": "test_expiration_check",
    "EXPECTEDKEYUSAGE": "test_expected_key_usage",
    "EXPECTEDVALIDJSON": "test_cose_json",
    "EXPECTEDDECODE": "test_cbor_json",
}


#: vectors whose expectation we believe contradicts the hcert specification, with why (ours, beside upstream's list)
DISPUTED = {
    ("IS/2DCode/raw/3.json", "EXPECTEDKEYUSAGE"): (
        "the certificate carries no EU key-usage OID; hcert 1.0.5 section 5.1.1 says such a key may sign every "
        "certificate type, so key usage passes (the vector's own description says 'valid, no key usage')"
    ),
}


def is_known_issue(issues: set[tuple[str, str, str]], vector: str, stage: str) -> bool:
    if (vector, stage) in DISPUTED:
        return True
    country, stem = vector.split("/")[0], Path(vector).stem
    test = HARNESS_TEST.get(stage)
    return test is not None and ((country, stem, test) in issues or (country, "", test) in issues)


def _certificate(vec: dict[str, Any]) -> x509.Certificate:
    der = base64.b64decode(vec["TESTCTX"]["CERTIFICATE"])
    return x509.load_der_x509_certificate(der)


def _clock(vec: dict[str, Any]) -> datetime:
    text = vec["TESTCTX"]["VALIDATIONCLOCK"].replace("Z", "+00:00")
    at = datetime.fromisoformat(text)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def as_json(value: Any) -> Any:
    """CBOR data as the JSON the vectors hold: dates as ISO text, numbers as floats where integral ones match."""
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, cbor2.CBORTag):
        return as_json(value.value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def _same_json(a: Any, b: Any) -> bool:
    return json.dumps(as_json(a), sort_keys=True) == json.dumps(as_json(b), sort_keys=True)


def _dcc(claims: dict[Any, Any]) -> Any:
    hcert = claims.get(codec.CLAIM_HCERT)
    return hcert.get(1) if isinstance(hcert, dict) else None


def _picture(vec: dict[str, Any]) -> bool:
    import zxingcpp
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(base64.b64decode(vec["2DCODE"])))
        image.load()
        found = zxingcpp.read_barcodes(image)
    except Exception:
        return False
    return any(r.text == vec["PREFIX"] for r in found)


def _unprefix(vec: dict[str, Any]) -> bool:
    try:
        context, text = codec.unprefix(vec["PREFIX"])
    except codec.CodecFailure:
        return False
    return context == codec.EU_PREFIX and ("BASE45" not in vec or text == vec["BASE45"])


def _b45(vec: dict[str, Any]) -> bool:
    raw = codec.b45decode(vec["BASE45"])
    return "COMPRESSED" not in vec or raw == bytes.fromhex(vec["COMPRESSED"])


def _compression(vec: dict[str, Any]) -> bool:
    return codec.decompress(bytes.fromhex(vec["COMPRESSED"])) == bytes.fromhex(vec["COSE"])


def _verify(vec: dict[str, Any]) -> bool:
    cose = codec.parse_cose(bytes.fromhex(vec["COSE"]), require_tag=False)
    claims = codec.parse_claims(cose.payload, ours=False)
    if _dcc(claims) is None:
        raise codec.CodecFailure(codec.Reason.BAD_CBOR, codec.Stage.CBOR, "no hcert claim (-260/1)")
    key = codec.trusted_key(_certificate(vec))
    codec.check_algorithm(cose, key)
    if cose.kid != key.kid:
        raise codec.CodecFailure(codec.Reason.UNKNOWN_KEY, codec.Stage.KEY, "kid does not match the certificate")
    codec.check_signature(cose, key)
    return True


def _decode(vec: dict[str, Any]) -> bool:
    cose = codec.parse_cose(bytes.fromhex(vec["COSE"]), require_tag=False)
    claims = codec.parse_claims(cose.payload, ours=False)
    dcc = _dcc(claims)
    if dcc is None:
        return False
    expected = cbor2.loads(bytes.fromhex(vec["CBOR"])) if vec.get("CBOR") else None
    same_cbor = expected is None or _same_json(dcc, expected) or _same_json(claims, expected)
    return same_cbor and ("JSON" not in vec or _same_json(dcc, vec["JSON"]))


def _validjson(vec: dict[str, Any]) -> bool:
    decoded = codec.decode(vec["PREFIX"])
    return _same_json(_dcc(decoded.claims), vec["JSON"])


def _encode(vec: dict[str, Any]) -> bool:
    ours = cbor2.loads(cbor2.dumps(vec["JSON"]))
    theirs = cbor2.loads(bytes.fromhex(vec["CBOR"]))
    # some vectors hold the bare DCC in CBOR, others the whole CWT claims map around it
    dcc = _dcc(theirs) if isinstance(theirs, dict) and codec.CLAIM_HCERT in theirs else theirs
    return _same_json(ours, dcc)


def _expiration(vec: dict[str, Any]) -> bool:
    cose = codec.parse_cose(bytes.fromhex(vec["COSE"]), require_tag=False)
    claims = codec.parse_claims(cose.payload, ours=False)
    key = codec.trusted_key(_certificate(vec))
    codec.check_time(claims, _clock(vec), key, context=codec.EU_PREFIX)
    return True


def _key_usage(vec: dict[str, Any]) -> bool:
    cose = codec.parse_cose(bytes.fromhex(vec["COSE"]), require_tag=False)
    claims = codec.parse_claims(cose.payload, ours=False)
    key = codec.trusted_key(_certificate(vec))
    kinds = {k for k in ("v", "t", "r") if (_dcc(claims) or {}).get(k)}
    return key.usage is None or kinds <= key.usage


CHECKS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "EXPECTEDPICTUREDECODE": _picture,
    "EXPECTEDUNPREFIX": _unprefix,
    "EXPECTEDB45DECODE": _b45,
    "EXPECTEDCOMPRESSION": _compression,
    "EXPECTEDVERIFY": _verify,
    "EXPECTEDDECODE": _decode,
    "EXPECTEDVALIDJSON": _validjson,
    "EXPECTEDENCODE": _encode,
    "EXPECTEDEXPIRATIONCHECK": _expiration,
    "EXPECTEDKEYUSAGE": _key_usage,
}

#: the fields a stage reads (upstream README, "Mandatory Fields"); a vector lacking one is not evaluated there
NEEDS = {
    "EXPECTEDPICTUREDECODE": ("2DCODE", "PREFIX"),
    "EXPECTEDUNPREFIX": ("PREFIX",),
    "EXPECTEDB45DECODE": ("BASE45",),
    "EXPECTEDCOMPRESSION": ("COMPRESSED", "COSE"),
    "EXPECTEDVERIFY": ("COSE",),
    "EXPECTEDDECODE": ("COSE",),
    "EXPECTEDVALIDJSON": ("PREFIX", "JSON"),
    "EXPECTEDENCODE": ("JSON", "CBOR"),
    "EXPECTEDEXPIRATIONCHECK": ("COSE",),
    "EXPECTEDKEYUSAGE": ("COSE",),
}
NOT_RUN = {
    "EXPECTEDSCHEMAVALIDATION": "the DCC JSON schema is not in the data set",
    "EXPECTEDVALIDOBJECT": "the DCC JSON schema is not in the data set",
    "EXPTECTEDEXPIRED": "misspelt flag that the upstream harness never reads",
}


def run_stage(stage: str, vec: dict[str, Any]) -> tuple[bool | None, str]:
    check = CHECKS.get(stage)
    if check is None:
        return None, NOT_RUN.get(stage, "unknown flag")
    missing = [f for f in NEEDS.get(stage, ()) if not vec.get(f)]
    if missing:
        return None, f"input {', '.join(missing)} missing from the vector"
    try:
        return bool(check(vec)), ""
    except codec.CodecFailure as f:
        return False, f"{f.reason.value}: {f.detail}"
    except (KeyError, ValueError, TypeError) as exc:
        return False, f"{type(exc).__name__}: {exc}"


def evaluate(root: Path, *, pictures: bool = True) -> list[Outcome]:
    issues = known_issues(root)
    out: list[Outcome] = []
    for name, vec in vectors(root):
        for stage, expected in vec.get("EXPECTEDRESULTS", {}).items():
            if stage == "EXPECTEDPICTUREDECODE" and not pictures:
                continue
            got, detail = run_stage(stage, vec)
            out.append(Outcome(name, stage, bool(expected), got, is_known_issue(issues, name, stage), detail))
    return out


def agreement_table(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    rows = []
    order = {s: i for i, s in enumerate(STAGES)}
    for stage in sorted({o.stage for o in outcomes}, key=lambda s: order.get(s, 99)):
        mine = [o for o in outcomes if o.stage == stage]
        judged = [o for o in mine if o.got is not None and not o.known_issue]
        rows.append(
            {
                "stage": stage.removeprefix("EXPECTED").removeprefix("EXPTECTED"),
                "vectors": len(mine),
                "expected_true": sum(o.expected for o in mine),
                "expected_false": sum(not o.expected for o in mine),
                "agree": sum(o.got == o.expected for o in judged),
                "disagree": sum(o.got != o.expected for o in judged),
                "known_issue": sum(o.known_issue for o in mine),
                "not_evaluated": sum(o.got is None and not o.known_issue for o in mine),
            }
        )
    return rows

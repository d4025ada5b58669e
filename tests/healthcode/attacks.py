"""Attacks on a code, made with a given issuer key: the same corpus for the Python, Node and browser checks."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from accord.healthcode import base45, codec

CLAIM = codec.HealthClaim("yellow", "2026.1", "AR-01", "YC", "05-06")


def pack(parts: list[object]) -> str:
    return "AC1:" + base45.encode(zlib.compress(cbor2.dumps(cbor2.CBORTag(18, parts))))


def attack_corpus(key: ec.EllipticCurvePrivateKey, kid: bytes) -> dict[str, str]:
    now = datetime.now(UTC)
    good = codec.issue(
        CLAIM,
        issuer="AR-01",
        private_key=key,
        kid=kid,
        issued_at=now - timedelta(minutes=1),
        validity=timedelta(hours=12),
    )
    prot, _, payload, sig = list(cbor2.loads(codec.decompress(base45.decode(good[4:]))).value)
    claims = cbor2.loads(payload)
    red = dict(claims)
    red[codec.CLAIM_ACCORD] = {**claims[codec.CLAIM_ACCORD], 1: "green"}
    der = key.sign(codec.sig_structure(prot, payload), ec.ECDSA(hashes.SHA256()))
    loose = cbor2.dumps({k: claims[k] for k in sorted(claims, key=lambda k: -abs(k))})
    wrong_alg = cbor2.dumps({1: -35, 4: kid}, canonical=True)
    stranger = ec.generate_private_key(ec.SECP256R1())
    return {
        "valid": good,
        "tampered payload": pack([prot, {}, cbor2.dumps(red, canonical=True), sig]),
        "tampered header": pack([cbor2.dumps({1: -7, 4: kid, 3: 0}, canonical=True), {}, payload, sig]),
        "DER signature": pack([prot, {}, payload, der]),
        "zero signature": pack([prot, {}, payload, bytes(64)]),
        "wrong algorithm": pack(
            [wrong_alg, {}, payload, codec.sign(key, codec.ES256, codec.sig_structure(wrong_alg, payload))]
        ),
        "unknown key": codec.issue(
            CLAIM, issuer="XX", private_key=stranger, kid=b"\x09" * 8, issued_at=now, validity=timedelta(hours=1)
        ),
        "bad prefix": "HC2:" + good[4:],
        "truncated": good[:-1],
        "zlib bomb": "AC1:" + base45.encode(zlib.compress(b"\0" * 100_000)),
        "non-canonical": pack([prot, {}, loose, codec.sign(key, codec.ES256, codec.sig_structure(prot, loose))]),
        "expired": codec.issue(
            CLAIM,
            issuer="AR-01",
            private_key=key,
            kid=kid,
            issued_at=now - timedelta(hours=13),
            validity=timedelta(hours=12),
        ),
        "not yet valid": codec.issue(
            CLAIM,
            issuer="AR-01",
            private_key=key,
            kid=kid,
            issued_at=now + timedelta(hours=2),
            validity=timedelta(hours=12),
        ),
    }

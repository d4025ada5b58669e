"""Multi-level signing keys and the signed trust list (pure: cryptography only, no database).

A national root key certifies the issuer keys of provinces and cities (X.509, ECDSA P-256). The trust list is
a JSON document naming every issuer key (kid, jurisdiction, certificate, status) and signed by the root::

    {"alg": "ES256", "signed": "<the body, exact JSON text>", "signature": "<base64 of raw r||s>"}

The body is kept as text so a verifier (this module or the offline web page with WebCrypto) checks the
signature over exactly the bytes that were signed, with no canonicalisation to agree on. Each EC entry also
carries its public point (``x``, ``y``, base64url) so the page needs no X.509 parser; both sit inside the
signed text. A compromised key is listed with status ``revoked``: verifiers then answer *revoked issuer*.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from accord.healthcode import codec

FORMAT = "accord-trustlist/1"
STATUSES = ("active", "retired", "revoked")


class TrustListError(ValueError):
    """The trust list cannot be trusted; the message says why."""


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common: str, jurisdiction: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, jurisdiction),
        ]
    )


def root_certificate(
    key: ec.EllipticCurvePrivateKey, jurisdiction: str, *, now: datetime, years: int = 10
) -> x509.Certificate:
    name = _name(f"Accord health-code root {jurisdiction}", jurisdiction)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )


def issuer_certificate(
    root_key: ec.EllipticCurvePrivateKey,
    root_cert: x509.Certificate,
    public_key: ec.EllipticCurvePublicKey,
    jurisdiction: str,
    *,
    now: datetime,
    days: int = 365,
) -> x509.Certificate:
    """The root certifies one issuer (province, city) key."""
    return (
        x509.CertificateBuilder()
        .subject_name(_name(f"Accord health-code issuer {jurisdiction}", jurisdiction))
        .issuer_name(root_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .sign(root_key, hashes.SHA256())
    )


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(der(cert)).hexdigest()


def _b64url(n: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes(32, "big")).rstrip(b"=").decode()


@dataclass(frozen=True)
class Entry:
    certificate: x509.Certificate
    jurisdiction: str
    status: str = "active"

    def as_dict(self) -> dict[str, Any]:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        key = self.certificate.public_key()
        out: dict[str, Any] = {
            "kid": codec.kid_of(self.certificate).hex(),
            "jurisdiction": self.jurisdiction,
            "status": self.status,
            "not_after": self.certificate.not_valid_after_utc.isoformat(),
            "certificate": base64.b64encode(der(self.certificate)).decode(),
        }
        if isinstance(key, ec.EllipticCurvePublicKey):
            nums = key.public_numbers()
            out.update(kty="EC", crv="P-256", x=_b64url(nums.x), y=_b64url(nums.y))
        return out


def sign_trust_list(
    entries: Iterable[Entry],
    *,
    root_key: ec.EllipticCurvePrivateKey,
    root_cert: x509.Certificate,
    version: int,
    issued_at: datetime,
) -> str:
    body = {
        "format": FORMAT,
        "version": version,
        "issued_at": issued_at.astimezone(UTC).isoformat(),
        "root": base64.b64encode(der(root_cert)).decode(),
        "root_fingerprint": fingerprint(root_cert),
        # the root's public point, so the offline page checks this signature without parsing X.509 (the
        # page then checks root_fingerprint against the one it pinned; load_trust_list checks x, y below)
        "root_x": _b64url(root_key.public_key().public_numbers().x),
        "root_y": _b64url(root_key.public_key().public_numbers().y),
        "keys": [e.as_dict() for e in entries],
    }
    signed = json.dumps(body, sort_keys=True, separators=(",", ":"))
    r, s = decode_dss_signature(root_key.sign(signed.encode(), ec.ECDSA(hashes.SHA256())))
    signature = base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()
    return json.dumps({"alg": "ES256", "signed": signed, "signature": signature}, indent=1)


@dataclass(frozen=True)
class LoadedTrustList:
    trust: codec.Trust
    version: int
    issued_at: datetime
    root: x509.Certificate
    body: dict[str, Any]


def load_trust_list(text: str, *, root_fingerprint: str | None = None) -> LoadedTrustList:
    """Check the root signature (and, when given, the pinned root), every issuer certificate and every kid."""
    try:
        doc = json.loads(text)
        signed, signature = doc["signed"], base64.b64decode(doc["signature"], validate=True)
        body = json.loads(signed)
        root = x509.load_der_x509_certificate(base64.b64decode(body["root"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise TrustListError(f"not an Accord trust list ({type(exc).__name__}: {exc})") from None
    if doc.get("alg") != "ES256" or len(signature) != 64:
        raise TrustListError("the trust list signature must be ES256 raw r||s (64 bytes)")
    if root_fingerprint and fingerprint(root) != root_fingerprint.lower():
        raise TrustListError("the trust list is signed by a root other than the pinned one")
    root_key = root.public_key()
    if not isinstance(root_key, ec.EllipticCurvePublicKey):
        raise TrustListError("the root key is not an EC P-256 key")
    nums = root_key.public_numbers()
    if (body.get("root_x"), body.get("root_y")) != (_b64url(nums.x), _b64url(nums.y)):
        raise TrustListError("the root point in the trust list does not match its root certificate")
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    try:
        if not (0 < r < codec.P256_ORDER and 0 < s < codec.P256_ORDER):
            raise InvalidSignature
        root_key.verify(encode_dss_signature(r, s), signed.encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise TrustListError("the trust list signature does not verify against its root") from None
    keys = []
    for i, entry in enumerate(body.get("keys", [])):
        cert = x509.load_der_x509_certificate(base64.b64decode(entry["certificate"]))
        try:
            cert.verify_directly_issued_by(root)
        except (ValueError, TypeError, InvalidSignature):
            raise TrustListError(f"key {i} ({entry.get('kid')}) is not certified by the root") from None
        if codec.kid_of(cert).hex() != entry.get("kid"):
            raise TrustListError(f"key {i}: kid {entry.get('kid')} does not match its certificate")
        keys.append(codec.trusted_key(cert, issuer=entry["jurisdiction"], revoked=entry.get("status") == "revoked"))
    issued_at = datetime.fromisoformat(body["issued_at"])
    return LoadedTrustList(codec.Trust.of(keys), int(body["version"]), issued_at, root, body)


def load_pem_bundle(data: bytes) -> codec.Trust:
    """EU signing certificates (DSCs) as PEM: a trust list for ``HC1:`` codes."""
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise TrustListError(f"not a PEM certificate bundle ({exc})") from None
    return codec.Trust.from_certificates(certs)

"""Our own test keys: a national root, two issuer keys (one of them revoked later), and one RSA key for PS256."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from accord.healthcode import codec, trustlist

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
CLAIM = codec.HealthClaim("green", "2026.1", "AR-01", "JD", "07-14")


@dataclass(frozen=True)
class Keyring:
    root_key: ec.EllipticCurvePrivateKey
    root: x509.Certificate
    issuer_key: ec.EllipticCurvePrivateKey
    issuer: x509.Certificate
    other_key: ec.EllipticCurvePrivateKey
    other: x509.Certificate
    rsa_key: rsa.RSAPrivateKey
    rsa_cert: x509.Certificate

    def trust(self, revoked: tuple[bytes, ...] = ()) -> codec.Trust:
        return codec.Trust.from_certificates([self.issuer, self.other, self.rsa_cert], revoked=revoked)

    def code(self, *, at: datetime = NOW, hours: float = 12, key: str = "issuer", alg: int = codec.ES256) -> str:
        priv, cert = {
            "issuer": (self.issuer_key, self.issuer),
            "other": (self.other_key, self.other),
            "rsa": (self.rsa_key, self.rsa_cert),
        }[key]
        return codec.issue(
            CLAIM,
            issuer="AR",
            private_key=priv,
            kid=codec.kid_of(cert),
            issued_at=at,
            validity=timedelta(hours=hours),
            alg=alg,
        )


@cache
def keyring() -> Keyring:
    root_key = trustlist.new_key()
    root = trustlist.root_certificate(root_key, "AR", now=NOW - timedelta(days=30))
    issuer_key, other_key = trustlist.new_key(), trustlist.new_key()
    issuer = trustlist.issuer_certificate(root_key, root, issuer_key.public_key(), "AR-01", now=NOW - timedelta(days=1))
    other = trustlist.issuer_certificate(root_key, root, other_key.public_key(), "AR-02", now=NOW - timedelta(days=1))
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rsa issuer")])
    rsa_cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(root.subject)
        .public_key(rsa_key.public_key())
        .serial_number(7)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=300))
        .sign(root_key, hashes.SHA256())
    )
    return Keyring(root_key, root, issuer_key, issuer, other_key, other, rsa_key, rsa_cert)

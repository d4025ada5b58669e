"""The health-code credential: CWT claims in CBOR, signed as COSE_Sign1, zlib, Base45, a context prefix, a QR.

Pipeline (issue reads it top down, verify bottom up)::

    claims --CBOR (canonical)--> payload --COSE_Sign1 (tag 18, ES256 or PS256)--> cose
           --zlib--> compressed --Base45 (RFC 9285)--> text --"AC1:" + text--> code --QR (alphanumeric)

The same verifier reads EU Digital COVID Certificates (``HC1:``): the pipeline is the hcert one, only the
claims differ (``-260`` holds the DCC) and our canonical-CBOR rule is not imposed on them.

Every failure is a :class:`Verdict` with one precise reason and the stage it happened at; nothing raises out
of :func:`verify`, whatever the input (the Hypothesis fuzz test holds us to that). Decompression is bounded
(a zlib bomb stops at ``MAX_COSE_BYTES``), ES256 signatures must be the raw ``r || s`` 64 bytes COSE requires
(a DER signature is refused, as are ``r`` or ``s`` outside ``1..n-1``), and our own payloads must be canonical
CBOR (RFC 8949 section 4.2.1) and at most ``MAX_PAYLOAD_BYTES``.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from accord.healthcode import base45

OUR_PREFIX = "AC1:"
EU_PREFIX = "HC1:"
ES256 = -7
PS256 = -37
ALGORITHM_NAMES = {ES256: "ES256", PS256: "PS256"}
COSE_SIGN1_TAG = 18
CWT_TAG = 61
HEADER_ALG = 1
HEADER_KID = 4
CLAIM_ISS = 1
CLAIM_EXP = 4
CLAIM_IAT = 6
CLAIM_HCERT = -260
#: our private CWT claim (RFC 8392: integer keys below -65536 are for private use)
CLAIM_ACCORD = -65537
COLOURS = ("green", "yellow", "red")

#: a QR code holds at most 4,296 alphanumeric characters
MAX_CODE_CHARS = 4296
#: bound on the decompressed COSE object: a zlib bomb stops here
MAX_COSE_BYTES = 16 * 1024
#: bound on our own CBOR payload (EU payloads are bounded by MAX_COSE_BYTES only)
MAX_PAYLOAD_BYTES = 512
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

#: EU DCC extended-key-usage OIDs (hcert spec 5.1.1): which certificate types a signing key may sign
EU_KEY_USAGE = {
    "1.3.6.1.4.1.1847.2021.1.1": "t",
    "1.3.6.1.4.1.1847.2021.1.2": "v",
    "1.3.6.1.4.1.1847.2021.1.3": "r",
    "1.3.6.1.4.1.0.1847.2021.1.1": "t",
    "1.3.6.1.4.1.0.1847.2021.1.2": "v",
    "1.3.6.1.4.1.0.1847.2021.1.3": "r",
}


class Reason(StrEnum):
    VALID = "valid"
    BAD_PREFIX = "bad prefix"
    BAD_ENCODING = "bad encoding"
    BAD_COMPRESSION = "bad compression"
    BAD_COSE = "bad COSE"
    BAD_CBOR = "bad CBOR"
    WRONG_ALGORITHM = "wrong algorithm"
    UNKNOWN_KEY = "unknown key"
    BAD_SIGNATURE = "bad signature"
    REVOKED_ISSUER = "revoked issuer"
    WRONG_KEY_USAGE = "wrong key usage"
    EXPIRED = "expired"
    NOT_YET_VALID = "not yet valid"


class Stage(StrEnum):
    PREFIX = "prefix"
    BASE45 = "base45"
    ZLIB = "zlib"
    COSE = "cose"
    CBOR = "cbor"
    ALGORITHM = "algorithm"
    KEY = "key"
    SIGNATURE = "signature"
    TRUST = "trust"
    TIME = "time"
    DONE = "done"


@dataclass(frozen=True)
class Verdict:
    valid: bool
    reason: Reason
    stage: Stage
    claims: dict[str, Any] = field(default_factory=dict)
    detail: str = ""
    kid: str | None = None

    def sentence(self) -> str:
        return f"{self.reason.value} ({self.stage.value}): {self.detail}" if self.detail else self.reason.value


class CodecFailure(Exception):
    """One stage of decoding failed; :func:`verify` turns it into a Verdict."""

    def __init__(self, reason: Reason, stage: Stage, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.stage, self.detail = reason, stage, detail


PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class TrustedKey:
    """A signing key a verifier accepts: its kid, public key, whom it belongs to, and whether it is revoked."""

    kid: bytes
    public_key: PublicKey
    issuer: str = ""
    revoked: bool = False
    not_before: datetime | None = None
    not_after: datetime | None = None
    #: EU key usage: the DCC types ("t", "v", "r") it may sign; None = any
    usage: frozenset[str] | None = None


@dataclass(frozen=True)
class Trust:
    keys: Mapping[bytes, TrustedKey]

    @classmethod
    def of(cls, keys: Iterable[TrustedKey]) -> Trust:
        return cls({k.kid: k for k in keys})

    @classmethod
    def from_certificates(cls, certs: Iterable[x509.Certificate], revoked: Iterable[bytes] = ()) -> Trust:
        gone = set(revoked)
        return cls.of(trusted_key(c, revoked=kid_of(c) in gone) for c in certs)


def kid_of(cert: x509.Certificate) -> bytes:
    """Key id as in the EU scheme: the first 8 bytes of SHA-256 over the DER certificate."""
    from cryptography.hazmat.primitives.serialization import Encoding

    return hashlib.sha256(cert.public_bytes(Encoding.DER)).digest()[:8]


def trusted_key(cert: x509.Certificate, *, issuer: str = "", revoked: bool = False) -> TrustedKey:
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise ValueError("only EC and RSA signing certificates are supported")
    usage: frozenset[str] | None = None
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        kinds = {EU_KEY_USAGE[o.dotted_string] for o in eku if o.dotted_string in EU_KEY_USAGE}
        usage = frozenset(kinds) or None
    except (x509.ExtensionNotFound, ValueError):
        pass  # no (or an empty, unparsable) extended key usage: hcert says the key may sign every type
    name = issuer or _country_of(cert)
    return TrustedKey(kid_of(cert), key, name, revoked, cert.not_valid_before_utc, cert.not_valid_after_utc, usage)


def _country_of(cert: x509.Certificate) -> str:
    attrs = cert.subject.get_attributes_for_oid(x509.NameOID.COUNTRY_NAME)
    return str(attrs[0].value) if attrs else ""


# ----------------------------------------------------------------------------------------------- issuing


@dataclass(frozen=True)
class HealthClaim:
    """What our code carries: the colour and the minimum needed to match it to its holder."""

    colour: str
    ruleset: str
    jurisdiction: str
    initials: str
    birth_day: str  # "MM-DD"

    def as_cbor(self) -> dict[int, str]:
        return {1: self.colour, 2: self.ruleset, 3: self.jurisdiction, 4: self.initials, 5: self.birth_day}


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    return cbor2.dumps(["Signature1", protected, b"", payload])


def sign(private_key: PrivateKey, alg: int, data: bytes) -> bytes:
    if alg == ES256 and isinstance(private_key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(private_key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if alg == PS256 and isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(data, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    raise ValueError(f"algorithm {alg} does not fit a {type(private_key).__name__}")


def issue(
    claim: HealthClaim,
    *,
    issuer: str,
    private_key: PrivateKey,
    kid: bytes,
    issued_at: datetime,
    validity: timedelta,
    alg: int = ES256,
) -> str:
    """Sign and encode one code: the text a QR carries."""
    if claim.colour not in COLOURS:
        raise ValueError(f"colour must be one of {COLOURS}, not {claim.colour!r}")
    iat = int(issued_at.timestamp())
    claims: dict[int, Any] = {CLAIM_ISS: issuer, CLAIM_IAT: iat, CLAIM_EXP: iat + int(validity.total_seconds())}
    claims[CLAIM_ACCORD] = claim.as_cbor()
    payload = cbor2.dumps(claims, canonical=True)
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    return encode_cose(payload, private_key=private_key, kid=kid, alg=alg)


def encode_cose(payload: bytes, *, private_key: PrivateKey, kid: bytes, alg: int, prefix: str = OUR_PREFIX) -> str:
    protected = cbor2.dumps({HEADER_ALG: alg, HEADER_KID: kid}, canonical=True)
    signature = sign(private_key, alg, sig_structure(protected, payload))
    cose = cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))
    return prefix + base45.encode(zlib.compress(cose, 9))


def qr_svg(code: str, *, scale: int = 4) -> str:
    """The code as an SVG QR symbol in alphanumeric mode (every character of a code is in that alphabet)."""
    import io

    import segno

    out = io.BytesIO()
    segno.make_qr(code, mode="alphanumeric", error="q").save(out, kind="svg", scale=scale, xmldecl=False)
    return out.getvalue().decode()


# ---------------------------------------------------------------------------------------------- decoding


@dataclass(frozen=True)
class CoseSign1:
    protected_bytes: bytes
    protected: dict[Any, Any]
    unprotected: dict[Any, Any]
    payload: bytes
    signature: bytes

    @property
    def alg(self) -> Any:
        return self.protected.get(HEADER_ALG, self.unprotected.get(HEADER_ALG))

    @property
    def kid(self) -> Any:
        # hcert: kid in the protected header, else (tolerated) in the unprotected one
        return self.protected.get(HEADER_KID, self.unprotected.get(HEADER_KID))


@dataclass(frozen=True)
class Decoded:
    context: str  # the prefix: "AC1:" or "HC1:"
    base45: str
    compressed: bytes
    cose_bytes: bytes
    cose: CoseSign1
    claims: dict[Any, Any]


def unprefix(code: str) -> tuple[str, str]:
    # space is a Base45 character: trim leading whitespace and trailing line ends only, never trailing spaces
    code = code.lstrip().rstrip("\r\n\t")
    for prefix in (OUR_PREFIX, EU_PREFIX):
        if code.startswith(prefix):
            return prefix, code[len(prefix) :]
    shown = code[:4].encode("ascii", "backslashreplace").decode()
    raise CodecFailure(
        Reason.BAD_PREFIX, Stage.PREFIX, f"the code starts with {shown!r}, not {OUR_PREFIX} or {EU_PREFIX}"
    )


def b45decode(text: str) -> bytes:
    if len(text) > MAX_CODE_CHARS:
        raise CodecFailure(Reason.BAD_ENCODING, Stage.BASE45, f"{len(text)} characters, more than a QR holds")
    try:
        return base45.decode(text)
    except base45.Base45Error as exc:
        raise CodecFailure(Reason.BAD_ENCODING, Stage.BASE45, str(exc)) from None


def decompress(data: bytes, limit: int = MAX_COSE_BYTES) -> bytes:
    """zlib inflate, stopping at ``limit`` bytes: a bomb is refused after reading no more than that."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise CodecFailure(Reason.BAD_COMPRESSION, Stage.ZLIB, f"not zlib data ({exc})") from None
    if len(out) > limit:
        raise CodecFailure(Reason.BAD_COMPRESSION, Stage.ZLIB, f"inflates beyond {limit} bytes (zlib bomb)")
    if not inflater.eof:
        raise CodecFailure(Reason.BAD_COMPRESSION, Stage.ZLIB, "the zlib stream is truncated")
    return out


def _loads(data: bytes, stage: Stage, reason: Reason) -> Any:
    """One CBOR item and nothing after it (cbor2.loads alone ignores trailing bytes)."""
    stream = io.BytesIO(data)
    try:
        value = cbor2.CBORDecoder(stream).decode()
        if stream.tell() != len(data):
            raise CodecFailure(reason, stage, f"{len(data) - stream.tell()} bytes after the CBOR item")
        return value
    except CodecFailure:
        raise
    except RecursionError:
        raise CodecFailure(reason, stage, "CBOR nested too deeply") from None
    except Exception as exc:  # cbor2 raises several kinds (decode errors, value errors, overflow)
        raise CodecFailure(reason, stage, f"not valid CBOR ({type(exc).__name__}: {exc})") from None


def parse_cose(data: bytes, *, require_tag: bool) -> CoseSign1:
    obj = _loads(data, Stage.COSE, Reason.BAD_COSE)
    if isinstance(obj, cbor2.CBORTag) and obj.tag == CWT_TAG and not require_tag:
        obj = obj.value
    if isinstance(obj, cbor2.CBORTag):
        if obj.tag != COSE_SIGN1_TAG:
            raise CodecFailure(Reason.BAD_COSE, Stage.COSE, f"CBOR tag {obj.tag}, not COSE_Sign1 (18)")
        obj = obj.value
    elif require_tag:
        raise CodecFailure(Reason.BAD_COSE, Stage.COSE, "not tagged as COSE_Sign1 (18)")
    if not (isinstance(obj, list | tuple) and len(obj) == 4):
        raise CodecFailure(Reason.BAD_COSE, Stage.COSE, "COSE_Sign1 must be an array of 4 elements")
    protected_bytes, unprotected, payload, signature = obj
    if not all(isinstance(x, bytes) for x in (protected_bytes, payload, signature)):
        raise CodecFailure(Reason.BAD_COSE, Stage.COSE, "protected header, payload and signature must be byte strings")
    if not isinstance(unprotected, Mapping):
        raise CodecFailure(Reason.BAD_COSE, Stage.COSE, "the unprotected header must be a map")
    protected = _loads(protected_bytes, Stage.COSE, Reason.BAD_COSE) if protected_bytes else {}
    if not isinstance(protected, Mapping):
        raise CodecFailure(Reason.BAD_COSE, Stage.COSE, "the protected header must be a map")
    return CoseSign1(protected_bytes, dict(protected), dict(unprotected), payload, signature)


def parse_claims(payload: bytes, *, ours: bool) -> dict[Any, Any]:
    if ours and len(payload) > MAX_PAYLOAD_BYTES:
        raise CodecFailure(Reason.BAD_CBOR, Stage.CBOR, f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    claims = _loads(payload, Stage.CBOR, Reason.BAD_CBOR)
    if not isinstance(claims, dict):
        raise CodecFailure(Reason.BAD_CBOR, Stage.CBOR, "the payload must be a CBOR map of claims")
    if ours:
        if cbor2.dumps(claims, canonical=True) != payload:
            raise CodecFailure(Reason.BAD_CBOR, Stage.CBOR, "the payload is not canonical CBOR")
        body = claims.get(CLAIM_ACCORD)
        fields_ok = isinstance(body, dict) and all(isinstance(body.get(i), str) for i in range(1, 6))
        if (
            not fields_ok
            or not isinstance(body, dict)
            or body.get(1) not in COLOURS
            or not isinstance(claims.get(CLAIM_ISS), str)
        ):
            raise CodecFailure(Reason.BAD_CBOR, Stage.CBOR, "the Accord health claim is missing or malformed")
    for key in (CLAIM_EXP, CLAIM_IAT):
        if key in claims and (not isinstance(claims[key], int | float) or isinstance(claims[key], bool)):
            raise CodecFailure(Reason.BAD_CBOR, Stage.CBOR, f"claim {key} must be a number (seconds since 1970)")
    if ours and not all(isinstance(claims.get(k), int) for k in (CLAIM_EXP, CLAIM_IAT)):
        raise CodecFailure(Reason.BAD_CBOR, Stage.CBOR, "issued-at and expiry claims are required")
    return claims


def decode(code: str) -> Decoded:
    """Every stage up to (not including) the signature; raises CodecFailure."""
    context, text = unprefix(code)
    compressed = b45decode(text)
    cose_bytes = decompress(compressed)
    ours = context == OUR_PREFIX
    cose = parse_cose(cose_bytes, require_tag=ours)
    if ours and cbor2.dumps(cose.protected, canonical=True) != cose.protected_bytes:
        raise CodecFailure(Reason.BAD_COSE, Stage.COSE, "the protected header is not canonical CBOR")
    claims = parse_claims(cose.payload, ours=ours)
    return Decoded(context, text, compressed, cose_bytes, cose, claims)


def check_signature(cose: CoseSign1, key: TrustedKey) -> None:
    data = sig_structure(cose.protected_bytes, cose.payload)
    pub = key.public_key
    try:
        if isinstance(pub, ec.EllipticCurvePublicKey):
            if len(cose.signature) != 64:
                raise CodecFailure(
                    Reason.BAD_SIGNATURE,
                    Stage.SIGNATURE,
                    f"ES256 signature of {len(cose.signature)} bytes; COSE requires raw r||s of 64 (DER is refused)",
                )
            r = int.from_bytes(cose.signature[:32], "big")
            s = int.from_bytes(cose.signature[32:], "big")
            if not (0 < r < P256_ORDER and 0 < s < P256_ORDER):
                raise CodecFailure(Reason.BAD_SIGNATURE, Stage.SIGNATURE, "ECDSA r or s outside 1..n-1")
            pub.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
        else:
            pss = padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.DIGEST_LENGTH)
            pub.verify(cose.signature, data, pss, hashes.SHA256())
    except InvalidSignature:
        raise CodecFailure(Reason.BAD_SIGNATURE, Stage.SIGNATURE, "the signature does not match") from None


def check_algorithm(cose: CoseSign1, key: TrustedKey | None = None) -> int:
    alg = cose.alg
    if alg not in ALGORITHM_NAMES:
        raise CodecFailure(
            Reason.WRONG_ALGORITHM, Stage.ALGORITHM, f"algorithm {alg!r} is not ES256 (-7) or PS256 (-37)"
        )
    if key is not None:
        pub = key.public_key
        fits = (
            alg == ES256 and isinstance(pub, ec.EllipticCurvePublicKey) and isinstance(pub.curve, ec.SECP256R1)
        ) or (alg == PS256 and isinstance(pub, rsa.RSAPublicKey))
        if not fits:
            raise CodecFailure(
                Reason.WRONG_ALGORITHM, Stage.ALGORITHM, f"{ALGORITHM_NAMES[alg]} does not fit the key {key.kid.hex()}"
            )
    return int(alg)


def _dcc_types(claims: dict[Any, Any]) -> set[str]:
    hcert = claims.get(CLAIM_HCERT)
    dcc = hcert.get(1) if isinstance(hcert, dict) else None
    return {k for k in ("v", "t", "r") if isinstance(dcc, dict) and dcc.get(k)}


def check_time(claims: dict[Any, Any], at: datetime, key: TrustedKey, *, context: str = OUR_PREFIX) -> None:
    """Issued-at, expiry and the signing certificate's end at time ``at``.

    The expiry instant itself: our codes follow RFC 8392 (section 3.1.4: "the current date/time MUST be before
    the expiration date/time"), so ``at == exp`` is expired; EU certificates (``HC1:``) follow the EU test
    harness (dgc-testdata's ``test_expiration_check``: ``validation_clock <= expiry``), so ``at == exp`` is still
    valid. Both accept ``at == iat``."""
    now = at.timestamp()
    exp, iat = claims.get(CLAIM_EXP), claims.get(CLAIM_IAT)
    if isinstance(iat, int | float) and now < iat:
        raise CodecFailure(Reason.NOT_YET_VALID, Stage.TIME, f"issued at {_iso(iat)}, after {at.isoformat()}")
    if isinstance(exp, int | float) and (now > exp if context == EU_PREFIX else now >= exp):
        raise CodecFailure(Reason.EXPIRED, Stage.TIME, f"expired at {_iso(exp)}")
    if key.not_after is not None and at > key.not_after:
        raise CodecFailure(
            Reason.EXPIRED, Stage.TIME, f"the signing certificate expired at {key.not_after.isoformat()}"
        )


def _iso(ts: float) -> str:
    try:
        return datetime.fromtimestamp(ts, UTC).isoformat()
    except (OverflowError, ValueError, OSError):
        return str(ts)


def readable(decoded: Decoded) -> dict[str, Any]:
    c = decoded.claims
    out: dict[str, Any] = {"kind": "accord" if decoded.context == OUR_PREFIX else "eu-dcc"}
    for key, name in ((CLAIM_ISS, "iss"), (CLAIM_IAT, "iat"), (CLAIM_EXP, "exp")):
        if key in c:
            out[name] = c[key]
    body = c.get(CLAIM_ACCORD)
    if isinstance(body, dict):
        names = ("colour", "ruleset", "jurisdiction", "initials", "birth_day")
        out.update({n: body.get(i + 1) for i, n in enumerate(names)})
    hcert = c.get(CLAIM_HCERT)
    if isinstance(hcert, dict):
        out["dcc"] = hcert.get(1)
    return out


def verify(code: str, trust: Trust, at: datetime) -> Verdict:
    """Decode and verify a code offline; any input gives a Verdict, never an exception."""
    kid_hex: str | None = None
    claims: dict[str, Any] = {}
    try:
        if not isinstance(code, str):
            raise CodecFailure(Reason.BAD_PREFIX, Stage.PREFIX, "the code must be text")
        decoded = decode(code)
        claims = readable(decoded)
        check_algorithm(decoded.cose)
        kid = decoded.cose.kid
        if not isinstance(kid, bytes):
            raise CodecFailure(Reason.UNKNOWN_KEY, Stage.KEY, "no key id (kid) in the header")
        kid_hex = kid.hex()
        key = trust.keys.get(kid)
        if key is None:
            raise CodecFailure(Reason.UNKNOWN_KEY, Stage.KEY, f"key {kid_hex} is not in the trust list")
        check_algorithm(decoded.cose, key)
        check_signature(decoded.cose, key)
        if key.revoked:
            raise CodecFailure(Reason.REVOKED_ISSUER, Stage.TRUST, f"key {kid_hex} of {key.issuer or '?'} is revoked")
        if key.usage is not None and decoded.context == EU_PREFIX and not _dcc_types(decoded.claims) <= key.usage:
            raise CodecFailure(Reason.WRONG_KEY_USAGE, Stage.TRUST, f"key {kid_hex} may not sign this certificate type")
        check_time(decoded.claims, at, key, context=decoded.context)
    except CodecFailure as f:
        return Verdict(False, f.reason, f.stage, claims, f.detail, kid_hex)
    except Exception as exc:  # defence in depth: a verifier must answer, not crash
        return Verdict(False, Reason.BAD_CBOR, Stage.CBOR, claims, f"unexpected {type(exc).__name__}", kid_hex)
    return Verdict(True, Reason.VALID, Stage.DONE, claims, "", kid_hex)

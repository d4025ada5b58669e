"""Signed federation requests: a small profile of HTTP Message Signatures (RFC 9421) with Ed25519.

Pure: strings and bytes in, strings and bytes out (no database, web or CLI code). Every transport request
between instances (upload start, chunk, commit; outbox list and download) carries

- ``Content-Digest: sha-256=:<base64>:`` (RFC 9530) of the body (of the empty body for a GET);
- ``Accord-From``: the jurisdiction the signing instance speaks for; ``Accord-To``: the jurisdiction of the
  instance addressed (a request signed for one hub cannot be replayed to another);
- ``Signature-Input: accord=("@method" "@path" "@query" "content-digest" "accord-from" "accord-to");
  created=<unix seconds>;nonce="<random>";keyid="<key id>";alg="ed25519";tag="accord-federation"``;
- ``Signature: accord=:<base64 Ed25519 signature of the signature base>:``.

The signature base is RFC 9421's: one line per covered component (``"name": value``) and the
``"@signature-params"`` line. The receiver accepts a request only if ``created`` lies within its window, the key
is a current key of the claimed instance, the signature verifies, and the nonce was not seen before.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from accord.errors import AccordError, Problem

LABEL = "accord"
TAG = "accord-federation"
ALG = "ed25519"
COMPONENTS = ("@method", "@path", "@query", "content-digest", "accord-from", "accord-to")
FROM, TO, DIGEST = "accord-from", "accord-to", "content-digest"
SIGNATURE_INPUT, SIGNATURE = "signature-input", "signature"

#: refusal codes (stored, rate-limited, in the receiver's inbox log)
UNSIGNED, BAD_REQUEST_SIGNATURE, STALE_REQUEST = "unsigned", "bad_request_signature", "stale_request"
REPLAYED_REQUEST, UNKNOWN_SENDER, UNKNOWN_KEY = "replayed_request", "unknown_sender", "unknown_key"
WRONG_RECEIVER, DIGEST_MISMATCH = "wrong_receiver", "digest_mismatch"

_TOKEN = r"[A-Za-z0-9._~-]{1,64}"  # codes, key ids, nonces: nothing that needs escaping
#: this profile's Signature-Input, exactly as ``sign`` writes it (RFC 9421 allows more; we accept only this)
_INPUT = re.compile(
    r'^accord=\("@method" "@path" "@query" "content-digest" "accord-from" "accord-to"\)'
    rf';created=([0-9]{{1,12}});nonce="({_TOKEN})";keyid="({_TOKEN})";alg="ed25519";tag="accord-federation"$'
)
_SIG = re.compile(r"^accord=:([A-Za-z0-9+/]{86}==):$")  # 64 bytes of Ed25519 signature


def refusal(code: str, message: str) -> AccordError:
    """A refused request (401) whose first problem carries the code the inbox log stores."""
    return AccordError(
        "the federation request is not accepted",
        [Problem(message, field="signature", code=code)],
        status=401,
        kind="unauthorized",
    )


def content_digest(body: bytes) -> str:
    return digest_header(hashlib.sha256(body).digest())


def digest_header(sha256: bytes) -> str:
    """RFC 9530 Content-Digest of a SHA-256 value."""
    return f"sha-256=:{base64.b64encode(sha256).decode()}:"


@dataclass(frozen=True)
class Claim:
    """What a signed request says about itself (read from its headers, not yet verified)."""

    sender: str
    receiver: str
    key_id: str
    created: int
    nonce: str
    digest: str
    signature: bytes


def _params_line(created: int, nonce: str, key_id: str) -> str:
    covered = " ".join(f'"{c}"' for c in COMPONENTS)
    return f'({covered});created={created};nonce="{nonce}";keyid="{key_id}";alg="{ALG}";tag="{TAG}"'


def signature_base(method: str, path: str, query: str, claim: Claim) -> bytes:
    """RFC 9421 signature base: the covered components, then the signature parameters."""
    values = {
        "@method": method.upper(),
        "@path": path,
        "@query": f"?{query}",
        DIGEST: claim.digest,
        FROM: claim.sender,
        TO: claim.receiver,
    }
    lines = [f'"{c}": {values[c]}' for c in COMPONENTS]
    lines.append(f'"@signature-params": {_params_line(claim.created, claim.nonce, claim.key_id)}')
    return "\n".join(lines).encode()


def sign(
    key: Ed25519PrivateKey,
    key_id: str,
    *,
    method: str,
    path: str,
    query: str,
    body: bytes = b"",
    sender: str,
    receiver: str,
    created: int,
    nonce: str | None = None,
    digest: str | None = None,
) -> dict[str, str]:
    """The headers that sign one request (``query`` without the leading '?'); ``digest``: the Content-Digest
    of a body streamed rather than held (default: that of ``body``)."""
    nonce = nonce or secrets.token_urlsafe(18)
    claim = Claim(sender, receiver, key_id, created, nonce, digest or content_digest(body), b"")
    signature = key.sign(signature_base(method, path, query, claim))
    return {
        DIGEST: claim.digest,
        FROM: sender,
        TO: receiver,
        SIGNATURE_INPUT: f"{LABEL}={_params_line(created, nonce, key_id)}",
        SIGNATURE: f"{LABEL}=:{base64.b64encode(signature).decode()}:",
    }


def read_claim(headers: Mapping[str, str]) -> Claim:
    """Parse the signature headers (names in lower case); anything else than this profile is refused."""
    if SIGNATURE_INPUT not in headers or SIGNATURE not in headers:
        raise refusal(
            UNSIGNED,
            "federation transport requests must be signed by the sending instance (Signature-Input and Signature "
            "headers, RFC 9421; 'accord federation push' and 'pull' do this)",
        )
    sender, receiver, digest = headers.get(FROM, ""), headers.get(TO, ""), headers.get(DIGEST, "")
    match = _INPUT.match(headers[SIGNATURE_INPUT].strip())
    sig = _SIG.match(headers[SIGNATURE].strip())
    if match is None or sig is None:
        raise refusal(
            BAD_REQUEST_SIGNATURE,
            f"Signature-Input must be {LABEL}={_params_line(0, 'NONCE', 'KEYID')} (created in seconds) and "
            "Signature accord=:<base64 Ed25519 signature>:",
        )
    if not (re.fullmatch(_TOKEN, sender) and re.fullmatch(_TOKEN, receiver)):
        raise refusal(BAD_REQUEST_SIGNATURE, "Accord-From and Accord-To must name jurisdictions")
    if not re.fullmatch(r"sha-256=:[A-Za-z0-9+/]{43}=:", digest):
        raise refusal(BAD_REQUEST_SIGNATURE, "Content-Digest must be sha-256=:<base64 SHA-256 of the body>:")
    created, nonce, key_id = int(match.group(1)), match.group(2), match.group(3)
    return Claim(sender, receiver, key_id, created, nonce, digest, base64.b64decode(sig.group(1)))


def check_fresh(claim: Claim, now_seconds: float, window_seconds: float) -> None:
    """``created`` within the window either side of this instance's clock."""
    off = claim.created - now_seconds
    if abs(off) > window_seconds:
        side = "ahead of" if off > 0 else "behind"
        raise refusal(
            STALE_REQUEST,
            f"the request was signed {abs(off):.0f} s {side} this instance's clock (at most {window_seconds:.0f} s "
            "allowed); check the sender's clock",
        )


def verify(public: Ed25519PublicKey, claim: Claim, method: str, path: str, query: str) -> bool:
    try:
        public.verify(claim.signature, signature_base(method, path, query, claim))
    except InvalidSignature:
        return False
    return True


def digest_matches(claim: Claim, sha256: bytes) -> bool:
    return secrets.compare_digest(claim.digest, digest_header(sha256))

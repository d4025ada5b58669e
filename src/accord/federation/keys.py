"""Instance signing keys: Ed25519 key pairs, the private key encrypted at rest with the federation KEK.

Pure: bytes in, bytes out (no database, web or CLI code). The key-encryption key (KEK) comes from the
environment variable ``ACCORD_FEDERATION_KEK`` through :class:`FederationSettings`; outside development an
instance refuses to create or use a signing key without one.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic_settings import BaseSettings, SettingsConfigDict

from accord.errors import AccordError, Problem

#: a fixed KEK for development and tests only: production refuses to run with it (see kek_bytes)
DEV_KEK = "development-only-federation-kek-change-me"
ALGORITHM = "Ed25519"


class FederationSettings(BaseSettings):
    """``ACCORD_FEDERATION_*`` settings (kept apart from accord.settings, which this capability does not own)."""

    model_config = SettingsConfigDict(env_prefix="ACCORD_FEDERATION_", env_file=".env", extra="ignore")

    #: key-encryption key for the instance's private signing keys (at least 32 characters)
    kek: str | None = None
    #: packages dated further than this into the future are refused (clock skew), seconds
    max_clock_skew_seconds: float = 300.0
    #: a member that has sent nothing for this long is shown as silent, hours
    silent_after_hours: float = 48.0
    #: size of one upload chunk, bytes
    chunk_bytes: int = 4 * 1024 * 1024
    #: the largest chunk a receiver accepts (a longer body is refused with 413 as soon as it runs over), bytes
    max_chunk_bytes: int = 16 * 1024 * 1024
    #: what one member's unfinished uploads may hold in all; its oldest give way to a new one beyond, bytes
    max_open_upload_bytes: int = 512 * 1024 * 1024
    #: an upload that received nothing for this long is dropped with its chunks, hours
    upload_expiry_hours: float = 24.0
    #: a signed transport request is accepted this long either side of its signature time, seconds
    request_window_seconds: float = 300.0
    #: repeated refusals of the same kind from the same sender make one inbox entry per this period, seconds
    refusal_log_seconds: float = 3600.0

    def kek_bytes(self, environment: str) -> bytes:
        """The KEK to encrypt private keys with; refuses a missing or weak KEK outside development/test."""
        if self.kek is None or self.kek == DEV_KEK:
            if environment == "production":
                raise AccordError(
                    "ACCORD_FEDERATION_KEK must be set to a random value of at least 32 characters in production"
                )
            return DEV_KEK.encode()
        if len(self.kek) < 32:
            raise AccordError("ACCORD_FEDERATION_KEK must be at least 32 characters long")
        return self.kek.encode()


def generate() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The public key as base64url text (43 characters): what a parent registers."""
    return base64.urlsafe_b64encode(public_bytes(key)).decode().rstrip("=")


def key_id(public: str) -> str:
    """A short, stable name of a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(public.encode()).hexdigest()[:16]


def load_public(text: str, *, field: str = "public_key") -> Ed25519PublicKey:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError) as exc:
        raise AccordError(
            "invalid public key", [Problem("not a base64url Ed25519 public key (32 bytes)", field=field)]
        ) from exc


def encrypt_private(key: Ed25519PrivateKey, kek: bytes) -> bytes:
    """PKCS#8, encrypted with the KEK (scrypt-derived AES-256-CBC + HMAC, the library's best available)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(kek)
    )


def decrypt_private(blob: bytes, kek: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(blob, password=kek)
    except (ValueError, TypeError) as exc:
        raise AccordError(
            "the instance signing key cannot be decrypted: ACCORD_FEDERATION_KEK differs from the one it was "
            "encrypted with"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise AccordError("the stored instance signing key is not an Ed25519 key")
    return key


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    return base64.urlsafe_b64encode(key.sign(message)).decode().rstrip("=")


def verify(public: Ed25519PublicKey, message: bytes, signature: str) -> bool:
    try:
        raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        public.verify(raw, message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def rotation_statement(member: str, old_key_id: str, new_public: str, issued_at: str) -> bytes:
    """What the old key signs to vouch for its successor (canonical bytes)."""
    return f"accord-key-rotation\n{member}\n{old_key_id}\n{new_public}\n{issued_at}".encode()

"""Encryption of identifying fields and keyed hashes of identifiers (pure: no database).

One 256-bit master key (``ACCORD_PERSONAL_DATA_KEY``, URL-safe base64) is split by HKDF-SHA-256 into an
AES-256-GCM key for the identity records and an HMAC-SHA-256 key for the identifier hashes, so neither use can
be turned against the other. Each record gets a fresh 96-bit nonce and the person's opaque ref as associated
data: a ciphertext copied onto another person's row does not decrypt.

Identifiers are normalised before hashing so that the same phone or national id written differently matches:
phones keep their digits (a leading ``00`` becomes the ``+`` country prefix, a national number keeps its
digits as written), national ids keep letters and digits upper-cased, names are NFKC-folded, case-folded and
whitespace-collapsed and only ever hashed together with the birth date (a name alone matches too many people).

Outside development and test Accord refuses to run without a key of its own: the development key is derived
from a public constant and protects nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic_settings import BaseSettings, SettingsConfigDict

from accord.errors import AccordError, Problem

#: identifying fields of a person; everything else about a person is pseudonymous
IDENTITY_FIELDS = ("name", "phone", "national_id", "address", "birth_date", "sex", "age")
DEV_KEY_SEED = b"accord-development-personal-data-key"
NONCE_BYTES = 12


class PersonalDataSettings(BaseSettings):
    """Settings of tracing (to move into ``accord.settings.Settings``): the personal-data key, the quarantine
    length after the last exposure, and the days an open task waits before it escalates one level."""

    model_config = SettingsConfigDict(env_prefix="ACCORD_", env_file=".env", extra="ignore")

    environment: str = "development"
    personal_data_key: str | None = None
    quarantine_days: int = 14
    task_grace_days: int = 1


class MissingKey(AccordError):
    def __init__(self, title: str) -> None:
        super().__init__(title=title, status=500, kind="configuration")


@dataclass(frozen=True)
class Keyring:
    """The derived keys. ``key_id`` names the master key (first 8 hex digits of its SHA-256) for rotation."""

    key_id: str
    aead: AESGCM
    mac_key: bytes

    def encrypt(self, ref: str, fields: dict[str, Any]) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        plain = json.dumps(fields, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
        return nonce + self.aead.encrypt(nonce, plain, ref.encode())

    def decrypt(self, ref: str, blob: bytes) -> dict[str, Any]:
        try:
            plain = self.aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], ref.encode())
        except Exception:  # cryptography raises InvalidTag; anything else is a corrupt record too
            raise AccordError(
                "personal data could not be decrypted",
                [Problem(f"the identity record of person {ref} does not verify with the configured key")],
                status=500,
                kind="integrity",
            ) from None
        value: dict[str, Any] = json.loads(plain)
        return value

    def digest(self, kind: str, value: str) -> str:
        return hmac.new(self.mac_key, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()

    def identifier_digests(self, fields: dict[str, Any]) -> list[tuple[str, str]]:
        """(kind, keyed hash) of every identifier present in ``fields``, normalised."""
        return [(kind, self.digest(kind, value)) for kind, value in normalised_identifiers(fields)]


def keyring_from_key(master: bytes) -> Keyring:
    if len(master) != 32:
        raise MissingKey("ACCORD_PERSONAL_DATA_KEY must be 32 bytes, URL-safe base64 encoded (44 characters)")
    okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=b"accord tracing v1").derive(master)
    return Keyring(hashlib.sha256(master).hexdigest()[:8], AESGCM(okm[:32]), okm[32:])


def keyring_from_settings(settings: PersonalDataSettings) -> Keyring:
    if settings.personal_data_key:
        try:
            master = base64.urlsafe_b64decode(settings.personal_data_key.encode())
        except ValueError:
            raise MissingKey("ACCORD_PERSONAL_DATA_KEY is not valid URL-safe base64") from None
        return keyring_from_key(master)
    if settings.environment not in ("development", "test"):
        raise MissingKey(
            f"ACCORD_PERSONAL_DATA_KEY must be set outside development (environment is '{settings.environment}'); "
            "create one with 'accord tracing new-key'"
        )
    return keyring_from_key(hashlib.sha256(DEV_KEY_SEED).digest())


@lru_cache(maxsize=1)
def keyring() -> Keyring:
    """The process's keyring, from the environment (cached; tests clear it with ``keyring.cache_clear()``)."""
    return keyring_from_settings(PersonalDataSettings())


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


# ------------------------------------------------------------------------------------------- normalising
_NOT_DIGIT = re.compile(r"\D")
_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
_SPACES = re.compile(r"\s+")


def normal_phone(value: str) -> str | None:
    text = value.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    digits = _NOT_DIGIT.sub("", text)
    if len(digits) < 6:
        return None
    return ("+" if text.startswith("+") else "") + digits


def normal_national_id(value: str) -> str | None:
    text = _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", value).upper())
    return text or None


def normal_name(value: str) -> str | None:
    text = _SPACES.sub(" ", unicodedata.normalize("NFKC", value).casefold()).strip()
    return text or None


def normalised_identifiers(fields: dict[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if fields.get("phone") and (phone := normal_phone(str(fields["phone"]))):
        out.append(("phone", phone))
    if fields.get("national_id") and (nid := normal_national_id(str(fields["national_id"]))):
        out.append(("national_id", nid))
    if fields.get("name") and fields.get("birth_date") and (name := normal_name(str(fields["name"]))):
        out.append(("name_birth", f"{name}|{str(fields['birth_date'])[:10]}"))
    return out

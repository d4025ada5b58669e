"""Settings of the health-code capability: the keys only it needs, in its own class beside accord.settings."""

from __future__ import annotations

import base64
import hashlib

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from accord.settings import Environment, get_settings


class HealthcodeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ACCORD_HEALTHCODE_", env_file=".env", extra="ignore")

    #: key-encryption key: encrypts every private signing key before it reaches the database
    kek: SecretStr | None = None
    #: days an issuer certificate is valid (rotation: a new key well before the old one expires)
    issuer_days: int = 365


def key_encryption_key() -> bytes:
    """The KEK as bytes. Outside development it must be set; in development it derives from the secret key."""
    own = HealthcodeSettings()
    if own.kek is not None and own.kek.get_secret_value():
        return own.kek.get_secret_value().encode()
    base = get_settings()
    if base.environment is Environment.PRODUCTION:
        raise ValueError("ACCORD_HEALTHCODE_KEK must be set in production: private signing keys are encrypted with it")
    return base64.b64encode(hashlib.sha256(b"healthcode-kek:" + base.secret_key.encode()).digest())

"""Configuration, from ``ACCORD_*`` environment variables (or a ``.env`` file).

Safe defaults for a laptop: SQLite in ``./data``, loopback only. Outside development Accord refuses to start
with the development secret or without an explicit database, so nobody runs production by accident.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "development-only-secret-change-me"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class InsecureSettings(ValueError):
    """Raised when settings would run an exposed instance insecurely."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ACCORD_", env_file=".env", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    data_dir: Path = Path("data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file accord.db in data_dir"
    )
    secret_key: str = DEV_SECRET
    host: str = "127.0.0.1"
    port: int = 8000
    #: hours after which an unapproved reporting day publishes itself unless a coordinator holds it; 0 = never
    auto_publish_hours: float = 24.0
    #: minutes between the background checks of the roll-up in `accord serve` (0 = never)
    rollup_check_minutes: float = 60.0
    #: how many recent days each background check covers (where reports still arrive and change)
    rollup_check_days: int = 28
    #: largest upload accepted by the API and importers, in bytes
    max_upload_bytes: int = 200 * 1024 * 1024
    #: time zone of reporting deadlines (schedules say "by 10:00", in this zone)
    timezone: str = "UTC"
    #: largest page of a list endpoint
    max_page_size: int = 10_000
    #: small-count suppression for the public: counts 1..below-1 are withheld at depth >= from_depth (root = 0);
    #: 0 = off. Public pages suppress (with complementary cells); the public raw API refuses those depths.
    suppress_below: int = 0
    suppress_from_depth: int = 3

    @model_validator(mode="after")
    def _refuse_insecure(self) -> Settings:
        if self.environment is Environment.PRODUCTION:
            if self.secret_key == DEV_SECRET or len(self.secret_key) < 32:
                raise InsecureSettings(
                    "ACCORD_SECRET_KEY must be set to a random value of at least 32 characters in production"
                )
            if self.database_url is None:
                raise InsecureSettings("ACCORD_DATABASE_URL must be set explicitly in production")
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'accord.db').as_posix()}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

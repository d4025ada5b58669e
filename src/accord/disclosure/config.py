"""Disclosure settings read from the environment (``ACCORD_SUPPRESS_*``), kept apart from
:class:`accord.settings.Settings` until they move there."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from accord.disclosure.suppression import SuppressionPolicy


class SuppressionSettings(BaseSettings):
    """``ACCORD_SUPPRESS_BELOW=5`` withholds counts 1-4 (shown ``<5``) at depth ``ACCORD_SUPPRESS_FROM_DEPTH``
    (root = 0; default 3) and deeper. Off unless ``BELOW`` is 2 or more."""

    model_config = SettingsConfigDict(env_prefix="ACCORD_SUPPRESS_", extra="ignore")

    below: int = 0
    from_depth: int = 3

    def policy(self) -> SuppressionPolicy:
        return SuppressionPolicy(self.below, self.from_depth)


def load_policy() -> SuppressionPolicy:
    return SuppressionSettings().policy()

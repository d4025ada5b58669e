"""Pages of the healthcode capability, installed ahead of the disclosure catch-alls."""

from __future__ import annotations

from fastapi import FastAPI

from accord.healthcode.api import router as api_router
from accord.web.mount import install_ahead


def install(app: FastAPI) -> None:
    install_ahead(app, api_router)

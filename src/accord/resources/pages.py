"""Pages of the resources capability, installed ahead of the disclosure catch-alls."""

from __future__ import annotations

from fastapi import FastAPI

from accord.resources.api import router as api_router
from accord.web.mount import install_ahead


def install(app: FastAPI) -> None:
    install_ahead(app, api_router)

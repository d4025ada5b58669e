"""HTTP API of the resources capability (``/api/v1/resources``)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/resources", tags=["resources"])

"""RFC 9457 problem documents for every error the API returns."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from accord.db import busy_reason
from accord.errors import AccordError

PROBLEM = "application/problem+json"
#: seconds a client should wait before retrying a request the busy database refused
BUSY_RETRY_AFTER = 2


def problem(
    status: int,
    title: str,
    kind: str,
    detail: str | None = None,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"type": f"/problems/{kind}", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


#: the JSON schema of a problem document, as the OpenAPI document declares it for every error status
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}


def document_problems(app: FastAPI) -> None:
    """Say in the OpenAPI document what every error really is: an RFC 9457 problem document, for the declared
    error statuses and (as ``default``) for the others, instead of FastAPI's ``{"detail": [...]}`` for 422."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = PROBLEM_SCHEMA
        content = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for code, response in responses.items():
                    if code[:1] in ("4", "5"):
                        response["content"] = content
                responses["default"] = {"description": "An error, as an RFC 9457 problem document", "content": content}
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    document_problems(app)

    @app.exception_handler(AccordError)
    async def _accord(request: Request, exc: AccordError) -> JSONResponse:
        return problem(
            exc.status,
            exc.title,
            exc.kind,
            detail=str(exc),
            instance=request.url.path,
            errors=[p.as_dict() for p in exc.problems] or None,
            headers={"WWW-Authenticate": "Bearer"} if exc.status == 401 else None,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "code": "invalid",
                "field": ".".join(str(p) for p in e.get("loc", ())[1:]) or None,
                "message": e.get("msg", "invalid"),
            }
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"field": None, "message": "invalid request"}
        detail = f"{first['field']}: {first['message']}" if first.get("field") else str(first["message"])
        return problem(
            422, "the request is not valid", "invalid-request", detail=detail, instance=request.url.path, errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {404: "not-found", 405: "method-not-allowed", 413: "too-large"}.get(exc.status_code, "http-error")
        return problem(exc.status_code, str(exc.detail), kind, instance=request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # never a stack trace to the client; the server log has it
        logging.getLogger("accord").exception("unhandled error on %s", request.url.path, exc_info=exc)
        return problem(
            500,
            "internal error",
            "internal-error",
            detail="the server failed; nothing was changed by this request",
            instance=request.url.path,
        )

    async def _database(request: Request, exc: Exception) -> JSONResponse:
        """A busy database (locked, pool exhausted, lock or statement timeout) is a 503 the client may retry;
        the request's transaction was rolled back, so a retry (with the same idempotency key) is safe."""
        reason = busy_reason(exc)
        if reason is None:
            return await _unexpected(request, exc)
        logging.getLogger("accord").warning("database busy on %s: %s", request.url.path, exc)
        return problem(
            503,
            "the database is busy",
            "busy",
            detail=f"{reason}; nothing was changed by this request: try again in {BUSY_RETRY_AFTER} seconds",
            instance=request.url.path,
            headers={"Retry-After": str(BUSY_RETRY_AFTER)},
        )

    # wrapped by SQLAlchemy, or raw from code that runs SQL on the driver connection
    for error in (sa_exc.DBAPIError, sa_exc.TimeoutError, sqlite3.OperationalError, psycopg.OperationalError):
        app.add_exception_handler(error, _database)

"""RFC 9457 problem documents for every error the API returns."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from accord.errors import AccordError

PROBLEM = "application/problem+json"


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


def install(app: FastAPI) -> None:
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
        import logging

        logging.getLogger("accord").exception("unhandled error on %s", request.url.path)
        return problem(
            500,
            "internal error",
            "internal-error",
            detail="the server failed; nothing was changed by this request",
            instance=request.url.path,
        )

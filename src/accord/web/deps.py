"""Request-scoped dependencies: a transaction per request and the acting user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session, sessionmaker

from accord.auth import service as auth
from accord.auth.roles import PUBLIC, Actor
from accord.errors import AccordError, Problem, Unauthorized
from accord.settings import Settings


def get_session(request: Request) -> Iterator[Session]:
    """The request's unit of work: committed when the endpoint returns, rolled back when it raises.

    Used with ``scope="function"`` (see SessionDep): FastAPI then runs the commit before it sends the response,
    so a commit that fails (a locked database, a lost connection) becomes the error answer. With the default
    request scope the commit would run after the client already had its 201."""
    factory: sessionmaker[Session] = request.app.state.sessions
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]


async def read_limited(request: Request, limit: int) -> bytes:
    """The request body, read chunk by chunk and refused with a 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise AccordError(
            "the upload is too large",
            [Problem(f"{int(declared):,} bytes is over the limit of {limit:,} bytes")],
            status=413,
            kind="too-large",
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise AccordError(
                "the upload is too large",
                [Problem(f"more than the limit of {limit:,} bytes")],
                status=413,
                kind="too-large",
            )
        chunks.append(chunk)
    return b"".join(chunks)


async def read_upload(request: Request, settings: SettingsDep) -> bytes:
    return await read_limited(request, settings.max_upload_bytes)


#: the raw request body of an upload, within ``max_upload_bytes``. Endpoints that take it are plain ``def``:
#: FastAPI runs them in a worker thread, so parsing a large file never blocks the event loop (nor /health)
UploadDep = Annotated[bytes, Depends(read_upload)]


def get_actor(session: SessionDep, authorization: Annotated[str | None, Header()] = None) -> Actor:
    if not authorization:
        return PUBLIC
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("use 'Authorization: Bearer <token>'")
    return auth.authenticate(session, token.strip())


ActorDep = Annotated[Actor, Depends(get_actor)]


def require_user(actor: ActorDep) -> Actor:
    if actor.is_public:
        raise Unauthorized("this needs an API token ('Authorization: Bearer <token>')")
    return actor


UserDep = Annotated[Actor, Depends(require_user)]

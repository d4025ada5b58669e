"""Request-scoped dependencies: a transaction per request and the acting user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session, sessionmaker

from accord.auth import service as auth
from accord.auth.roles import PUBLIC, Actor
from accord.errors import Unauthorized
from accord.settings import Settings


def get_session(request: Request) -> Iterator[Session]:
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


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


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

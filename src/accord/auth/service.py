"""Users and tokens. Tokens are shown once and stored as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.auth.model import ApiToken, AuditEntry, User
from accord.auth.roles import Actor, Role
from accord.db import utcnow
from accord.errors import AccordError, Conflict, Forbidden, NotFound, Problem, Unauthorized
from accord.places import service as places

TOKEN_PREFIX = "acc_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(
    session: Session, username: str, role: str, scope_code: str | None, display_name: str | None = None
) -> User:
    try:
        role_ = Role(role)
    except ValueError:
        raise AccordError(
            "the user was not created",
            [Problem(f"unknown role '{role}'; choose one of {', '.join(r.value for r in Role)}", field="role")],
        ) from None
    if session.scalar(select(User).where(User.username == username)):
        raise Conflict(f"a user named '{username}' already exists")
    if scope_code is None and role_ is not Role.ADMIN:
        raise AccordError(
            "the user was not created",
            [
                Problem(
                    "every role but admin needs a scope: the jurisdiction whose subtree the user acts on", field="scope"
                )
            ],
        )
    scope_id = places.get(session, scope_code).id if scope_code else None
    user = User(username=username, role=role_.value, scope_id=scope_id, display_name=display_name)
    session.add(user)
    session.flush()
    audit(session, None, "user.add", username, {"role": role_.value, "scope": scope_code})
    return user


def issue_token(session: Session, username: str, label: str | None = None) -> str:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user named '{username}'")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), prefix=token[:10], label=label))
    audit(session, user.id, "token.issue", username, {"label": label})
    return token


def revoke_tokens(session: Session, username: str) -> int:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user named '{username}'")
    tokens = list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))))
    for t in tokens:
        t.revoked_at = utcnow()
    audit(session, None, "token.revoke", username, {"count": len(tokens)})
    return len(tokens)


def authenticate(session: Session, token: str) -> Actor:
    row = session.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id).where(ApiToken.token_hash == hash_token(token))
    ).first()
    if row is None or row[0].revoked_at is not None or not row[1].active:
        raise Unauthorized("the API token is unknown or revoked")
    _tok, user = row
    return Actor(user.id, user.username, Role(user.role), user.scope_id)


def actor_for(session: Session, username: str) -> Actor:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user named '{username}'")
    return Actor(user.id, user.username, Role(user.role), user.scope_id)


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def require_scope(session: Session, actor: Actor, jid: int, code: str, what: str) -> None:
    """Refuse (403) when ``jid`` is outside the actor's subtree."""
    if actor.unrestricted:
        return
    if actor.scope_id is None or not places.is_within(session, actor.scope_id, jid):
        raise Forbidden(f"{actor.username} may not {what} for '{code}': it is outside their jurisdiction")


def require_national(session: Session, actor: Actor, roles: frozenset[Role], what: str) -> None:
    """Refuse (403) unless the actor holds one of ``roles`` at the top of this instance's tree.

    Levels are data (``Jurisdiction.level`` is free text), so "national" is read from the tree itself: a user
    whose scope is a root (depth 0: the country on a national instance, the hub's own node on the hub), or an
    administrator of the whole tree. Used for what concerns the whole instance and has no place of its own:
    the international pool, the public's rumor questions, the daily follow-up job.
    """
    if not actor.can(roles):
        raise Forbidden(f"{actor.username} may not {what} (role {actor.role or 'public'})")
    if actor.unrestricted:
        return
    if actor.scope_id is None or len(places.ancestors(session, actor.scope_id)) != 1:
        raise Forbidden(f"{actor.username} may not {what}: only the national level (the top of the tree) may")


def audit(
    session: Session, user_id: int | None, action: str, target: str | None, detail: dict[str, object] | None = None
) -> None:
    session.add(AuditEntry(at=utcnow(), user_id=user_id, action=action, target=target, detail=detail))

"""Roles and what they may do: pure rules, no database."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    REPORTER = "reporter"
    COORDINATOR = "coordinator"
    ANALYST = "analyst"
    ADMIN = "admin"
    #: a community worker or contact tracer: personal data of cases and contacts in their scope
    TRACER = "tracer"
    #: the data-protection officer of a jurisdiction: reads the audit of personal data in their scope
    DPO = "dpo"


SUBMITTERS = frozenset({Role.REPORTER, Role.COORDINATOR, Role.ADMIN})
APPROVERS = frozenset({Role.COORDINATOR, Role.ADMIN})
PROVISIONAL_READERS = frozenset(Role)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: a user with a role and a subtree, or the anonymous public."""

    user_id: int | None
    username: str
    role: Role | None  # None = the public
    scope_id: int | None  # None with role ADMIN = the whole tree

    @property
    def is_public(self) -> bool:
        return self.role is None

    @property
    def unrestricted(self) -> bool:
        return self.role is Role.ADMIN and self.scope_id is None

    def can(self, roles: frozenset[Role]) -> bool:
        return self.role is not None and self.role in roles


PUBLIC = Actor(None, "public", None, None)
#: the local operator at the terminal: the CLI runs with the database's own rights
SYSTEM = Actor(None, "system", Role.ADMIN, None)

"""Errors every layer shares: one sentence for the user, with where it happened.

Services raise these; the API turns them into RFC 9457 problem documents and the CLI into one line on
stderr and a non-zero exit code. They are plain values so pure modules can raise them too.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input, located as precisely as we can (file, line, field)."""

    message: str
    file: str | None = None
    line: int | None = None
    field: str | None = None
    code: str = "invalid"

    def sentence(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.field:
            where.append(f"field '{self.field}'")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message

    def as_dict(self) -> dict[str, object]:
        return {
            k: v
            for k, v in {
                "code": self.code,
                "message": self.message,
                "file": self.file,
                "line": self.line,
                "field": self.field,
            }.items()
            if v is not None
        }


@dataclass
class AccordError(Exception):
    """A refusal with a clear reason. `status` follows HTTP semantics so the API can reuse it."""

    title: str
    problems: list[Problem] = field(default_factory=list)
    status: int = 422
    kind: str = "invalid-input"
    #: how many problems there were in all, when only the first ones are listed
    total: int | None = None

    def __post_init__(self) -> None:
        super().__init__(self.title)

    def __str__(self) -> str:
        if not self.problems:
            return self.title
        first = self.problems[0].sentence()
        more = max(self.total or 0, len(self.problems)) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        return f"{self.title}: {first}{suffix}"


class NotFound(AccordError):
    def __init__(self, title: str) -> None:
        super().__init__(title=title, status=404, kind="not-found")


class Forbidden(AccordError):
    def __init__(self, title: str) -> None:
        super().__init__(title=title, status=403, kind="forbidden")


class Conflict(AccordError):
    def __init__(self, title: str, problems: list[Problem] | None = None) -> None:
        super().__init__(title=title, problems=problems or [], status=409, kind="conflict")


class Unauthorized(AccordError):
    def __init__(self, title: str) -> None:
        super().__init__(title=title, status=401, kind="unauthorized")

"""Import and export of observation files: parse with a pure format module, then the ordinary services.

An import is one submission (validation, roll-up and flags exactly as for reports typed in), keyed by the
file's content so importing the same file twice is a no-op. Places a file needs (e.g. the
"imported from elsewhere" buckets of the China file) are created in the same transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from accord.auth.roles import Actor, Role
from accord.errors import AccordError, Forbidden, Problem
from accord.places import service as places
from accord.surveillance import formats, service
from accord.surveillance import indicators as ind


def import_bytes(
    session: Session,
    fmt: str,
    data: bytes,
    filename: str,
    *,
    actor: Actor,
    idempotency_key: str | None = None,
    options: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    spec = formats.get(fmt)
    parsed = spec.parse(data, filename, **(options or {}))
    if parsed.problems:
        n = len(parsed.problems)
        raise AccordError(
            f"{filename} was not imported ({n} problem{'s' if n > 1 else ''}); nothing was stored", parsed.problems
        )
    if progress:
        progress(f"parsed {len(parsed.frame):,} observations")
    created = 0
    new_places = getattr(parsed, "places", None)
    if new_places is not None and len(new_places):
        missing = new_places[~new_places["code"].isin(places.load_index(session).by_code)]
        if len(missing):
            if actor.role is not Role.ADMIN:
                raise Forbidden(
                    f"{filename} needs {len(missing)} new jurisdictions (e.g. "
                    f"'{missing['code'].iat[0]}'); only an admin may create them"
                )
            created = places.import_places(session, missing, file=filename).created
            if progress:
                progress(f"created {created} jurisdictions the tree lacked (buckets, uncoded places)")
    # the same file imported again by the same person is a replay; by someone else, their own submission
    key = idempotency_key or f"import:{fmt}:{actor.username}:{hashlib.sha256(data).hexdigest()}"
    result = service.submit(
        session, parsed.frame, actor=actor, source=f"import:{fmt}:{filename}"[:200], idempotency_key=key, file=filename
    )
    return {
        **result.as_dict(),
        "format": fmt,
        "file": filename,
        "notes": list(parsed.notes),
        "jurisdictions_created": created,
    }


def export_frame(
    session: Session,
    root: str,
    *,
    level: str | None = None,
    start: date | None = None,
    end: date | None = None,
    view: str = "public",
) -> pd.DataFrame:
    return service.figures_at_level(session, root, level, list(ind.STORED_CODES), start, end, view)


def export_bytes(
    session: Session,
    fmt: str,
    root: str,
    *,
    level: str | None = None,
    start: date | None = None,
    end: date | None = None,
    view: str = "public",
) -> tuple[bytes, str, str]:
    spec = formats.get(fmt)
    if spec.render is None:
        raise AccordError(
            "unsupported export",
            [Problem(f"format '{fmt}' can be imported but not exported", field="format")],
            status=400,
        )
    frame = export_frame(session, root, level=level, start=start, end=end, view=view)
    data = spec.render(frame)
    suffix = f"_{level}" if level else ""
    return data, spec.media_type, f"{root}{suffix}_{fmt}.{spec.extension}"

"""Use cases of the jurisdiction tree. Each public function runs inside the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import delete, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session

from accord.errors import AccordError, Conflict, NotFound, Problem
from accord.places import tree
from accord.places.model import Jurisdiction, JurisdictionClosure

PLACE_COLUMNS = ["code", "name", "local_name", "level", "parent_code", "population"]


@dataclass(frozen=True)
class TreeIndex:
    """The whole tree in memory as arrays: cheap (thousands of rows) and lets services vectorise."""

    ids: np.ndarray
    codes: np.ndarray
    parent_ids: np.ndarray  # -1 for roots
    depth: np.ndarray
    by_code: dict[str, int]
    parent_of: pd.Series  # parent id by id (-1 for roots)
    names: dict[str, list[int]]

    def id_of(self, code: str) -> int | None:
        return self.by_code.get(code)


def load_index(session: Session) -> TreeIndex:
    rows = session.execute(
        select(
            Jurisdiction.id,
            Jurisdiction.code,
            Jurisdiction.parent_id,
            Jurisdiction.depth,
            Jurisdiction.name,
            Jurisdiction.local_name,
        )
    ).all()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    parents = np.array([r[2] if r[2] is not None else -1 for r in rows], dtype=np.int64)
    names: dict[str, list[int]] = {}
    for r in rows:
        for n in {r[4], r[5]}:
            if n:
                names.setdefault(n.casefold(), []).append(r[0])
    return TreeIndex(
        ids=ids,
        codes=np.array([r[1] for r in rows], dtype=object),
        parent_ids=parents,
        depth=np.array([r[3] for r in rows], dtype=np.int64),
        by_code={r[1]: r[0] for r in rows},
        parent_of=pd.Series(parents, index=ids),
        names=names,
    )


def get(session: Session, code: str) -> Jurisdiction:
    j = session.scalar(select(Jurisdiction).where(Jurisdiction.code == code))
    if j is None:
        raise NotFound(f"no jurisdiction with code '{code}'")
    return j


def code_of(session: Session, jid: int) -> str | None:
    return session.scalar(select(Jurisdiction.code).where(Jurisdiction.id == jid))


def children(session: Session, jid: int) -> list[Jurisdiction]:
    return list(session.scalars(select(Jurisdiction).where(Jurisdiction.parent_id == jid).order_by(Jurisdiction.code)))


def ancestors(session: Session, jid: int) -> list[Jurisdiction]:
    """Path from the root down to the node (inclusive), one indexed query."""
    return list(
        session.scalars(
            select(Jurisdiction)
            .join(JurisdictionClosure, JurisdictionClosure.ancestor_id == Jurisdiction.id)
            .where(JurisdictionClosure.descendant_id == jid)
            .order_by(JurisdictionClosure.distance.desc())
        )
    )


def subtree(
    session: Session, jid: int, max_distance: int | None = None, level: str | None = None
) -> list[tuple[Jurisdiction, int]]:
    q = (
        select(Jurisdiction, JurisdictionClosure.distance)
        .join(JurisdictionClosure, JurisdictionClosure.descendant_id == Jurisdiction.id)
        .where(JurisdictionClosure.ancestor_id == jid)
    )
    if max_distance is not None:
        q = q.where(JurisdictionClosure.distance <= max_distance)
    if level is not None:
        q = q.where(Jurisdiction.level == level)
    return [(j, d) for j, d in session.execute(q.order_by(JurisdictionClosure.distance, Jurisdiction.code))]


def is_within(session: Session, ancestor_id: int, descendant_id: int) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    JurisdictionClosure.ancestor_id == ancestor_id, JurisdictionClosure.descendant_id == descendant_id
                )
            )
        )
    )


def search(session: Session, text: str, limit: int = 20) -> list[Jurisdiction]:
    pattern = f"%{text.strip()}%"
    return list(
        session.scalars(
            select(Jurisdiction)
            .where(
                or_(
                    Jurisdiction.code.ilike(pattern),
                    Jurisdiction.name.ilike(pattern),
                    Jurisdiction.local_name.ilike(pattern),
                )
            )
            .order_by(Jurisdiction.depth, Jurisdiction.code)
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class PlacesImport:
    created: int
    updated: int
    unchanged: int


def import_places(session: Session, frame: pd.DataFrame, file: str | None = None) -> PlacesImport:
    """Create or update jurisdictions from a places frame (see PLACE_COLUMNS), all or nothing.

    Existing codes get their names, level and population updated; a changed parent is a move, refused
    when the node or its subtree holds data.
    """
    frame = frame.reset_index(drop=True)
    index = load_index(session)
    problems: list[Problem] = []
    known = set(index.by_code) | set(frame["code"])
    parent_codes = frame["parent_code"].fillna("").astype(str).tolist()
    for i, p in enumerate(parent_codes):
        if p and p not in known:
            problems.append(
                Problem(
                    f"parent '{p}' of '{frame['code'].iat[i]}' is neither in the file nor in the tree",
                    file=file,
                    line=_line(frame, i),
                    field="parent_code",
                    code="unknown_parent",
                )
            )
    parent_of = {c: (p or None) for c, p in zip(frame["code"], parent_codes, strict=False)}
    for code, pid in zip(index.codes, index.parent_ids, strict=False):
        parent_of.setdefault(str(code), None if pid < 0 else str(index.codes[index.ids == pid][0]))
    cycle = tree.find_cycle(parent_of)
    if cycle:
        problems.append(tree.cycle_problem(cycle, file))
    if problems:
        raise AccordError("the places file was not imported", problems)

    created = updated = unchanged = 0
    existing = (
        {j.code: j for j in session.scalars(select(Jurisdiction).where(Jurisdiction.code.in_(frame["code"].tolist())))}
        if len(frame) < 30000
        else {j.code: j for j in session.scalars(select(Jurisdiction))}
    )
    order = tree.order_parents_first(frame["code"].tolist(), parent_codes)
    code_to_id = dict(index.by_code)
    depth_of = dict(zip(index.ids.tolist(), index.depth.tolist(), strict=False))
    new_rows: list[dict[str, object]] = []
    closure_new: list[tuple[int, int]] = []  # (node id, parent id)
    next_id = int(session.scalar(select(func.coalesce(func.max(Jurisdiction.id), 0))) or 0) + 1
    for i in order:
        row = frame.iloc[i]
        code = str(row["code"])
        parent_id = code_to_id.get(parent_codes[i]) if parent_codes[i] else None
        values = _place_values(row)
        if code in existing:
            j = existing[code]
            if j.parent_id != parent_id:
                move(session, j, parent_id)
                depth_of[j.id] = depth_of.get(parent_id, -1) + 1 if parent_id else 0
            changed = any(getattr(j, k) != v for k, v in values.items())
            for k, v in values.items():
                setattr(j, k, v)
            updated += changed
            unchanged += not changed
            continue
        jid = next_id
        next_id += 1
        depth = depth_of[parent_id] + 1 if parent_id is not None else 0
        depth_of[jid] = depth
        code_to_id[code] = jid
        new_rows.append({"id": jid, "code": code, "parent_id": parent_id, "depth": depth, **values})
        closure_new.append((jid, parent_id if parent_id is not None else -1))
        created += 1
    if new_rows:
        session.execute(insert(Jurisdiction), new_rows)
        _insert_closure(session, closure_new)
    session.flush()
    return PlacesImport(created, updated, unchanged)


def _line(frame: pd.DataFrame, i: int) -> int:
    return int(str(frame["line"].iat[i])) if "line" in frame else i + 2


def _place_values(row: pd.Series) -> dict[str, object]:
    pop = row.get("population")
    values: dict[str, object] = {
        "name": str(row["name"]),
        "local_name": (
            str(row["local_name"]) if isinstance(row.get("local_name"), str) and row.get("local_name") else None
        ),
        "level": str(row["level"]),
        "population": int(pop) if pop is not None and not pd.isna(pop) else None,
    }
    for key in ("lon", "lat"):
        if key in row and not pd.isna(row[key]):
            values[key] = float(row[key])
    return values


def _insert_closure(session: Session, pairs: list[tuple[int, int]]) -> None:
    """Closure rows of new nodes: themselves, plus each ancestor of their parent (already stored or new)."""
    rows: list[dict[str, int]] = []
    new_anc: dict[int, list[tuple[int, int]]] = {}
    parent_ids = {p for _, p in pairs if p >= 0}
    stored = (
        session.execute(
            select(
                JurisdictionClosure.descendant_id, JurisdictionClosure.ancestor_id, JurisdictionClosure.distance
            ).where(JurisdictionClosure.descendant_id.in_(parent_ids))
        ).all()
        if len(parent_ids) < 30000
        else session.execute(
            select(JurisdictionClosure.descendant_id, JurisdictionClosure.ancestor_id, JurisdictionClosure.distance)
        ).all()
    )
    for d, a, dist in stored:
        new_anc.setdefault(d, []).append((a, dist))
    for jid, pid in pairs:  # parents come first, so their ancestor lists are ready
        anc = [(jid, 0)] + ([(a, dist + 1) for a, dist in new_anc.get(pid, [])] if pid >= 0 else [])
        new_anc[jid] = anc
        rows.extend({"ancestor_id": a, "descendant_id": jid, "distance": dist} for a, dist in anc)
    for start in range(0, len(rows), 20000):
        session.execute(insert(JurisdictionClosure), rows[start : start + 20000])


def has_data(session: Session, jid: int) -> bool:
    from accord.surveillance.model import Observation  # local: places must not depend on surveillance

    return bool(
        session.scalar(
            select(
                exists().where(
                    Observation.jurisdiction_id == JurisdictionClosure.descendant_id,
                    JurisdictionClosure.ancestor_id == jid,
                )
            )
        )
    )


def move(session: Session, node: Jurisdiction, new_parent_id: int | None) -> None:
    if has_data(session, node.id):
        raise Conflict(
            f"'{node.code}' cannot be moved: it or its subtree holds reported data; "
            "moving it would silently change every roll-up above it"
        )
    if new_parent_id is not None and is_within(session, node.id, new_parent_id):
        raise Conflict(f"'{node.code}' cannot move under its own descendant")
    sub = [
        d
        for (d,) in session.execute(
            select(JurisdictionClosure.descendant_id).where(JurisdictionClosure.ancestor_id == node.id)
        )
    ]
    # detach: drop links from the subtree to the old ancestors above the node
    session.execute(
        delete(JurisdictionClosure).where(
            JurisdictionClosure.descendant_id.in_(sub),
            JurisdictionClosure.ancestor_id.notin_(sub),
        )
    )
    node.parent_id = new_parent_id
    if new_parent_id is not None:
        above = session.execute(
            select(JurisdictionClosure.ancestor_id, JurisdictionClosure.distance).where(
                JurisdictionClosure.descendant_id == new_parent_id
            )
        ).all()
        inside = session.execute(
            select(JurisdictionClosure.descendant_id, JurisdictionClosure.distance).where(
                JurisdictionClosure.ancestor_id == node.id
            )
        ).all()
        session.execute(
            insert(JurisdictionClosure),
            [{"ancestor_id": a, "descendant_id": d, "distance": da + dd + 1} for a, da in above for d, dd in inside],
        )
        parent_depth = session.scalar(select(Jurisdiction.depth).where(Jurisdiction.id == new_parent_id)) or 0
    else:
        parent_depth = -1
    shift = parent_depth + 1 - node.depth
    if shift:
        session.execute(update(Jurisdiction).where(Jurisdiction.id.in_(sub)).values(depth=Jurisdiction.depth + shift))
    session.flush()


def delete_place(session: Session, code: str) -> None:
    node = get(session, code)
    if has_data(session, node.id):
        raise Conflict(f"'{code}' cannot be deleted: it or its subtree holds reported data, which is never thrown away")
    if session.scalar(select(exists().where(Jurisdiction.parent_id == node.id))):
        raise Conflict(f"'{code}' cannot be deleted: it has child jurisdictions; delete or move them first")
    session.execute(delete(JurisdictionClosure).where(JurisdictionClosure.descendant_id == node.id))
    session.delete(node)
    session.flush()


def set_boundaries(session: Session, boundaries: dict[str, dict[str, object]]) -> int:
    """Store GeoJSON geometries by code; unknown codes are an error (nothing stored)."""
    index = load_index(session)
    missing = [c for c in boundaries if c not in index.by_code]
    if missing:
        raise AccordError(
            "boundaries were not stored",
            [Problem(f"unknown jurisdiction '{c}'", field="code", code="unknown_jurisdiction") for c in missing[:20]],
        )
    for code, geom in boundaries.items():
        session.execute(update(Jurisdiction).where(Jurisdiction.code == code).values(boundary=geom))
    return len(boundaries)

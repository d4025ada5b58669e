"""HTTP API of the jurisdiction tree (public: the tree itself is not secret)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from accord.places import service
from accord.places.model import Jurisdiction
from accord.web.deps import SessionDep, SettingsDep
from accord.web.params import Offset

router = APIRouter(prefix="/api/v1/jurisdictions", tags=["jurisdictions"])
#: deeper than any administrative tree (country, province, city, county, township, community, grid cell...)
MAX_DEPTH = 100


def as_dict(j: Jurisdiction, parent_code: str | None = None) -> dict[str, Any]:
    return {
        "code": j.code,
        "name": j.name,
        "local_name": j.local_name,
        "level": j.level,
        "depth": j.depth,
        "parent": parent_code,
        "population": j.population,
    }


@router.get("", summary="Search or list jurisdictions")
def list_jurisdictions(
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
    q: str | None = None,
    level: str | None = None,
    root: str | None = None,
    limit: Annotated[int, Query(ge=1)] = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    limit = min(limit, settings.max_page_size)
    index = service.load_index(session)
    code_of = dict(zip(index.ids.tolist(), index.codes.tolist(), strict=False))
    if q:
        items = service.search(session, q, limit=limit + offset)[offset:]
        total = None
    else:
        root_node = service.get(session, root) if root else None
        if root_node is not None:
            members = [j for j, _ in service.subtree(session, root_node.id, level=level)]
        else:
            from sqlalchemy import select

            stmt = select(Jurisdiction).order_by(Jurisdiction.depth, Jurisdiction.code)
            if level:
                stmt = stmt.where(Jurisdiction.level == level)
            members = list(session.scalars(stmt))
        total = len(members)
        items = members[offset : offset + limit]
    body: dict[str, Any] = {
        "data": [as_dict(j, code_of.get(j.parent_id) if j.parent_id else None) for j in items],
        "limit": limit,
        "offset": offset,
        "total": total,
    }
    if total is not None and offset + limit < total:
        body["next"] = str(request.url.include_query_params(offset=offset + limit))
    return body


@router.get("/{code}", summary="One jurisdiction with its path from the root and its children")
def get_jurisdiction(code: str, session: SessionDep) -> dict[str, Any]:
    node = service.get(session, code)
    path = service.ancestors(session, node.id)
    kids = service.children(session, node.id)
    parent = path[-2].code if len(path) > 1 else None
    return {
        **as_dict(node, parent),
        "path": [{"code": a.code, "name": a.name} for a in path],
        "children": [as_dict(c, node.code) for c in kids],
        "has_boundary": node.boundary is not None,
    }


@router.get("/{code}/subtree", summary="Every jurisdiction below one, at any depth")
def get_subtree(
    code: str,
    session: SessionDep,
    level: str | None = None,
    max_depth: Annotated[int | None, Query(ge=0, le=MAX_DEPTH)] = None,
) -> dict[str, Any]:
    node = service.get(session, code)
    index = service.load_index(session)
    code_of = dict(zip(index.ids.tolist(), index.codes.tolist(), strict=False))
    members = service.subtree(session, node.id, max_distance=max_depth, level=level)
    return {
        "root": node.code,
        "data": [{**as_dict(j, code_of.get(j.parent_id) if j.parent_id else None), "distance": d} for j, d in members],
    }

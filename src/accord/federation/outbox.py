"""Packages out: the figures a link sends upward, cut into signed, hash-chained packages for a parent (an
unchanged cut reuses the last package), and the outbox the parent reads them from.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accord.db import utcnow
from accord.errors import AccordError, NotFound, Problem
from accord.federation import package
from accord.federation.identity import signing_key
from accord.federation.model import OutPackage, Peer
from accord.federation.peers import parent, peer_of
from accord.places import service as places
from accord.surveillance import indicators as ind
from accord.surveillance import service as surveillance
from accord.surveillance import store


def upward_frames(
    session: Session, root: str, start: date, end: date, link: package.LinkConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows and places a link sends: figures at levels 0..depth below ``root`` (effective values: own report
    where there is one, else the children's sum), source reasons carried, small counts withheld."""
    indicators = list(link.indicators or ind.STORED_CODES)
    frame = surveillance.figures_at_level(
        session, root, None, indicators, start, end, view=link.view, max_distance=link.depth
    )
    index = places.load_index(session)
    depth_of = pd.Series(index.depth, index=index.ids)
    root_depth = int(depth_of[index.by_code[root]])
    rel_depth = (depth_of.reindex(frame["jurisdiction_id"]).to_numpy() - root_depth).astype(np.int64)
    frame = frame.assign(reason="")
    frame = package.select_upward(frame, rel_depth, link)
    frame = _source_reasons(session, frame, start, end)
    nodes = [j for j, _ in places.subtree(session, index.by_code[root], max_distance=link.depth)]
    code_of = dict(zip(index.ids.tolist(), index.codes.tolist(), strict=True))
    place_frame = pd.DataFrame(
        {
            "code": [j.code for j in nodes],
            "name": [j.name for j in nodes],
            "local_name": [j.local_name or "" for j in nodes],
            "level": [j.level for j in nodes],
            "parent_code": [code_of.get(j.parent_id, "") if j.code != root else "" for j in nodes],
            "population": [j.population for j in nodes],
        }
    )
    return frame, place_frame


def _source_reasons(session: Session, frame: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """Where a sent figure is the jurisdiction's own corrected report, carry the correction's reason."""
    if frame.empty:
        return frame
    name = store.dialect(session)
    jids = sorted(set(frame["jurisdiction_id"].astype(int)))
    parts = [
        store.read_frame(
            session,
            "SELECT o.jurisdiction_id, i.code AS indicator, o.date, o.disaggregation, o.revision, o.reason "
            "FROM observation o JOIN indicator i ON i.id = o.indicator_id WHERE o.reason IS NOT NULL "
            f"AND o.jurisdiction_id IN ({','.join(map(str, chunk))}) AND o.date BETWEEN :d0 AND :d1",
            {"d0": store.date_param(start, name), "d1": store.date_param(end, name)},
        )
        for chunk in store.in_chunks(jids)
    ]
    found = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if found.empty:
        return frame
    found["date"] = pd.to_datetime(found["date"])
    found["disaggregation"] = found["disaggregation"].astype(str)
    latest = found.sort_values("revision").drop_duplicates(
        ["jurisdiction_id", "indicator", "date", "disaggregation"], keep="last"
    )
    merged = frame.merge(
        latest.drop(columns="revision").rename(columns={"reason": "_src"}),
        on=["jurisdiction_id", "indicator", "date", "disaggregation"],
        how="left",
    )
    merged["reason"] = merged["_src"].fillna("").astype(str)
    return merged.drop(columns="_src")


def cut_package(
    session: Session, kek: bytes, start: date, end: date, *, parent_code: str | None = None, now: datetime | None = None
) -> tuple[OutPackage, bool]:
    """Cut the next package for a parent: returns it and whether it is new (unchanged data reuses the last one)."""
    now = now or utcnow()
    if end < start:
        raise AccordError("invalid period", [Problem(f"{end} is before {start}", field="end")])
    link_peer = parent(session, parent_code)
    link = package.LinkConfig.from_dict(link_peer.config)
    me, private = signing_key(session, kek)
    frame, place_frame = upward_frames(session, me.jurisdiction, start, end, link)
    if frame.empty:
        raise NotFound(
            f"nothing to send to '{link_peer.code}' for {start}..{end}: no {link.view} figures at levels "
            f"0..{link.depth} below '{me.jurisdiction}'"
        )
    rows_hash = hashlib.sha256(package.data_bytes(frame)).hexdigest()
    earlier = list(
        session.scalars(select(OutPackage).where(OutPackage.peer_id == link_peer.id).order_by(OutPackage.sequence))
    )
    indicators = sorted(link.indicators or ind.STORED_CODES)
    last = earlier[-1] if earlier else None
    if last is not None and last.rows_hash == rows_hash and _same_cover(last.manifest, start, end, indicators):
        return last, False
    revises = [p.id for p in earlier if _overlaps(p.manifest, start, end)]
    built = package.build(
        frame,
        place_frame,
        key=private,
        sender=me.jurisdiction,
        receiver=link_peer.code,
        subtree=me.jurisdiction,
        start=start,
        end=end,
        indicators=indicators,
        sequence=(last.sequence + 1) if last else 1,
        previous_id=last.id if last else None,
        revises=revises[-50:],
        created_at=now,
        link=link,
    )
    row = OutPackage(
        id=built.id,
        peer_id=link_peer.id,
        sequence=built.manifest["sequence"],
        previous_id=built.manifest["previous_id"],
        manifest=built.manifest,
        rows_hash=rows_hash,
        payload=built.payload,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row, True


def _same_cover(manifest: dict[str, Any], start: date, end: date, indicators: list[str]) -> bool:
    period = manifest["period"]
    return bool(
        period["start"] == start.isoformat()
        and period["end"] == end.isoformat()
        and manifest["indicators"] == indicators
    )


def _overlaps(manifest: dict[str, Any], start: date, end: date) -> bool:
    period = manifest["period"]
    return date.fromisoformat(period["start"]) <= end and date.fromisoformat(period["end"]) >= start


def undelivered(session: Session, parent_code: str | None = None) -> list[OutPackage]:
    link_peer = parent(session, parent_code)
    return list(
        session.scalars(
            select(OutPackage)
            .where(OutPackage.peer_id == link_peer.id, OutPackage.delivered_at.is_(None))
            .order_by(OutPackage.sequence)
        )
    )


def mark_delivered(session: Session, package_id: str, result: dict[str, Any], now: datetime | None = None) -> None:
    row = session.get(OutPackage, package_id)
    if row is None:
        raise NotFound(f"no package {package_id} in the outbox")
    row.delivered_at, row.result = now or utcnow(), result


def outbox(session: Session, receiver: str, after: int = 0) -> list[dict[str, Any]]:
    link_peer = peer_of(session, receiver, "parent")
    rows = session.execute(
        select(OutPackage.id, OutPackage.sequence, OutPackage.manifest, func.length(OutPackage.payload))
        .where(OutPackage.peer_id == link_peer.id, OutPackage.sequence > after)
        .order_by(OutPackage.sequence)
    ).all()
    return [{"id": r[0], "sequence": r[1], "manifest": r[2], "size": int(r[3])} for r in rows]


def outbox_payload(session: Session, package_id: str, receiver: str | None = None) -> bytes:
    """A package's bytes; with ``receiver``, only if the package was cut for that parent (else: not found)."""
    row = session.get(OutPackage, package_id)
    if row is not None and receiver is not None:
        link_peer = session.scalar(select(Peer).where(Peer.code == receiver, Peer.role == "parent"))
        row = row if link_peer is not None and row.peer_id == link_peer.id else None
    if row is None:
        raise NotFound(f"no package {package_id} in the outbox" + (f" for '{receiver}'" if receiver else ""))
    return row.payload

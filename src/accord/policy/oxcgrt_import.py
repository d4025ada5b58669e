"""Importing OxCGRT files: per-indicator rows become recorded measures (runs of equal days), index time
series stored index values; a second import of the same file replaces the first. Parsing is pure, in
:mod:`accord.policy.oxcgrt`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from accord.auth.roles import APPROVERS, Actor
from accord.db import utcnow
from accord.errors import Conflict, Forbidden, Problem
from accord.places import service as places
from accord.policy import oxcgrt
from accord.policy.measures import FAR_FUTURE, describe_measure
from accord.policy.model import IndexValue, Measure


@dataclass
class OxcgrtImport:
    kind: str  # "measures" or "indices"
    regions: list[str]  # Accord codes imported
    skipped: list[str]  # OxCGRT regions not in the tree
    measures: int = 0
    index_values: int = 0
    replaced: int = 0


def import_oxcgrt(
    session: Session, actor: Actor, path: Path, country_codes: dict[str, str] | None = None
) -> OxcgrtImport:
    """Import an OxCGRT file: per-indicator rows become recorded measures (runs of equal days), index time series
    become stored index values. Regions map to jurisdictions by :func:`accord.policy.oxcgrt.accord_code`
    (``country_codes`` e.g. ``{"CHN": "CN"}``); regions not in the tree are skipped and listed. A second import
    of the same file replaces what the first one stored (same source); all or nothing."""
    if not actor.can(APPROVERS) or not actor.unrestricted:
        raise Forbidden(f"{actor.username} may not import OxCGRT files: only an administrator of the whole tree may")
    with path.open("r", encoding="utf-8-sig") as fh:
        header = fh.readline()
    source = f"OxCGRT {path.name}"
    if "Jurisdiction" in header and re.search(r"(^|,)\d{2}[A-Za-z]{3}\d{4}(,|$)", header.strip().replace('"', "")):
        return _import_indices(session, path, source, country_codes)
    return _import_measures(session, path, source, country_codes)


def _map_regions(
    session: Session, regions: pd.Series, country_codes: dict[str, str] | None
) -> tuple[dict[str, int], list[str]]:
    index = places.load_index(session)
    found: dict[str, int] = {}
    skipped = []
    for region in sorted(set(regions)):
        jid = index.id_of(oxcgrt.accord_code(region, country_codes))
        if jid is None:
            skipped.append(region)
        else:
            found[region] = jid
    return found, skipped


def _import_measures(session: Session, path: Path, source: str, country_codes: dict[str, str] | None) -> OxcgrtImport:
    long = oxcgrt.read_oxcgrt(path)
    mapping, skipped = _map_regions(session, long["region"], country_codes)
    runs = oxcgrt.runs(long[long["region"].isin(list(mapping))])
    jids = sorted(set(mapping.values()))
    replaced = 0
    if jids:
        result = session.execute(
            delete(Measure).where(
                Measure.jurisdiction_id.in_(jids), Measure.kind == "recorded", Measure.source == source
            )
        )
        replaced = int(getattr(result, "rowcount", 0) or 0)
    runs["jurisdiction_id"] = runs["region"].map(mapping)
    _refuse_clashes(session, runs)
    now = utcnow()
    rows = [
        {
            "jurisdiction_id": int(jid),
            "indicator": str(ind),
            "level": int(level),
            "targeted": bool(flag == 0) if not pd.isna(flag) else False,
            "start": start,
            "end": end,
            "allow_relaxation": True,
            "kind": "recorded",
            "notes": None,
            "source": source,
            "issued_by": None,
            "created_at": now,
        }
        for jid, ind, level, flag, start, end in zip(
            runs["jurisdiction_id"],
            runs["indicator"],
            runs["level"],
            runs["flag"],
            runs["start"],
            runs["end"],
            strict=True,
        )
    ]
    for chunk in range(0, len(rows), 5000):
        session.execute(insert(Measure), rows[chunk : chunk + 5000])
    code_of = {v: k for k, v in places.load_index(session).by_code.items()}
    return OxcgrtImport("measures", [code_of[j] for j in jids], skipped, measures=len(rows), replaced=replaced)


def _refuse_clashes(session: Session, runs: pd.DataFrame) -> None:
    """Recorded runs may not overlap measures already registered at the same jurisdiction (directives)."""
    if runs.empty:
        return
    existing = pd.DataFrame(
        session.execute(
            select(Measure.id, Measure.jurisdiction_id, Measure.indicator, Measure.start, Measure.end).where(
                Measure.jurisdiction_id.in_(sorted(set(runs["jurisdiction_id"].astype(int))))
            )
        ).all(),
        columns=["id", "jurisdiction_id", "indicator", "m_start", "m_end"],
    )
    if existing.empty:
        return
    both = runs.merge(existing, on=["jurisdiction_id", "indicator"])
    m_end = both["m_end"].where(both["m_end"].notna(), FAR_FUTURE)
    clash = both[(both["start"] <= m_end) & (both["end"] >= both["m_start"])]
    if not clash.empty:
        first = clash.iloc[0]
        m = session.get(Measure, int(first["id"]))
        assert m is not None
        code = places.code_of(session, m.jurisdiction_id) or "?"
        raise Conflict(
            "the OxCGRT history overlaps measures already registered",
            [
                Problem(
                    f"{first['region']} {first['indicator']} from {first['start']} overlaps {describe_measure(m, code)}"
                )
            ],
        )


def _import_indices(session: Session, path: Path, source: str, country_codes: dict[str, str] | None) -> OxcgrtImport:
    long = oxcgrt.read_index_timeseries(path)
    long = long[long["jurisdiction"].isin(["NAT_TOTAL", "STATE_TOTAL"])]
    mapping, skipped = _map_regions(session, long["region"], country_codes)
    data = long[long["region"].isin(list(mapping))]
    jids = sorted(set(mapping.values()))
    index_names = sorted(set(data["index"]))
    replaced = 0
    if jids:
        result = session.execute(
            delete(IndexValue).where(IndexValue.jurisdiction_id.in_(jids), IndexValue.index.in_(index_names))
        )
        replaced = int(getattr(result, "rowcount", 0) or 0)
    rows = [
        {"jurisdiction_id": mapping[r], "index": i, "date": d, "value": float(v), "source": source}
        for r, i, d, v in zip(data["region"], data["index"], data["date"], data["value"], strict=True)
    ]
    for chunk in range(0, len(rows), 10000):
        session.execute(insert(IndexValue), rows[chunk : chunk + 10000])
    code_of = {v: k for k, v in places.load_index(session).by_code.items()}
    return OxcgrtImport("indices", [code_of[j] for j in jids], skipped, index_values=len(rows), replaced=replaced)

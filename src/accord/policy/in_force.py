"""What is in force at a place: per indicator, the strictest measure on the path from the root (unless
relaxation is allowed), on a day or as daily series, and the indices computed from it beside the published ones.
The combination rule is pure, in :mod:`accord.policy.directives`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.places import service as places
from accord.places.model import Jurisdiction, JurisdictionClosure
from accord.policy import directives, indices
from accord.policy.measures import measure_dict, overlapping, path_step
from accord.policy.model import IndexValue, Measure


@dataclass
class InForce:
    indicator: str
    level: int
    targeted: bool
    measure: dict[str, Any]  # the measure in force, with who ordered it (its jurisdiction)
    overridden: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "indicator": self.indicator,
            "indicator_name": indices.INDICATORS[self.indicator].name,
            "level": self.level,
            "level_label": indices.INDICATORS[self.indicator].levels[self.level],
            "targeted": self.targeted,
            "ordered_by": self.measure["jurisdiction"],
            "ordered_by_name": self.measure["jurisdiction_name"],
            "measure": self.measure,
            "overridden": self.overridden,
        }


def _path_measures(session: Session, jid: int, start: dt.date, end: dt.date) -> list[tuple[Measure, int, str, str]]:
    """Every measure on the path root..place overlapping [start, end]: (measure, depth, code, name)."""
    return [
        (m, depth, code, name)
        for m, depth, code, name in session.execute(
            select(Measure, Jurisdiction.depth, Jurisdiction.code, Jurisdiction.name)
            .join(JurisdictionClosure, JurisdictionClosure.ancestor_id == Measure.jurisdiction_id)
            .join(Jurisdiction, Jurisdiction.id == Measure.jurisdiction_id)
            .where(JurisdictionClosure.descendant_id == jid)
            .where(overlapping(start, end))
        )
    ]


def in_force(session: Session, code: str, on: dt.date) -> list[InForce]:
    """What is in force at a place on a day, one entry per indicator, each with the jurisdiction that ordered it
    and the measures on the path it overrides (strictest on the path unless relaxation is allowed)."""
    place = places.get(session, code)
    rows = _path_measures(session, place.id, on, on)
    by_id = {m.id: (m, c, n) for m, _, c, n in rows}
    out = []
    for ind in indices.CODES:
        steps = [path_step(m, depth) for m, depth, _, _ in rows if m.indicator == ind]
        if not steps:
            continue
        current, overridden = directives.effective_on_path(steps)
        assert current is not None
        m, c, n = by_id[current.measure_id]
        out.append(
            InForce(
                indicator=ind,
                level=m.level,
                targeted=m.targeted,
                measure=measure_dict(m, c, n),
                overridden=[measure_dict(*by_id[s.measure_id]) for s in overridden],
            )
        )
    return out


def levels_over_time(session: Session, code: str, start: dt.date, end: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Daily (levels, flags) in force at a place, indexed by date, one column per indicator code (0 where
    nothing is in force): the input of :func:`accord.policy.indices.compute_indices`."""
    place = places.get(session, code)
    rows = _path_measures(session, place.id, start, end)
    days = pd.date_range(start, end, freq="D").date
    levels = pd.DataFrame(0.0, index=pd.Index(days, name="date"), columns=list(indices.CODES))
    flags = pd.DataFrame(np.nan, index=levels.index, columns=list(indices.CODES))
    for ind in indices.CODES:
        mine = [(m, depth) for m, depth, _, _ in rows if m.indicator == ind]
        if not mine:
            continue
        col = list(indices.CODES).index(ind)
        for i, day in enumerate(days):
            steps = [path_step(m, depth) for m, depth in mine if m.start <= day and (m.end is None or m.end >= day)]
            current, _ = directives.effective_on_path(steps)
            if current is not None:
                m = next(m for m, _ in mine if m.id == current.measure_id)
                levels.iloc[i, col] = m.level
                flags.iloc[i, col] = 0.0 if m.targeted else 1.0
    return levels, flags


def index_series(session: Session, code: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per day: the indices computed from the registry at a place, beside the published values stored for it
    (OxCGRT import). Columns ``date, index, computed, published``."""
    levels, flags = levels_over_time(session, code, start, end)
    computed = indices.compute_indices(levels, flags)
    long = computed.reset_index().melt(id_vars="date", var_name="index", value_name="computed")
    place = places.get(session, code)
    published = pd.DataFrame(
        session.execute(
            select(IndexValue.date, IndexValue.index, IndexValue.value).where(
                IndexValue.jurisdiction_id == place.id, IndexValue.date >= start, IndexValue.date <= end
            )
        ).all(),
        columns=["date", "index", "published"],
    )
    return long.merge(published, on=["date", "index"], how="left").sort_values(["index", "date"]).reset_index(drop=True)

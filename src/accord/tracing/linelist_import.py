"""Importing a line list through a mapping file, all rows or none: pseudonymous persons (identifying
columns encrypted), their cases, and the contact and infector links between the file's cases, written in bulk.
Parsing and mapping are pure, in :mod:`accord.tracing.linelist` and :mod:`accord.tracing.mapping`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.auth.roles import Actor
from accord.db import db_timestamp, utcnow
from accord.errors import AccordError, Conflict, Problem
from accord.places import service as places
from accord.places.model import JurisdictionClosure
from accord.surveillance import store
from accord.tracing import crypto, linelist, mapping
from accord.tracing.access import allow, audit
from accord.tracing.model import Person
from accord.tracing.person_status import refresh_persons
from accord.tracing.persons import new_refs


@dataclass
class ImportReport:
    file: str
    source: str
    persons: int
    cases: int
    links: int
    placed: dict[str, int]
    unmapped_lines: list[int]
    unknown_links: list[str]
    notes: list[str]

    def lines(self) -> list[str]:
        out = [
            f"{self.file}: {self.cases} cases, {self.persons} persons, {self.links} contact/infector links imported "
            f"from source '{self.source}'",
            "placed by " + ", ".join(f"{k}: {v}" for k, v in sorted(self.placed.items())),
        ]
        if self.unmapped_lines:
            shown = ", ".join(str(n) for n in self.unmapped_lines[:10])
            out.append(
                f"{len(self.unmapped_lines)} row(s) could not be placed in a jurisdiction and were put at the import's "
                f"root (lines {shown}{', ...' if len(self.unmapped_lines) > 10 else ''})"
            )
        if self.unknown_links:
            out.append(
                f"{len(self.unknown_links)} link(s) name cases that are not in the file: "
                + ", ".join(self.unknown_links[:10])
            )
        return out + self.notes


def import_linelist(
    session: Session,
    actor: Actor,
    data: bytes,
    mapping_text: str,
    root_code: str,
    *,
    file: str,
    mapping_file: str = "mapping",
    now: datetime | None = None,
) -> ImportReport:
    """Import a line list through a mapping file: all rows or none. Persons are created pseudonymous (any
    identifying columns encrypted), cases linked to them, contacts and infector links between the file's cases.
    Rows that cannot be placed are put at ``root_code`` and reported by line."""
    now = now or utcnow()
    try:
        spec = linelist.load_mapping(mapping_text, mapping_file)
    except ValueError as exc:
        raise AccordError("the mapping file is not usable", [Problem(str(exc), file=mapping_file)]) from None
    root = places.get(session, root_code)
    allow(session, actor, root.id, "import line lists")
    parsed = linelist.parse(data, spec, file)
    if parsed.problems:
        raise AccordError(f"nothing was imported from {file}", parsed.problems, total=len(parsed.problems))
    frame = parsed.frame
    source = f"{spec.name}:{file}"[:40]
    if session.scalar(select(Person.id).where(Person.source == source).limit(1)):
        raise Conflict(f"{file} was imported before from source '{spec.name}'; nothing was imported")
    placed = _place_rows(session, actor, frame, spec, root.id)
    person_ids = bulk_persons(session, frame, placed.ids, source, now)
    _bulk_cases(session, frame, person_ids, placed.ids, source, now)
    links, unknown = _bulk_links(session, frame, person_ids, now)
    refresh_persons(session, person_ids.tolist(), now)
    how = pd.Series(placed.how).value_counts()
    report = ImportReport(
        file=file,
        source=spec.name,
        persons=len(person_ids),
        cases=len(frame),
        links=links,
        placed={str(k): int(v) for k, v in how.items()},
        unmapped_lines=placed.unmapped_lines(frame["line"].to_numpy()),
        unknown_links=unknown,
        notes=parsed.notes,
    )
    audit(
        session,
        actor,
        "tracing.import",
        file,
        root.id,
        source=spec.name,
        cases=len(frame),
        unmapped=len(report.unmapped_lines),
        notes=parsed.notes,
    )
    return report


def _place_rows(
    session: Session, actor: Actor, frame: pd.DataFrame, spec: linelist.Mapping, root_id: int
) -> mapping.Placed:
    """Each row's residence in the root's subtree (by code, then by name; the root where neither matches); the
    actor must be allowed every place a row lands in."""
    index = places.load_index(session)
    within = set(
        session.scalars(select(JurisdictionClosure.descendant_id).where(JurisdictionClosure.ancestor_id == root_id))
    )
    placed = mapping.place(
        frame["residence_code"],
        list(frame["residence_names"]),
        index.by_code,
        index.names,
        within,
        root_id,
        spec.code_fallbacks,
        spec.name_suffixes,
    )
    if not actor.unrestricted:
        for jid in np.unique(placed.ids):
            allow(session, actor, int(jid), "import line lists")
    return placed


IDENTITY_COLUMNS = ("name", "phone", "national_id", "address", "sex", "age")


def bulk_persons(
    session: Session, frame: pd.DataFrame, residence: np.ndarray, source: str, now: datetime
) -> np.ndarray:
    name = store.dialect(session)
    refs = new_refs(len(frame))
    ts = db_timestamp(now, name)
    store.insert_rows(
        session,
        "tracing_person",
        ["ref", "residence_id", "case_status", "source", "source_ref", "created_at", "changed_at"],
        [(r, int(j), "none", source, cid, ts, ts) for r, j, cid in zip(refs, residence, frame["case_id"], strict=True)],
    )
    ids = store.read_frame(session, "SELECT id, source_ref FROM tracing_person WHERE source = :s", {"s": source})
    id_of = pd.Series(ids["id"].to_numpy(), index=ids["source_ref"].to_numpy())
    person_ids = id_of.reindex(frame["case_id"].to_numpy()).to_numpy(np.int64)
    keys = crypto.keyring()
    identities, identifiers = [], []
    for pid, ref, fields in zip(person_ids, refs, frame[list(IDENTITY_COLUMNS)].to_dict("records"), strict=True):
        clean = {str(k): v for k, v in fields.items() if v}
        identities.append((int(pid), keys.encrypt(ref, clean), keys.key_id))
        identifiers += [(int(pid), k, d) for k, d in keys.identifier_digests(clean)]
    store.insert_rows(session, "tracing_identity", ["person_id", "ciphertext", "key_id"], identities)
    store.insert_rows(session, "tracing_identifier", ["person_id", "kind", "digest"], identifiers)
    return person_ids


CASE_COLUMNS = [
    "person_id",
    "source_ref",
    "classification",
    "onset_date",
    "report_date",
    "confirmation_date",
    "origin",
    "severity",
    "outcome",
    "outcome_date",
    "residence_id",
    "created_at",
    "updated_at",
]


def _bulk_cases(
    session: Session, frame: pd.DataFrame, person_ids: np.ndarray, residence: np.ndarray, source: str, now: datetime
) -> None:
    """One case per row, and the first event of each case's history (its classification, imported)."""
    name = store.dialect(session)
    ts = db_timestamp(now, name)
    store.insert_rows(session, "tracing_case", CASE_COLUMNS, _case_rows(frame, person_ids, residence, name, now))
    cases = store.read_frame(
        session,
        "SELECT c.id, c.classification FROM tracing_case c JOIN tracing_person p ON p.id = c.person_id "
        "WHERE p.source = :s",
        {"s": source},
    )
    store.insert_rows(
        session,
        "tracing_case_event",
        ["case_id", "at", "field", "new", "reason"],
        [
            (int(c), ts, "classification", k, f"imported from {source}")
            for c, k in zip(cases["id"], cases["classification"], strict=True)
        ],
    )


def _case_rows(
    frame: pd.DataFrame, person_ids: np.ndarray, residence: np.ndarray, name: str, now: datetime
) -> list[tuple[Any, ...]]:
    """Rows of ``CASE_COLUMNS``; a case without a report date is reported on its confirmation or onset day, or
    today."""
    ts = db_timestamp(now, name)
    today = now.date()

    def d(v: Any) -> Any:
        return None if v is None or pd.isna(v) else store.date_param(v, name)

    rows = []
    for r, pid, jid in zip(frame.itertuples(index=False), person_ids, residence, strict=True):
        report = r.report_date or r.confirmation_date or r.onset_date or today
        rows.append(
            (
                int(pid),
                r.case_id,
                r.classification,
                d(r.onset_date),
                d(report),
                d(r.confirmation_date),
                r.origin,
                r.severity or None,
                r.outcome or None,
                d(r.outcome_date),
                int(jid),
                ts,
                ts,
            )
        )
    return rows


def _bulk_links(session: Session, frame: pd.DataFrame, person_ids: np.ndarray, now: datetime) -> tuple[int, list[str]]:
    """Infector links (directed) and contact links (undirected, stored once per pair) among the file's cases."""
    pid_of = dict(zip(frame["case_id"], person_ids.tolist(), strict=True))
    onset_of = dict(zip(frame["case_id"], frame["onset_date"], strict=True))
    rows: dict[tuple[int, int], tuple[bool, Any]] = {}
    unknown: list[str] = []
    for cid, infectors, contacts in zip(frame["case_id"], frame["infector_ids"], frame["contact_ids"], strict=True):
        for other in infectors:
            if other not in pid_of:
                unknown.append(f"{cid}->{other}")
                continue
            rows[(pid_of[other], pid_of[cid])] = (True, onset_of[cid])
        for other in contacts:
            if other not in pid_of:
                unknown.append(f"{cid}~{other}")
                continue
            a, b = sorted((pid_of[other], pid_of[cid]))
            if (a, b) not in rows and (b, a) not in rows:
                rows[(a, b)] = (False, None)
    name = store.dialect(session)
    ts = db_timestamp(now, name)
    store.insert_rows(
        session,
        "tracing_contact",
        ["source_id", "contact_id", "setting", "infector", "last_exposure", "created_at"],
        [
            (a, b, "other", inf, None if day is None else store.date_param(day, name), ts)
            for (a, b), (inf, day) in rows.items()
        ],
    )
    return len(rows), unknown

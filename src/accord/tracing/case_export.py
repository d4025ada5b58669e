"""The cases of a subtree as one table: anonymous for analysts, or with the persons' identities for roles
allowed personal data (audited with the persons disclosed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from accord.auth.roles import Actor, Role
from accord.places import service as places
from accord.surveillance import store
from accord.tracing import crypto
from accord.tracing.access import PERSONAL, allow, audit

EXPORT_COLUMNS = [
    "case",
    "classification",
    "onset_date",
    "report_date",
    "confirmation_date",
    "origin",
    "severity",
    "outcome",
    "outcome_date",
    "residence",
]


def export_cases(session: Session, actor: Actor, root_code: str, personal: bool = False) -> pd.DataFrame:
    """The cases of a subtree, one row each. Without ``personal``: no person reference and no identifying
    field (cases numbered 1..n), readable by analysts. With it: the person's ref and decrypted identity, only
    for roles allowed personal data, and audited with the persons it disclosed."""
    root = places.get(session, root_code)
    roles = PERSONAL if personal else PERSONAL | {Role.ANALYST}
    allow(session, actor, root.id, "export personal data" if personal else "export cases", roles)
    frame = store.read_frame(
        session,
        "SELECT p.ref, i.ciphertext, c.classification, c.onset_date, c.report_date, c.confirmation_date, c.origin, "
        "c.severity, c.outcome, c.outcome_date, j.code AS residence FROM tracing_case c "
        "JOIN tracing_person p ON p.id = c.person_id LEFT JOIN tracing_identity i ON i.person_id = p.id "
        "JOIN jurisdiction_closure k ON k.descendant_id = c.residence_id AND k.ancestor_id = :root "
        "JOIN jurisdiction j ON j.id = c.residence_id ORDER BY c.report_date, c.id",
        {"root": root.id},
    )
    frame.insert(0, "case", np.arange(1, len(frame) + 1))
    if not personal:
        audit(session, actor, "tracing.export.cases", root_code, root.id, personal=False, rows=len(frame))
        return frame[EXPORT_COLUMNS]
    keys = crypto.keyring()
    people = [
        keys.decrypt(r, c) if c is not None else {} for r, c in zip(frame["ref"], frame["ciphertext"], strict=True)
    ]
    out = frame[EXPORT_COLUMNS].assign(person=frame["ref"])
    for key in crypto.IDENTITY_FIELDS:
        out[key] = [p.get(key, "") for p in people]
    audit(
        session,
        actor,
        "tracing.export.personal",
        root_code,
        root.id,
        personal=True,
        rows=len(out),
        persons=frame["ref"].tolist()[:1000],
    )
    return out

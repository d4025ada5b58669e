"""Use cases of the healthcode capability: keys and trust lists, rule sets, statuses, issuing and overrides.

Private keys are encrypted (PKCS#8, AES-256-CBC with a scrypt-derived key, via ``cryptography``) with the KEK
before they are stored and are decrypted only for the moment of signing; they never appear in logs or errors.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

import pandas as pd
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accord.auth.roles import Actor
from accord.auth.service import audit
from accord.db import utcnow
from accord.errors import AccordError, Conflict, Forbidden, NotFound, Problem
from accord.healthcode import codec, rules, trustlist
from accord.healthcode.config import HealthcodeSettings, key_encryption_key
from accord.healthcode.model import PersonStatus, RuleSetVersion, SigningKey, TrustListVersion


def _seal(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(key_encryption_key()),
    )


def _unseal(row: SigningKey) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(row.private_key, password=key_encryption_key())
    except (ValueError, TypeError):
        raise AccordError(f"the private key {row.kid} cannot be opened with this key-encryption key") from None
    return cast(ec.EllipticCurvePrivateKey, key)


def _cert(row: SigningKey) -> x509.Certificate:
    return x509.load_der_x509_certificate(row.certificate)


def root_key(session: Session) -> SigningKey:
    row = session.scalars(select(SigningKey).where(SigningKey.role == "root", SigningKey.status == "active")).first()
    if row is None:
        raise NotFound("there is no health-code root key yet; run 'accord healthcode keys init-root CODE'")
    return row


def init_root(session: Session, jurisdiction: str, actor: Actor, now: datetime | None = None) -> SigningKey:
    if session.scalars(select(SigningKey).where(SigningKey.role == "root")).first() is not None:
        raise Conflict("a health-code root key exists already")
    now = now or utcnow()
    key = trustlist.new_key()
    cert = trustlist.root_certificate(key, jurisdiction, now=now)
    row = SigningKey(
        kid=codec.kid_of(cert).hex(),
        jurisdiction=jurisdiction,
        role="root",
        certificate=trustlist.der(cert),
        private_key=_seal(key),
        status="active",
        created_at=now,
    )
    session.add(row)
    audit(session, actor.user_id, "healthcode.root.create", row.kid, {"jurisdiction": jurisdiction})
    return row


def add_issuer(session: Session, jurisdiction: str, actor: Actor, now: datetime | None = None) -> SigningKey:
    """A new issuer key for a province or city, certified by the root; an older active key of the same
    jurisdiction is retired (it stays in the trust list so codes it signed verify until they expire)."""
    now = now or utcnow()
    root = root_key(session)
    key = trustlist.new_key()
    cert = trustlist.issuer_certificate(
        _unseal(root), _cert(root), key.public_key(), jurisdiction, now=now, days=HealthcodeSettings().issuer_days
    )
    for old in session.scalars(
        select(SigningKey).where(
            SigningKey.role == "issuer", SigningKey.jurisdiction == jurisdiction, SigningKey.status == "active"
        )
    ):
        old.status = "retired"
    row = SigningKey(
        kid=codec.kid_of(cert).hex(),
        jurisdiction=jurisdiction,
        role="issuer",
        certificate=trustlist.der(cert),
        private_key=_seal(key),
        status="active",
        created_at=now,
    )
    session.add(row)
    audit(session, actor.user_id, "healthcode.key.issue", row.kid, {"jurisdiction": jurisdiction})
    return row


def revoke(session: Session, kid: str, reason: str, actor: Actor, now: datetime | None = None) -> SigningKey:
    if not reason.strip():
        raise AccordError("a revocation needs a reason", [Problem("empty", field="reason")])
    row = session.scalars(select(SigningKey).where(SigningKey.kid == kid, SigningKey.role == "issuer")).first()
    if row is None:
        raise NotFound(f"no issuer key with kid {kid}")
    row.status, row.revoked_at, row.revoked_reason = "revoked", now or utcnow(), reason
    audit(session, actor.user_id, "healthcode.key.revoke", kid, {"reason": reason})
    return row


def publish_trust_list(session: Session, actor: Actor, now: datetime | None = None) -> TrustListVersion:
    now = now or utcnow()
    root = root_key(session)
    issuers = session.scalars(select(SigningKey).where(SigningKey.role == "issuer").order_by(SigningKey.id)).all()
    entries = [
        trustlist.Entry(_cert(r), r.jurisdiction, r.status) for r in issuers if _cert(r).not_valid_after_utc > now
    ]
    latest = session.scalars(select(TrustListVersion).order_by(TrustListVersion.version.desc())).first()
    version = (latest.version + 1) if latest else 1
    doc = trustlist.sign_trust_list(
        entries, root_key=_unseal(root), root_cert=_cert(root), version=version, issued_at=now
    )
    row = TrustListVersion(version=version, document=doc, issued_at=now)
    session.add(row)
    audit(session, actor.user_id, "healthcode.trustlist.publish", str(version), {"keys": len(entries)})
    return row


def current_trust_list(session: Session) -> TrustListVersion:
    row = session.scalars(select(TrustListVersion).order_by(TrustListVersion.version.desc())).first()
    if row is None:
        raise NotFound("no trust list has been published yet; run 'accord healthcode trustlist publish'")
    return row


def list_keys(session: Session) -> list[SigningKey]:
    return list(session.scalars(select(SigningKey).order_by(SigningKey.id)))


# ---------------------------------------------------------------------------------------------- rule sets


def publish_rules(session: Session, body: dict[str, Any], actor: Actor, now: datetime | None = None) -> rules.RuleSet:
    try:
        ruleset = rules.RuleSet.from_dict(body)
    except (ValueError, KeyError, TypeError) as exc:
        raise AccordError(f"the rule set is invalid: {exc}") from None
    if session.get(RuleSetVersion, ruleset.version) is not None:
        raise Conflict(f"rule set {ruleset.version} is published already; published versions never change")
    session.add(RuleSetVersion(version=ruleset.version, body=ruleset.as_dict(), published_at=now or utcnow()))
    audit(session, actor.user_id, "healthcode.rules.publish", ruleset.version, None)
    return ruleset


def ruleset_version(session: Session, version: str) -> rules.RuleSet:
    row = session.get(RuleSetVersion, version)
    if row is not None:
        return rules.RuleSet.from_dict(row.body)
    if version == rules.DEFAULT.version:
        return rules.DEFAULT
    raise NotFound(f"rule set {version} is not published")


def current_rules(session: Session) -> rules.RuleSet:
    row = session.scalars(select(RuleSetVersion).order_by(RuleSetVersion.published_at.desc())).first()
    return rules.RuleSet.from_dict(row.body) if row else rules.DEFAULT


# ----------------------------------------------------------------------------------------------- statuses

InputsFn = Callable[..., pd.DataFrame]
#: a status with no date-driven change is still re-evaluated this often
RECHECK = timedelta(days=7)


def _other(module: str, name: str) -> Any:
    """A function another capability provides, or None while it does not exist yet."""
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def nearest_ancestor(index: Any, targets: set[str]) -> dict[str, str]:
    """For every jurisdiction code, the nearest ancestor-or-self among ``targets`` (absent when none)."""
    code_of = dict(zip(index.ids.tolist(), index.codes.tolist(), strict=True))
    parent = dict(zip(index.ids.tolist(), index.parent_ids.tolist(), strict=True))
    out: dict[str, str] = {}
    for jid, code in code_of.items():
        at: int = jid
        while at != -1:
            if code_of[at] in targets:
                out[code] = code_of[at]
                break
            at = parent[at]
    return out


def inputs_from_tracing(session: Session, now: datetime, changed_since: datetime | None = None) -> pd.DataFrame:
    """Our input frame from tracing's health_inputs and policy's risk_levels (see docs/healthcode.md): the risk
    level of the nearest classified ancestor of the residence, and the issuing jurisdiction (the nearest
    ancestor with an active issuer key). Records merged into another person are left out."""
    from accord.places import service as places

    health_inputs = _other("accord.tracing.person_status", "health_inputs")
    if health_inputs is None:
        raise NotFound("tracing does not provide health_inputs yet, so statuses cannot be computed from cases")
    frame = health_inputs(session, changed_since=changed_since)
    if "merged_into" in frame:
        frame = frame[frame["merged_into"].isna()]
    risk_levels = _other("accord.policy.risk_areas", "risk_levels")
    levels: dict[str, str] = risk_levels(session, now.date()) if risk_levels else {}
    index = places.load_index(session)
    classified = nearest_ancestor(index, set(levels))
    issuers = {
        r.jurisdiction
        for r in session.scalars(select(SigningKey).where(SigningKey.role == "issuer", SigningKey.status == "active"))
    }
    issuing = nearest_ancestor(index, issuers)
    frame = frame.copy()
    frame["residence_risk"] = frame["residence_code"].map(lambda c: levels.get(classified.get(c, "")))
    frame["jurisdiction"] = frame["residence_code"].map(issuing)
    return cast(pd.DataFrame, frame.reset_index(drop=True))


def refresh_from_tracing(session: Session, now: datetime, *, full: bool = False) -> dict[str, int]:
    """Re-evaluate only who needs it: inputs changed since the last run, a date-driven change is due, or the
    residence area's risk level moved. ``full`` re-evaluates everybody."""
    watermark = session.scalar(select(func.max(PersonStatus.evaluated_at)))
    frame = inputs_from_tracing(session, now, None)
    if frame.empty:
        return {"persons": 0, "evaluated": 0}
    stored = pd.DataFrame(
        session.execute(select(PersonStatus.person_id, PersonStatus.valid_until, PersonStatus.residence_risk)).all(),
        columns=["person_id", "valid_until", "stored_risk"],
    )
    merged = frame.merge(stored, on="person_id", how="left")
    if full or watermark is None:
        todo = merged
    else:
        changed = merged["changed_at"] > pd.Timestamp(watermark)
        new = merged["valid_until"].isna()
        due = pd.to_datetime(merged["valid_until"], utc=True) <= pd.Timestamp(now)
        risk_moved = merged["residence_risk"].fillna("") != merged["stored_risk"].fillna("")
        todo = merged[changed | new | due | risk_moved]
    refresh_statuses(session, todo[frame.columns], now)
    return {"persons": len(frame), "evaluated": len(todo)}


def refresh_statuses(session: Session, frame: pd.DataFrame, now: datetime, ruleset: rules.RuleSet | None = None) -> int:
    """Evaluate the given persons (a frame with person_id and the rule inputs) and store their statuses."""
    ruleset = ruleset or current_rules(session)
    result = rules.evaluate_frame(ruleset, frame.reset_index(drop=True), now)
    ids = frame["person_id"].astype(str).tolist()
    keyed = frame.set_index(frame["person_id"].astype(str))
    extra = {c: keyed[c].to_dict() for c in ("jurisdiction", "initials", "birth_day", "residence_risk") if c in frame}
    existing = {s.person_id: s for s in session.scalars(select(PersonStatus).where(PersonStatus.person_id.in_(ids)))}
    fallback = now + RECHECK
    for pid, colour, reasons, change in zip(
        ids, result["colour"], result["reasons"], result["next_change"], strict=True
    ):
        row = existing.get(pid) or PersonStatus(person_id=pid)
        row.colour, row.reasons, row.ruleset = str(colour), str(reasons), ruleset.version
        for col in ("jurisdiction", "initials", "birth_day"):
            if col in extra and pd.notna(extra[col][pid]):
                setattr(row, col, str(extra[col][pid]))
        if "residence_risk" in extra:
            risk = extra["residence_risk"][pid]
            row.residence_risk = None if pd.isna(risk) else str(risk)
        # the status holds until a rule's date comparison flips, or until the periodic re-check
        row.evaluated_at = now
        row.valid_until = fallback if pd.isna(change) else min(change.to_pydatetime(), fallback)
        if pid not in existing:
            session.add(row)
    return len(ids)


def override(
    session: Session, person_id: str, colour: str, reason: str, hours: float, actor: Actor, now: datetime | None = None
) -> PersonStatus:
    if colour not in rules.COLOURS:
        raise AccordError(f"colour must be one of {', '.join(rules.COLOURS)}", [Problem(colour, field="colour")])
    if not reason.strip():
        raise AccordError("a manual override needs a reason", [Problem("empty", field="reason")])
    row = session.get(PersonStatus, person_id)
    if row is None:
        raise NotFound(f"person {person_id} has no health-code status")
    now = now or utcnow()
    row.override_colour, row.override_reason = colour, reason
    row.override_by, row.override_until = actor.username, now + timedelta(hours=hours)
    audit(
        session,
        actor.user_id,
        "healthcode.override",
        person_id,
        {"from": row.colour, "to": colour, "reason": reason, "hours": hours},
    )
    return row


def effective(row: PersonStatus, now: datetime) -> tuple[str, str]:
    """(colour, reasons) with an override in force taking precedence."""
    if row.override_colour and row.override_until and row.override_until > now:
        return row.override_colour, f"override: {row.override_reason}"
    return row.colour, row.reasons


def person_place(session: Session, row: PersonStatus) -> str | None:
    """Where a person belongs, for scope: their residence when tracing knows them, else the jurisdiction whose
    key signs their codes (the only place a status loaded without tracing carries)."""
    residence_of = _other("accord.tracing.persons", "residence_of")
    return (residence_of(session, row.person_id) if residence_of else None) or row.jurisdiction


def require_in_scope(session: Session, actor: Actor, row: PersonStatus, what: str) -> None:
    """Refuse (403) unless the person belongs in the actor's subtree: the person decides, never the request."""
    from accord.places import service as places

    if actor.unrestricted:
        return
    code = person_place(session, row)
    try:
        jid = places.get(session, code).id if code else None
    except NotFound:
        jid = None
    if jid is None or actor.scope_id is None or not places.is_within(session, actor.scope_id, jid):
        raise Forbidden(f"{actor.username} may not {what} for person {row.person_id}: outside their jurisdiction")


def initials_of(name: str) -> str:
    """The initials a code prints: the first letter of each part of the name, at most three ("Ada Lovelace": AL)."""
    return "".join(part[0] for part in name.split())[:3].upper()


def holder_identity(session: Session, actor: Actor, row: PersonStatus) -> tuple[str | None, str | None]:
    """Initials and day of birth (MM-DD) on record: the status's own, else derived from the person's identity in
    tracing (an audited read of personal data, under tracing's own role and scope rules)."""
    if row.initials and row.birth_day:
        return row.initials, row.birth_day
    residence_of = _other("accord.tracing.persons", "residence_of")
    read_identity = _other("accord.tracing.persons", "read_identity")
    if residence_of is None or read_identity is None or residence_of(session, row.person_id) is None:
        return row.initials, row.birth_day
    identity = read_identity(session, actor, row.person_id, "issue a health code")
    birth = str(identity.get("birth_date") or "")
    return (
        row.initials or initials_of(str(identity.get("name") or "")) or None,
        row.birth_day or (birth[5:10] if len(birth) >= 10 else None),
    )


def _agree(recorded: str | None, given: str | None, field: str, person_id: str, *, trusted: bool) -> str | None:
    """The value on record. A given value must be the same (initials compare case-blind); only a trusted caller
    (the local operator) may supply one the record lacks."""
    if given is None or not given.strip():
        return recorded
    if recorded is None:
        if trusted:
            return given
        raise AccordError(
            f"person {person_id}: no {field} is on record, and a request cannot supply it",
            [Problem("a code carries what is on record; refresh the person's status", field=field)],
        )
    if given.strip().upper() != recorded.strip().upper():
        raise AccordError(
            f"person {person_id}: the {field} given differs from the record",
            [Problem("a code carries what is on record, not what a request says", field=field)],
        )
    return recorded


def issue_code(
    session: Session,
    person_id: str,
    issuer_jurisdiction: str | None = None,
    *,
    initials: str | None = None,
    birth_day: str | None = None,
    now: datetime | None = None,
    actor: Actor | None = None,
) -> tuple[str, PersonStatus]:
    """Sign a code for a person's current status with the active issuer key of the person's jurisdiction.

    What the code says comes from the record: the issuing jurisdiction (the nearest ancestor of the residence
    with an issuer key, stored when the status is evaluated) and the holder's initials and day of birth (the
    status's own, else tracing's identity, read as ``actor``). Given values that differ from the record are
    refused. With an ``actor`` (a user over the API) nothing comes from the request; without one (the local
    operator at the CLI) given values fill what the record lacks.
    """
    now = now or utcnow()
    row = session.get(PersonStatus, person_id)
    if row is None:
        raise NotFound(f"person {person_id} has no health-code status")
    trusted = actor is None
    recorded = holder_identity(session, actor, row) if actor is not None else (row.initials, row.birth_day)
    issuer_jurisdiction = _agree(row.jurisdiction, issuer_jurisdiction, "jurisdiction", person_id, trusted=trusted)
    initials = _agree(recorded[0], initials, "initials", person_id, trusted=trusted)
    birth_day = _agree(recorded[1], birth_day, "birth_day", person_id, trusted=trusted)
    if not issuer_jurisdiction or not initials or not birth_day:
        raise AccordError(f"person {person_id}: the issuing jurisdiction, initials and day of birth are needed")
    if not re.fullmatch(r"(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])", birth_day):
        raise AccordError("the day of birth must be MM-DD", [Problem(birth_day, field="birth_day")])
    if row.valid_until <= now:
        raise Conflict(f"the status of {person_id} expired at {row.valid_until.isoformat()}; refresh it first")
    key = session.scalars(
        select(SigningKey).where(
            SigningKey.role == "issuer", SigningKey.jurisdiction == issuer_jurisdiction, SigningKey.status == "active"
        )
    ).first()
    if key is None:
        raise NotFound(f"{issuer_jurisdiction} has no active issuer key")
    colour, _ = effective(row, now)
    ruleset = ruleset_version(session, row.ruleset)
    until = min(row.valid_until, now + timedelta(hours=ruleset.validity_hours[colour]))
    if row.override_colour and row.override_until and row.override_until > now:
        until = min(until, row.override_until)
    claim = codec.HealthClaim(colour, row.ruleset, issuer_jurisdiction, initials[:3].upper(), birth_day)
    code = codec.issue(
        claim,
        issuer=issuer_jurisdiction,
        private_key=_unseal(key),
        kid=bytes.fromhex(key.kid),
        issued_at=now,
        validity=until - now,
    )
    return code, row

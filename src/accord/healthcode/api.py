"""HTTP API of the healthcode capability (``/api/v1/healthcode``).

Public (no token): the rule set in force and every published version, the signed trust list, and a
verification endpoint (the same verifier the offline page and the CLI use). With a token: the issuer API
(sign a code for a person), a person's status with its reasons, and manual overrides (reason required,
audited). Errors are RFC 9457 problem documents.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from accord.auth.roles import APPROVERS, Role
from accord.errors import Forbidden, NotFound
from accord.healthcode import codec, service, trustlist, workplace
from accord.healthcode.model import PersonStatus, RuleSetVersion
from accord.web.deps import SessionDep, SettingsDep, UserDep
from accord.web.params import Day, PathId

router = APIRouter(prefix="/api/v1/healthcode", tags=["healthcode"])

ISSUERS = frozenset({Role.COORDINATOR, Role.ADMIN, Role.TRACER})


class VerifyIn(BaseModel):
    code: str = Field(max_length=codec.MAX_CODE_CHARS + 8)
    at: datetime | None = Field(default=None, description="validation time (default: now)")


class IssueIn(BaseModel):
    """Everything a code says comes from the person's record; a value given here must match it (or 422)."""

    jurisdiction: str | None = Field(default=None, max_length=64, description="must be the person's, if given")
    initials: str | None = Field(default=None, max_length=3, description="must be the record's, if given")
    birth_day: str | None = Field(default=None, max_length=5, description="MM-DD; must be the record's, if given")


class OverrideIn(BaseModel):
    colour: str
    reason: str = Field(max_length=2000)
    hours: float = Field(default=24, gt=0, le=24 * 30)


def jsonable(value: Any) -> Any:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(value)


def holder_token(secret: str, person_id: str) -> str:
    """The capability in a holder's link: only whoever got the link sees that person's status and reasons."""
    return hmac.new(secret.encode(), b"healthcode-holder:" + person_id.encode(), hashlib.sha256).hexdigest()[:24]


@router.get("/rules")
def rules_in_force(session: SessionDep) -> dict[str, Any]:
    return service.current_rules(session).as_dict()


@router.post("/rules", status_code=201)
def publish_rules(body: dict[str, Any], session: SessionDep, actor: UserDep) -> dict[str, Any]:
    """Publish a new rule set version (national admins): versions are never edited, only superseded."""
    if not actor.unrestricted:
        raise Forbidden(f"{actor.username} may not publish health-code rules (national administrators may)")
    return service.publish_rules(session, body, actor).as_dict()


@router.get("/rules/versions")
def rule_versions(session: SessionDep) -> list[dict[str, Any]]:
    rows = session.scalars(select(RuleSetVersion).order_by(RuleSetVersion.published_at)).all()
    return [{"version": r.version, "published_at": r.published_at.isoformat()} for r in rows]


@router.get("/rules/{version}")
def rule_version(version: str, session: SessionDep) -> dict[str, Any]:
    return service.ruleset_version(session, version).as_dict()


@router.get("/trustlist")
def trust_list(session: SessionDep) -> Response:
    row = service.current_trust_list(session)
    return Response(row.document, media_type="application/json", headers={"Cache-Control": "public, max-age=300"})


@router.post("/verify")
def verify(body: VerifyIn, session: SessionDep) -> dict[str, Any]:
    trust = trustlist.load_trust_list(service.current_trust_list(session).document).trust
    v = codec.verify(body.code, trust, body.at or datetime.now(UTC))
    return {
        "valid": v.valid,
        "reason": v.reason.value,
        "stage": v.stage.value,
        "detail": v.detail,
        "kid": v.kid,
        "claims": v.claims,
    }


def _status(session: SessionDep, person_id: str) -> PersonStatus:
    row = session.get(PersonStatus, person_id)
    if row is None:
        raise NotFound(f"person {person_id} has no health-code status")
    return row


def status_view(session: SessionDep, row: PersonStatus, now: datetime) -> dict[str, Any]:
    colour, reasons = service.effective(row, now)
    ruleset = service.ruleset_version(session, row.ruleset)
    described = {r["id"]: r.get("description", "") for r in ruleset.rules}
    return {
        "person_id": row.person_id,
        "colour": colour,
        "ruleset": row.ruleset,
        "reasons": [{"id": r, "description": described.get(r, "")} for r in reasons.split(";") if r in described],
        "override": {"colour": row.override_colour, "reason": row.override_reason, "until": row.override_until}
        if row.override_colour and row.override_until and row.override_until > now
        else None,
        "evaluated_at": row.evaluated_at,
        "changes_at": row.valid_until,
    }


@router.get("/statuses/{person_id}")
def person_status(person_id: str, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    if not actor.can(ISSUERS):
        raise Forbidden(f"{actor.username} may not read health-code statuses")
    row = _status(session, person_id)
    service.require_in_scope(session, actor, row, "read health-code statuses")
    return status_view(session, row, datetime.now(UTC))


@router.post("/statuses/{person_id}/code")
def issue(person_id: str, body: IssueIn, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    """The issuer API: sign a code for the person's current status. Scope, signing key, initials and day of
    birth all follow the person's record; values in the body are only checked against it."""
    if not actor.can(ISSUERS):
        raise Forbidden(f"{actor.username} may not issue health codes")
    row = _status(session, person_id)
    service.require_in_scope(session, actor, row, "issue health codes")
    code, row = service.issue_code(
        session, person_id, body.jurisdiction, initials=body.initials, birth_day=body.birth_day, actor=actor
    )
    claims = codec.decode(code).claims
    return {
        "code": code,
        "colour": claims[codec.CLAIM_ACCORD][1],
        "expires_at": datetime.fromtimestamp(claims[codec.CLAIM_EXP], UTC),
        "svg": codec.qr_svg(code),
    }


@router.post("/statuses/{person_id}/override")
def override(person_id: str, body: OverrideIn, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    if not actor.can(APPROVERS):
        raise Forbidden(f"{actor.username} may not override health codes (coordinators and admins may)")
    row = _status(session, person_id)
    service.require_in_scope(session, actor, row, "override health codes")
    row = service.override(session, person_id, body.colour, body.reason, body.hours, actor)
    return status_view(session, row, datetime.now(UTC))


@router.get("/statuses/{person_id}/holder-link")
def holder_link(person_id: str, session: SessionDep, actor: UserDep, settings: SettingsDep) -> dict[str, str]:
    """The private link a holder gets (e.g. by SMS): their code and their reasons."""
    if not actor.can(ISSUERS):
        raise Forbidden(f"{actor.username} may not hand out holder links")
    # the link shows the colour and its reasons: health data, for issuers of the person's own jurisdiction
    service.require_in_scope(session, actor, _status(session, person_id), "hand out holder links")
    return {"url": f"/public/healthcode/me/{person_id}/{holder_token(settings.secret_key, person_id)}"}


# ------------------------------------------------------------------------------------------ return to work


class EmployerIn(BaseModel):
    name: str = Field(max_length=200)
    jurisdiction: str = Field(max_length=64)


class EmployeeIn(BaseModel):
    ref: str = Field(max_length=64, description="the employer's own reference for the employee")
    initials: str = Field(max_length=3)
    birth_day: str = Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$", description="MM-DD")


class EntranceIn(BaseModel):
    ref: str = Field(max_length=64)
    code: str = Field(max_length=codec.MAX_CODE_CHARS + 8)


EmployerKey = Annotated[str | None, Header(alias="X-Employer-Key")]


@router.post("/employers", status_code=201)
def register_employer(body: EmployerIn, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    if not actor.can(APPROVERS):
        raise Forbidden(f"{actor.username} may not register employers (coordinators and admins may)")
    row, key = workplace.register(session, body.name, body.jurisdiction, actor)
    return {
        "id": row.id,
        "name": row.name,
        "jurisdiction": row.jurisdiction,
        "key": key,
        "note": "keep the key: it is shown only now",
    }


@router.post("/employers/{employer_id}/employees", status_code=201)
def add_employee(
    employer_id: PathId, body: EmployeeIn, session: SessionDep, settings: SettingsDep, key: EmployerKey = None
) -> dict[str, Any]:
    employer = workplace.employer_by_key(session, employer_id, key)
    row = workplace.add_employee(session, employer, body.ref, body.initials, body.birth_day)
    token = workplace.declaration_token(settings.secret_key, row.id)
    return {"id": row.id, "ref": row.ref, "declare_url": f"/public/healthcode/declare/{row.id}/{token}"}


@router.post("/employers/{employer_id}/entrance")
def entrance_check(
    employer_id: PathId, body: EntranceIn, session: SessionDep, key: EmployerKey = None
) -> dict[str, Any]:
    employer = workplace.employer_by_key(session, employer_id, key)
    decision = workplace.check_entrance(session, employer, body.ref, body.code, datetime.now(UTC))
    return {"admitted": decision.admitted, "reason": decision.reason}


@router.get("/employers/{employer_id}/summary")
def employer_summary(
    employer_id: PathId, session: SessionDep, key: EmployerKey = None, day: Day | None = None
) -> dict[str, Any]:
    employer = workplace.employer_by_key(session, employer_id, key)
    return workplace.summary(session, employer, day or datetime.now(UTC).date())


class RulesEvaluateIn(BaseModel):
    rules: Any = Field(description="the rule set: an array of rules in the EU DCC Gateway format, or one rule")
    payload: Any = Field(description="the certificate's DCC payload (ver, nam, dob, v | t | r)")
    at: datetime | None = Field(default=None, description="validation clock (default: now)")
    value_sets: dict[str, Any] | list[Any] | None = Field(default=None, description="id -> codes, or EU value sets")
    country: str | None = Field(default=None, max_length=8, description="country of arrival (external.countryCode)")


@router.post("/rules/evaluate")
def evaluate_eu_rules(body: RulesEvaluateIn) -> dict[str, Any]:
    """Evaluate EU business rules (CertLogic) on a certificate payload at a validation clock, as
    ``accord healthcode rules evaluate`` does. Public and pure: nothing is read or stored."""
    from accord.errors import AccordError, Problem
    from accord.healthcode import eu_rules

    try:
        rules = eu_rules.parse_rules(body.rules, "rules")
        sets = eu_rules.parse_value_sets(body.value_sets, "value_sets") if body.value_sets is not None else None
    except eu_rules.RuleSetError as exc:
        field = "value_sets" if str(exc).startswith("value_sets") else "rules"
        raise AccordError("invalid rule set", [Problem(str(exc), field=field)]) from None
    at = body.at or datetime.now(UTC)
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return eu_rules.evaluate(rules, body.payload, at, value_sets=sets, country=body.country).as_dict()

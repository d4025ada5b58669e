"""HTTP API of the tracing capability (``/api/v1/tracing``). Every endpoint needs a token; scope and role are
checked by the service (403 outside the caller's subtree) and every personal-data read or write is audited."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from accord.auth import service as auth
from accord.auth.roles import APPROVERS
from accord.errors import NotFound
from accord.tracing import access, case_export, cases, chain_sets, contacts, linelist_import, persons, worklists
from accord.tracing import reconciliation as case_reconciliation
from accord.web import tables
from accord.web.deps import SessionDep, UploadDep, UserDep
from accord.web.params import Day, PathId, check_range

router = APIRouter(prefix="/api/v1/tracing", tags=["tracing"])
MAPPINGS = Path(__file__).parent / "mappings"


class PersonIn(BaseModel):
    residence: str = Field(max_length=64, description="code of the community of residence")
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    national_id: str | None = Field(default=None, max_length=40)
    address: str | None = Field(default=None, max_length=500)
    birth_date: Day | None = None
    sex: str | None = Field(default=None, max_length=20)


class MergeIn(BaseModel):
    drop: str = Field(max_length=24, description="ref of the duplicate record merged into this one")
    reason: str = Field(max_length=2000)


class CaseIn(BaseModel):
    person: str = Field(max_length=24)
    classification: str
    report_date: Day
    onset_date: Day | None = None
    confirmation_date: Day | None = None
    origin: str = "local"
    severity: str | None = None
    residence: str | None = Field(default=None, max_length=64)


class CasePatch(BaseModel):
    reason: str = Field(max_length=2000)
    classification: str | None = None
    severity: str | None = None
    outcome: str | None = None
    outcome_date: Day | None = None
    confirmation_date: Day | None = None


class ContactIn(BaseModel):
    source: str = Field(max_length=24, description="ref of the person the contact was exposed to")
    contact: str = Field(max_length=24)
    last_exposure: Day
    first_exposure: Day | None = None
    setting: str = "other"
    proximity: str | None = None
    duration_minutes: int | None = Field(default=None, ge=0, le=60 * 24 * 60)
    infector: bool = False


class TaskIn(BaseModel):
    kind: str
    community: str = Field(max_length=64)
    due_date: Day
    person: str | None = Field(default=None, max_length=24)
    note: str | None = Field(default=None, max_length=2000)


class OutcomeIn(BaseModel):
    outcome: str = Field(max_length=20)
    note: str | None = Field(default=None, max_length=2000)


def _jsonable(value: Any) -> Any:
    """Dates as ISO text, numpy scalars as Python ones, NaN and infinity as null (JSON has neither)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ---------------------------------------------------------------------------------------------- persons
@router.post("/persons", status_code=201)
def register(body: PersonIn, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    identity = body.model_dump(exclude={"residence"}, exclude_none=True)
    if "birth_date" in identity:
        identity["birth_date"] = identity["birth_date"].isoformat()
    done = persons.register_person(session, actor, body.residence, identity)
    return {"ref": done.person.ref, "possible_duplicates": done.possible_duplicates}


@router.get("/persons/{ref}")
def person(ref: str, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    return dict(_jsonable(persons.person_view(session, actor, ref)))


@router.get("/persons/{ref}/identity")
def identity(
    ref: str, session: SessionDep, actor: UserDep, why: Annotated[str, Query(max_length=500)] = ""
) -> dict[str, Any]:
    """The decrypted identifying fields; ``why`` (the reason, stored in the audit) is required."""
    return persons.read_identity(session, actor, ref, why)


@router.post("/persons/{ref}/merge")
def merge(ref: str, body: MergeIn, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    kept = persons.merge_persons(session, actor, ref, body.drop, body.reason)
    return {"ref": kept.ref, "merged": body.drop}


@router.get("/duplicates/{root}")
def duplicates(root: str, request: Request, session: SessionDep, actor: UserDep, format: str | None = None) -> Response:
    return tables.render(persons.duplicates(session, actor, root), tables.choose(request, format), f"duplicates-{root}")


# ------------------------------------------------------------------------------------------------ cases
@router.post("/cases", status_code=201)
def create_case(body: CaseIn, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    case = cases.create_case(
        session,
        actor,
        body.person,
        body.classification,
        body.report_date,
        onset_date=body.onset_date,
        confirmation_date=body.confirmation_date,
        origin=body.origin,
        severity=body.severity,
        residence_code=body.residence,
    )
    return {"id": case.id, "classification": case.classification}


@router.patch("/cases/{case_id}")
def update_case(case_id: PathId, body: CasePatch, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    case = cases.update_case(session, actor, case_id, **body.model_dump(exclude_none=True))
    return {"id": case.id, "classification": case.classification, "outcome": case.outcome}


@router.post("/contacts", status_code=201)
def add_contact(body: ContactIn, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    row = contacts.add_contact(
        session,
        actor,
        body.source,
        body.contact,
        last_exposure=body.last_exposure,
        first_exposure=body.first_exposure,
        setting=body.setting,
        proximity=body.proximity,
        duration_minutes=body.duration_minutes,
        infector=body.infector,
    )
    return {"id": row.id}


# ------------------------------------------------------------------------------------------------ tasks
@router.get("/tasks")
def tasks(
    request: Request,
    session: SessionDep,
    actor: UserDep,
    day: Day | None = None,
    scope: str | None = None,
    format: str | None = None,
) -> Response:
    frame = worklists.task_list(session, actor, day or date.today(), scope_code=scope)
    return tables.render(frame, tables.choose(request, format), "tasks")


@router.post("/tasks", status_code=201)
def add_task(body: TaskIn, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    task = worklists.add_task(
        session, actor, body.kind, body.community, body.due_date, person_ref=body.person, note=body.note
    )
    return {"id": task.id}


@router.post("/tasks/{task_id}/outcome")
def outcome(task_id: PathId, body: OutcomeIn, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    task = worklists.record_outcome(session, actor, task_id, body.outcome, body.note)
    return {"id": task.id, "status": task.status, "outcome": task.outcome}


@router.post("/tasks/generate")
def generate(session: SessionDep, actor: UserDep, day: Day | None = None) -> dict[str, Any]:
    """Today's follow-ups for every community and the escalation of overdue tasks: it writes tasks everywhere,
    so national coordinators and admins run it (the CLI, ``accord tracing tasks``, runs it as the operator)."""
    auth.require_national(session, actor, APPROVERS, "generate tasks for every community")
    day = day or date.today()
    return {
        "followups": worklists.generate_followups(session, day),
        "escalated": worklists.escalate_overdue(session, day),
    }


@router.get("/escalations")
def escalations(
    request: Request, session: SessionDep, actor: UserDep, scope: str | None = None, format: str | None = None
) -> Response:
    return tables.render(worklists.escalations(session, actor, scope), tables.choose(request, format), "escalations")


# ------------------------------------------------------------------------------------- chains, counts
@router.get("/chains/{root}")
def clusters(
    root: str, request: Request, session: SessionDep, actor: UserDep, min_size: int = 2, format: str | None = None
) -> Response:
    """Clusters (connected components of the case graph): size, first/last onset, span, settings. No personal
    data."""
    cs = chain_sets.chains_for(session, actor, root, min_size)
    return tables.render(cs.clusters, tables.choose(request, format), f"clusters-{root}")


@router.get("/chains/{root}/statistics")
def chain_statistics(root: str, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    """Serial interval and offspring dispersion k (negative binomial, with its 95% profile interval)."""
    stats = chain_sets.chain_statistics(chain_sets.chains_for(session, actor, root, 1))
    return dict(_jsonable(stats))


@router.get("/reconciliation/{root}")
def reconciliation(
    root: str,
    request: Request,
    session: SessionDep,
    actor: UserDep,
    start: Day,
    end: Day,
    format: str | None = None,
) -> Response:
    """Case-based confirmed counts per community-day beside the reported ones; mismatches become flags."""
    check_range(start, end)
    frame = case_reconciliation.reconcile_for(session, actor, root, start, end)
    return tables.render(frame, tables.choose(request, format), f"reconciliation-{root}")


@router.get("/export/{root}")
def export(
    root: str, request: Request, session: SessionDep, actor: UserDep, personal: bool = False, format: str | None = None
) -> Response:
    """Cases of a subtree; ``personal=true`` adds refs and identities (tracers/coordinators, audited)."""
    frame = case_export.export_cases(session, actor, root, personal)
    return tables.render(frame, tables.choose(request, format), f"cases-{root}")


@router.get("/audit/{root}")
def audit(
    root: str,
    request: Request,
    session: SessionDep,
    actor: UserDep,
    limit: int = Query(200, ge=1, le=5000),
    format: str | None = None,
) -> Response:
    frame = access.audit_log(session, actor, root, limit)
    frame["detail"] = frame["detail"].map(str)
    return tables.render(frame, tables.choose(request, format), f"audit-{root}")


# ------------------------------------------------------------------------------------------------ import
@router.post("/imports")
def import_linelist(
    data: UploadDep,
    session: SessionDep,
    actor: UserDep,
    root: str,
    file: Annotated[str, Query(max_length=200)],
    mapping: Annotated[str, Query(max_length=80, description="a shipped mapping (xu2020, ...) ")],
) -> dict[str, Any]:
    """A line list as the request body (CSV bytes), through a shipped mapping file; all rows or none."""
    path = MAPPINGS / f"{mapping}.toml"
    if not mapping.replace("-", "").replace("_", "").isalnum() or not path.is_file():
        known = ", ".join(sorted(p.stem for p in MAPPINGS.glob("*.toml")))
        raise NotFound(f"no mapping '{mapping}'; shipped mappings: {known}")
    report = linelist_import.import_linelist(
        session, actor, data, path.read_text(), root, file=file, mapping_file=path.name
    )
    return {
        "cases": report.cases,
        "persons": report.persons,
        "links": report.links,
        "unmapped_lines": report.unmapped_lines,
        "report": report.lines(),
    }

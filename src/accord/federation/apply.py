"""Applying a verified package: the member's new places, then its figures submitted like any other
(validated, rolled up); figures the member published are approved and published here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import update
from sqlalchemy.orm import Session

from accord.auth.roles import Actor, Role
from accord.db import db_timestamp
from accord.errors import AccordError, Forbidden, Problem
from accord.federation import package
from accord.federation.model import Peer
from accord.places import service as places
from accord.surveillance import service as surveillance
from accord.surveillance import store
from accord.surveillance.model import ReportDay


@dataclass
class Checked:
    opened: package.Opened
    peer_id: int
    frame: pd.DataFrame
    places: pd.DataFrame


def apply_package(session: Session, checked: Checked, peer: Peer, now: datetime) -> dict[str, Any]:
    manifest = checked.opened.manifest
    created = _create_member_places(session, checked.places, peer.code)
    frame = checked.frame.copy()
    if manifest["revises"]:
        frame["reason"] = frame["reason"].where(
            frame["reason"] != "", f"revision from {peer.code} (package {manifest['sequence']})"
        )
    member = places.get(session, peer.code)
    actor = Actor(None, f"federation:{peer.code}", Role.REPORTER, member.id)
    public = manifest["link"].get("view", "public") == "public" and len(frame) > 0
    # the member published these figures: their days are approved here before they are stored, so the one
    # roll-up of the submission also rolls up the public figures (a second pass would double the apply time)
    publish_after = public and _preapprove(session, frame, now)
    try:
        result = surveillance.submit(
            session,
            frame,
            actor=actor,
            source=f"federation:{peer.code}:{manifest['sequence']}",
            idempotency_key=f"federation:{checked.opened.id}",
            file=f"package {manifest['sequence']} of {peer.code}",
            now=now,
        )
    except Forbidden as exc:
        raise package.refusal(package.WRONG_SCOPE, str(exc), field="jurisdiction", status=403) from exc
    except AccordError as exc:
        problems = [Problem(p.message, p.file, p.line, p.field, package.REJECTED) for p in exc.problems] or [
            Problem(exc.title, code=package.REJECTED)
        ]
        raise AccordError(f"package refused (rejected by validation): {exc.title}", problems, total=exc.total) from exc
    if publish_after:
        _publish(session, frame, now)
    return {**result.as_dict(), "jurisdictions_created": created, "warnings": result.warnings[:20]}


def _create_member_places(session: Session, place_frame: pd.DataFrame, member: str) -> int:
    """Places of the member's subtree the hub does not know yet (the root is the member node itself)."""
    index = places.load_index(session)
    new = place_frame[(place_frame["code"] != member) & ~place_frame["code"].isin(list(index.by_code))]
    if new.empty:
        return 0
    new = new.assign(population=pd.to_numeric(new["population"]).astype(object).where(new["population"].notna(), None))
    return places.import_places(session, new.reset_index(drop=True), file="package places").created


def _preapprove(session: Session, frame: pd.DataFrame, now: datetime) -> bool:
    """Create the package's reporting days as approved. Returns True when some of them already existed
    unapproved (their earlier values must then be published after the submission, see ``_publish``)."""
    index = places.load_index(session)
    days = frame[["jurisdiction", "date"]].drop_duplicates()
    jids = days["jurisdiction"].map(index.by_code)
    if jids.isna().any():  # an unknown place: the submission names it in its refusal
        return False
    name = store.dialect(session)
    dates = pd.to_datetime(days["date"])
    d0, d1 = store.date_param(dates.min().date(), name), store.date_param(dates.max().date(), name)
    for chunk in store.in_chunks(sorted(set(jids.astype(int)))):
        waiting = store.read_frame(
            session,
            f"SELECT COUNT(*) AS n FROM report_day WHERE status <> 'approved' AND jurisdiction_id IN "
            f"({','.join(map(str, chunk))}) AND date BETWEEN :d0 AND :d1",
            {"d0": d0, "d1": d1},
        )
        if waiting["n"].astype(int).sum() > 0:
            return True
    ts = db_timestamp(now, name)
    n = len(days)
    rows = list(
        zip(
            store.py(jids.to_numpy(dtype=np.int64)),
            store.to_db_dates(dates, name),
            ["approved"] * n,
            [ts] * n,
            [ts] * n,
            [ts] * n,
            [True] * n,
            strict=True,
        )
    )
    store.upsert_rows(
        session,
        "report_day",
        ["jurisdiction_id", "date"],
        [
            "jurisdiction_id",
            "date",
            "status",
            "first_submitted_at",
            "last_submitted_at",
            "approved_at",
            "auto_published",
        ],
        rows,
        update=["status"],
    )
    return False


def _publish(session: Session, frame: pd.DataFrame, now: datetime) -> None:
    """The member published these figures: they are public at the hub too (approved days, rolled up)."""
    index = places.load_index(session)
    jids = sorted({index.by_code[c] for c in frame["jurisdiction"].unique()})
    days = pd.to_datetime(frame["date"])
    for chunk in store.in_chunks(jids):
        session.execute(
            update(ReportDay)
            .where(
                ReportDay.status != "approved",
                ReportDay.jurisdiction_id.in_(chunk),
                ReportDay.date >= days.min().date(),
                ReportDay.date <= days.max().date(),
            )
            .values(status="approved", approved_at=now, auto_published=True)
        )
    surveillance.publish_days(session, approved_at=now)

"""Tracing services on SQLite and PostgreSQL: pseudonymous persons with encrypted identities, duplicates and
merge, cases with history, contacts and quarantine, the health-code inputs, tasks, escalation, reconciliation
with the aggregate reports, exports, scope (403) and the audit of every personal-data read and write."""

from __future__ import annotations

import base64
import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import select, text

from accord.auth.model import AuditEntry
from accord.auth.roles import SYSTEM
from accord.db import transaction
from accord.errors import AccordError, Conflict, Forbidden
from accord.surveillance import service as surveillance
from accord.tracing import (
    access,
    case_export,
    cases,
    contacts,
    key_rotation,
    person_status,
    persons,
    reconciliation,
    worklists,
)
from accord.tracing.model import Identity, Person, Task

from .conftest import NOW, TODAY, A, B, World


def _audits(world: World, action: str) -> list[AuditEntry]:
    with transaction(world.sessions) as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_identity_is_encrypted_at_rest_and_read_only_with_reason_and_scope(world: World) -> None:
    with transaction(world.sessions) as s:
        person = s.scalar(select(Person).where(Person.ref == world.refs["case"]))
        blob = s.get(Identity, person.id).ciphertext
        assert b"Li Wei" not in blob and b"138" not in blob  # nothing readable in the stored row
        raw = s.execute(text("SELECT * FROM tracing_person")).all()
        assert "Li Wei" not in repr(raw)
        fields = persons.read_identity(s, world.tracer_a, world.refs["case"], why="follow-up call")
        assert fields["name"] == "Li Wei"
        with pytest.raises(AccordError, match="reason"):
            persons.read_identity(s, world.tracer_a, world.refs["case"], why=" ")
    with transaction(world.sessions) as s, pytest.raises(Forbidden) as err:
        persons.read_identity(s, world.tracer_b, world.refs["case"], why="curious")
    assert err.value.status == 403
    for actor in (world.analyst, world.dpo):
        with transaction(world.sessions) as s, pytest.raises(Forbidden):
            persons.person_view(s, actor, world.refs["case"])
    reads = _audits(world, "tracing.person.read")
    assert [(e.target, e.detail["why"]) for e in reads] == [(world.refs["case"], "follow-up call")]


def test_ciphertext_moved_to_another_person_does_not_decrypt(world: World) -> None:
    with transaction(world.sessions) as s:
        a = s.scalar(select(Person).where(Person.ref == world.refs["case"]))
        b = s.scalar(select(Person).where(Person.ref == world.refs["contact"]))
        s.get(Identity, b.id).ciphertext = s.get(Identity, a.id).ciphertext
    with transaction(world.sessions) as s, pytest.raises(AccordError, match="could not be decrypted"):
        persons.read_identity(s, world.tracer_a, world.refs["contact"], why="check")


def test_tracer_of_b_cannot_write_persons_of_a(world: World) -> None:
    with transaction(world.sessions) as s:
        with pytest.raises(Forbidden):
            persons.register_person(s, world.tracer_b, A, {"name": "x"})
        with pytest.raises(Forbidden):
            cases.create_case(s, world.tracer_b, world.refs["contact"], "suspected", TODAY)
        with pytest.raises(Forbidden):
            contacts.add_contact(s, world.tracer_b, world.refs["other"], world.refs["case"], last_exposure=TODAY)
    # the coordinator of the city above both may
    with transaction(world.sessions) as s:
        contacts.add_contact(s, world.coordinator, world.refs["other"], world.refs["case"], last_exposure=TODAY)


def test_duplicates_by_keyed_hash_and_merge_keeps_both_histories(world: World) -> None:
    with transaction(world.sessions) as s:
        # same phone written differently, same name and birth date with other spacing and case
        dup = persons.register_person(
            s, world.tracer_a, A, {"name": "  LI   wei", "birth_date": "1980-03-01", "phone": "0086 138 0000 0001"}
        )
        assert dup.possible_duplicates == [world.refs["case"]]
        cases.create_case(s, world.tracer_a, dup.person.ref, "suspected", TODAY - dt.timedelta(days=8))
        groups = persons.duplicates(s, world.coordinator, "AR-01-01")
        assert set(groups["refs"]) == {";".join(sorted([world.refs["case"], dup.person.ref]))}
        kept = persons.merge_persons(s, world.tracer_a, world.refs["case"], dup.person.ref, reason="same phone")
        view = persons.person_view(s, world.tracer_a, kept.ref)
        assert sorted(c["classification"] for c in view["cases"]) == ["confirmed", "suspected"]
        moved = next(c for c in view["cases"] if c["classification"] == "suspected")
        assert [h["field"] for h in moved["history"]] == ["classification", "person"]
        gone = s.scalar(select(Person).where(Person.ref == dup.person.ref))
        assert gone.merged_into_id == kept.id and s.get(Identity, gone.id) is not None
        with pytest.raises(Conflict):
            persons.merge_persons(s, world.tracer_a, world.refs["contact"], dup.person.ref, reason="again")
        assert persons.duplicates(s, world.coordinator, "AR-01-01").empty


def test_case_history_and_status_feed_health_inputs(world: World) -> None:
    since = NOW + dt.timedelta(minutes=1)
    with transaction(world.sessions) as s:
        all_rows = person_status.health_inputs(s)
        assert set(all_rows.columns) >= {
            "person_id",
            "case_status",
            "case_date",
            "quarantine_until",
            "residence_code",
            "changed_at",
        }
        row = all_rows.set_index("person_id").loc[world.refs["contact"]]
        assert row["case_status"] == "none"
        assert row["quarantine_until"] == pd.Timestamp(TODAY - dt.timedelta(days=3) + dt.timedelta(days=14))
        assert row["residence_code"] == A
        case_row = all_rows.set_index("person_id").loc[world.refs["case"]]
        assert case_row["case_status"] == "confirmed" and case_row["case_date"] == pd.Timestamp(
            TODAY - dt.timedelta(days=2)
        )
        assert person_status.health_inputs(s, since).empty
        case = cases.create_case(
            s, world.tracer_a, world.refs["contact"], "suspected", TODAY, now=since + dt.timedelta(hours=1)
        )
        cases.update_case(
            s,
            world.tracer_a,
            case.id,
            classification="discarded",
            reason="PCR negative",
            now=since + dt.timedelta(hours=2),
        )
        changed = person_status.health_inputs(s, since)
        assert changed["person_id"].tolist() == [world.refs["contact"]]
        assert changed["case_status"].tolist() == ["discarded"]
        view = persons.person_view(s, world.tracer_a, world.refs["contact"])
        assert [(h["field"], h["old"], h["new"], h["reason"]) for h in view["cases"][0]["history"]] == [
            ("classification", None, "suspected", None),
            ("classification", "suspected", "discarded", "PCR negative"),
        ]


def test_quarantine_follows_the_last_exposure_and_is_configurable(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCORD_QUARANTINE_DAYS", "10")
    with transaction(world.sessions) as s:
        contacts.add_contact(
            s,
            world.tracer_a,
            world.refs["case"],
            world.refs["contact"],
            last_exposure=TODAY - dt.timedelta(days=1),
            first_exposure=TODAY - dt.timedelta(days=4),
            setting="work",
        )
        p = s.scalar(select(Person).where(Person.ref == world.refs["contact"]))
        assert p.quarantine_until == TODAY + dt.timedelta(days=9)
        with pytest.raises(AccordError, match="first exposure"):
            contacts.add_contact(
                s,
                world.tracer_a,
                world.refs["case"],
                world.refs["contact"],
                last_exposure=TODAY,
                first_exposure=TODAY + dt.timedelta(days=1),
            )
        with pytest.raises(AccordError, match="setting"):
            contacts.add_contact(
                s, world.tracer_a, world.refs["case"], world.refs["contact"], last_exposure=TODAY, setting="disco"
            )


def test_daily_followups_assigned_to_the_community_worker_escalate_and_one_tap_outcome(world: World) -> None:
    with transaction(world.sessions) as s:
        assert worklists.generate_followups(s, TODAY, NOW) == 1  # the contact, not the confirmed case
        assert worklists.generate_followups(s, TODAY, NOW) == 0  # idempotent
        mine = worklists.task_list(s, world.tracer_a, TODAY)
        assert mine["person"].tolist() == [world.refs["contact"]] and mine["name"].tolist() == ["Wang Fang"]
        assert worklists.task_list(s, world.tracer_b, TODAY).empty
        with pytest.raises(Forbidden):
            worklists.record_outcome(s, world.tracer_b, int(mine["id"][0]), "well")
        with pytest.raises(AccordError, match="outcome"):
            worklists.record_outcome(s, world.tracer_a, int(mine["id"][0]), "fine")
    # not done: two days later it has escalated to the city, then the province
    with transaction(world.sessions) as s:
        assert worklists.escalate_overdue(s, TODAY + dt.timedelta(days=1), grace_days=1) == 1
        task = s.scalars(select(Task)).one()
        assert task.level == 1 and task.escalated_to_id == s.scalar(
            text("SELECT id FROM jurisdiction WHERE code='AR-01-01'")
        )
        assert worklists.escalations(s, world.coordinator)["id"].tolist() == [task.id]
        worklists.escalate_overdue(s, TODAY + dt.timedelta(days=2), grace_days=1)
        assert s.scalars(select(Task)).one().level == 2
        assert worklists.escalations(s, world.coordinator).empty  # now above the city
    with transaction(world.sessions) as s:
        worklists.generate_followups(s, TODAY + dt.timedelta(days=2), NOW)
        today = worklists.task_list(s, world.tracer_a, TODAY + dt.timedelta(days=2))
        assert today["overdue"].tolist() == [True, False]  # what is late comes first
        t = worklists.record_outcome(s, world.tracer_a, int(today["id"][1]), "symptoms", now=NOW + dt.timedelta(days=2))
        assert t.status == "done"
        p = s.scalar(select(Person).where(Person.ref == world.refs["contact"]))
        assert p.case_status == "suspected"
        kinds = sorted(s.scalars(select(Task.kind)))
        assert kinds == ["followup", "followup", "transport"]
        with pytest.raises(Conflict):
            worklists.record_outcome(s, world.tracer_a, t.id, "well")
    assert len(_audits(world, "tracing.tasks.read")) == 3


def test_case_counts_reconcile_with_reports_and_mismatch_is_a_flag(world: World) -> None:
    day = TODAY - dt.timedelta(days=2)
    frame = pd.DataFrame(
        [(A, day.isoformat(), "new_confirmed", 3.0, ""), (B, day.isoformat(), "new_confirmed", 0.0, "")],
        columns=["jurisdiction", "date", "indicator", "value", "reason"],
    )
    with transaction(world.sessions) as s:
        surveillance.submit(s, frame, actor=SYSTEM, source="test", now=NOW)
        rec = reconciliation.reconcile(s, "AR", day, TODAY, now=NOW)
        row = rec[rec["jurisdiction"] == A].iloc[0]
        assert (row["case_based"], row["reported"], row["difference"], bool(row["mismatch"])) == (1, 3.0, -2, True)
        flags, total = surveillance.flags(s, code=reconciliation.MISMATCH_FLAG)
        assert total == 1 and flags[0]["jurisdiction"] == A and "case records hold 1" in flags[0]["message"]
        reconciliation.reconcile(s, "AR", day, TODAY, now=NOW)  # once per community-day
        assert surveillance.flags(s, code=reconciliation.MISMATCH_FLAG)[1] == 1


def test_exports_carry_personal_data_only_when_allowed_and_audited(world: World) -> None:
    with transaction(world.sessions) as s:
        plain = case_export.export_cases(s, world.analyst, "AR")
        assert "Li Wei" not in plain.to_csv() and world.refs["case"] not in plain.to_csv()
        assert list(plain.columns) == case_export.EXPORT_COLUMNS
        with pytest.raises(Forbidden):
            case_export.export_cases(s, world.analyst, "AR", personal=True)
        full = case_export.export_cases(s, world.coordinator, "AR-01-01", personal=True)
        assert full["name"].tolist() == ["Li Wei"]
    audited = _audits(world, "tracing.export.personal")
    assert len(audited) == 1 and audited[0].detail["persons"] == [world.refs["case"]]


def test_dpo_sees_the_audit_of_their_subtree_only(world: World) -> None:
    with transaction(world.sessions) as s:
        persons.read_identity(s, world.tracer_a, world.refs["case"], why="call <b>now</b>")
        log = access.audit_log(s, world.dpo, "AR-01")
        assert "tracing.person.read" in set(log["action"])
        assert "call <b>now</b>" in set(log["why"])
        with pytest.raises(Forbidden):
            access.audit_log(s, world.dpo, "AR-02")
        with pytest.raises(Forbidden):
            access.audit_log(s, world.tracer_a, A)


def test_key_rotation_reencrypts_and_rehashes(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from accord.tracing import crypto

    old = crypto.keyring()
    fresh = crypto.new_key()
    new = crypto.keyring_from_key(base64.urlsafe_b64decode(fresh))
    with transaction(world.sessions) as s:
        assert key_rotation.rotate_key(s, old, new) == 3
        with pytest.raises(AccordError, match="same"):
            key_rotation.rotate_key(s, new, new)
    monkeypatch.setenv("ACCORD_PERSONAL_DATA_KEY", fresh)
    crypto.keyring.cache_clear()
    with transaction(world.sessions) as s:
        assert persons.read_identity(s, world.tracer_a, world.refs["case"], why="after rotation")["name"] == "Li Wei"
        dup = persons.register_person(s, world.tracer_a, A, {"phone": "+86 13800000001"})
        assert dup.possible_duplicates == [world.refs["case"]]  # hashes follow the new key
        keys = set(s.scalars(select(Identity.key_id)))
        assert keys == {new.key_id}
    with transaction(world.sessions) as s, pytest.raises(Conflict, match="neither"):
        key_rotation.rotate_key(s, old, crypto.keyring_from_key(bytes(32)))

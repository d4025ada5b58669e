"""Keys, trust lists, statuses and codes through the service, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from accord.auth.model import AuditEntry
from accord.auth.roles import SYSTEM
from accord.db import transaction
from accord.errors import AccordError
from accord.healthcode import codec, service, trustlist
from accord.healthcode.codec import Reason
from accord.healthcode.model import SigningKey
from tests.healthcode.keyring import NOW


def setup_keys(sessions: sessionmaker[Session]) -> tuple[str, str]:
    with transaction(sessions) as s:
        service.init_root(s, "AR", SYSTEM, now=NOW - timedelta(days=1))
        a = service.add_issuer(s, "AR-01", SYSTEM, now=NOW - timedelta(hours=1)).kid
        b = service.add_issuer(s, "AR-02", SYSTEM, now=NOW - timedelta(hours=1)).kid
        service.publish_trust_list(s, SYSTEM, now=NOW)
    return a, b


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "person_id": ["p1", "p2", "p3"],
            "case_status": ["confirmed", None, None],
            "quarantine_until": [None, NOW + timedelta(days=3), None],
            "residence_risk": ["low", "low", "high"],
        }
    )


def test_keys_trust_list_status_and_codes(sessions: sessionmaker[Session]) -> None:
    _, kid_b = setup_keys(sessions)
    with transaction(sessions) as s:
        rows = s.scalars(select(SigningKey)).all()
        for r in rows:  # private keys are never stored in clear
            assert r.private_key.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        doc = service.current_trust_list(s).document
        root_fp = trustlist.fingerprint(x509_root(s))
        assert service.refresh_statuses(s, frame(), NOW) == 3
        code, _ = service.issue_code(s, "p3", "AR-01", initials="ab", birth_day="02-29", now=NOW)
    loaded = trustlist.load_trust_list(doc, root_fingerprint=root_fp)
    v = codec.verify(code, loaded.trust, NOW + timedelta(minutes=5))
    assert v.valid and v.claims["colour"] == "yellow" and v.claims["initials"] == "AB"

    # rotation: a new AR-01 key; the old one is retired but its codes still verify
    with transaction(sessions) as s:
        service.add_issuer(s, "AR-01", SYSTEM, now=NOW)
        service.revoke(s, kid_b, "key material leaked", SYSTEM, now=NOW)
        doc2 = service.current_trust_list(s).document
        assert json.loads(json.loads(doc2)["signed"])["version"] == 1  # not republished yet
        doc2 = service.publish_trust_list(s, SYSTEM, now=NOW).document
        code_b_status = s.scalars(select(SigningKey).where(SigningKey.kid == kid_b)).one().status
        with pytest.raises(AccordError):
            service.issue_code(s, "p3", "AR-02", initials="ab", birth_day="02-29", now=NOW)
    assert code_b_status == "revoked"
    trust2 = trustlist.load_trust_list(doc2).trust
    assert codec.verify(code, trust2, NOW + timedelta(minutes=5)).valid
    assert trust2.keys[bytes.fromhex(kid_b)].revoked


def x509_root(s: Session):
    from cryptography import x509

    return x509.load_der_x509_certificate(service.root_key(s).certificate)


def test_trust_list_with_bad_signature_is_refused(sessions: sessionmaker[Session]) -> None:
    setup_keys(sessions)
    with transaction(sessions) as s:
        doc = json.loads(service.current_trust_list(s).document)
    body = json.loads(doc["signed"])
    body["keys"][0]["status"] = "active" if body["keys"][0]["status"] != "active" else "retired"
    forged = {**doc, "signed": json.dumps(body, sort_keys=True, separators=(",", ":"))}
    with pytest.raises(trustlist.TrustListError, match="signature does not verify"):
        trustlist.load_trust_list(json.dumps(forged))
    flipped = bytearray(base64.b64decode(doc["signature"]))
    flipped[5] ^= 1
    with pytest.raises(trustlist.TrustListError, match="signature"):
        trustlist.load_trust_list(json.dumps({**doc, "signature": base64.b64encode(bytes(flipped)).decode()}))
    with pytest.raises(trustlist.TrustListError, match="pinned"):
        trustlist.load_trust_list(json.dumps(doc), root_fingerprint="00" * 32)
    # a whole list re-signed by an impostor root: its own signature is fine, the pin refuses it
    fake_key = trustlist.new_key()
    fake_root = trustlist.root_certificate(fake_key, "AR", now=NOW)
    impostor = trustlist.sign_trust_list([], root_key=fake_key, root_cert=fake_root, version=9, issued_at=NOW)
    with pytest.raises(trustlist.TrustListError, match="pinned"):
        trustlist.load_trust_list(impostor, root_fingerprint=body["root_fingerprint"])


def test_override_needs_reason_and_is_audited(sessions: sessionmaker[Session]) -> None:
    setup_keys(sessions)
    with transaction(sessions) as s:
        service.refresh_statuses(s, frame(), NOW)
        with pytest.raises(AccordError, match="reason"):
            service.override(s, "p1", "green", "  ", 12, SYSTEM, now=NOW)
        service.override(s, "p1", "green", "lab confirmed false positive", 6, SYSTEM, now=NOW)
        code, _ = service.issue_code(s, "p1", "AR-01", initials="xy", birth_day="01-01", now=NOW)
        trust = trustlist.load_trust_list(service.current_trust_list(s).document).trust
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "healthcode.override")).all()
    assert len(entries) == 1 and entries[0].detail["reason"] == "lab confirmed false positive"
    v = codec.verify(code, trust, NOW)
    assert v.valid and v.claims["colour"] == "green"
    assert codec.verify(code, trust, NOW + timedelta(hours=6)).reason is Reason.EXPIRED


def test_private_keys_need_the_kek_and_never_leak(
    sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ACCORD_HEALTHCODE_KEK", "kek-one")
    setup_keys(sessions)
    with transaction(sessions) as s:
        service.refresh_statuses(s, frame(), NOW)
        sealed = [r.private_key for r in s.scalars(select(SigningKey))]
    monkeypatch.setenv("ACCORD_HEALTHCODE_KEK", "kek-two")
    with transaction(sessions) as s, pytest.raises(AccordError) as err:
        service.issue_code(s, "p3", "AR-01", initials="ab", birth_day="02-29", now=NOW)
    message = str(err.value)
    assert "cannot be opened" in message and "PRIVATE" not in message and "kek" not in message
    assert all(b"BEGIN ENCRYPTED PRIVATE KEY" in k for k in sealed)
    assert not any(b"kek-one" in k for k in sealed)
    assert "PRIVATE KEY" not in caplog.text
    monkeypatch.setenv("ACCORD_HEALTHCODE_KEK", "kek-one")
    with transaction(sessions) as s:
        assert service.issue_code(s, "p3", "AR-01", initials="ab", birth_day="02-29", now=NOW)[0].startswith("AC1:")

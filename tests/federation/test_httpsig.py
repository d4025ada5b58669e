"""The request-signature profile (pure): the signature base as documented, and every covered part bound."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.errors import AccordError
from accord.federation import httpsig, keys

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
KEY_ID = keys.key_id(keys.public_text(KEY))
REQUEST = {"method": "PUT", "path": "/api/v1/federation/uploads/ab/chunks/0", "query": "", "body": b"chunk"}


def signed(**over: object) -> dict[str, str]:
    fields: dict = {**REQUEST, "sender": "AA", "receiver": "WORLD", "created": 1_767_225_600, "nonce": "n-1", **over}  # type: ignore[type-arg]
    return httpsig.sign(KEY, KEY_ID, **fields)


def test_the_signature_base_is_rfc_9421s_as_documented() -> None:
    claim = httpsig.read_claim(signed())
    base = httpsig.signature_base("PUT", REQUEST["path"], "", claim).decode()  # type: ignore[arg-type]
    digest = httpsig.content_digest(b"chunk")
    assert base == (
        '"@method": PUT\n'
        '"@path": /api/v1/federation/uploads/ab/chunks/0\n'
        '"@query": ?\n'
        f'"content-digest": {digest}\n'
        '"accord-from": AA\n'
        '"accord-to": WORLD\n'
        '"@signature-params": ("@method" "@path" "@query" "content-digest" "accord-from" "accord-to")'
        f';created=1767225600;nonce="n-1";keyid="{KEY_ID}";alg="ed25519";tag="accord-federation"'
    )
    assert digest == "sha-256=:bIf2g3GyiVRwfruSr+58z/t0xvceyP6oqYz2EEKJWFs=:"
    assert httpsig.verify(KEY.public_key(), claim, "PUT", REQUEST["path"], "")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        ("POST", REQUEST["path"], ""),
        ("PUT", "/api/v1/federation/uploads/ab/chunks/1", ""),
        ("PUT", REQUEST["path"], "a=1"),
    ],
)
def test_another_request_does_not_verify(method: str, path: str, query: str) -> None:
    claim = httpsig.read_claim(signed())
    assert not httpsig.verify(KEY.public_key(), claim, method, path, query)


@pytest.mark.parametrize("header", ["accord-from", "accord-to", "content-digest", "signature-input"])
def test_every_signed_header_is_bound(header: str) -> None:
    other = signed(sender="BB", receiver="XX", body=b"other", nonce="n-2")
    claim = httpsig.read_claim({**signed(), header: other[header]})
    assert not httpsig.verify(KEY.public_key(), claim, "PUT", REQUEST["path"], "")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "unsigned"),
        ({"signature-input": "sig1=();created=1"}, "bad_request_signature"),
        ({"accord-from": "A A"}, "bad_request_signature"),
        ({"content-digest": "md5=:x:"}, "bad_request_signature"),
        ({"signature": "accord=:short:"}, "bad_request_signature"),
    ],
)
def test_anything_but_the_profile_is_refused_with_a_code(headers: dict[str, str], code: str) -> None:
    base = signed() if headers else {}
    with pytest.raises(AccordError) as err:
        httpsig.read_claim({**base, **headers})
    assert err.value.status == 401 and err.value.problems[0].code == code


def test_the_window_is_either_side_of_the_clock() -> None:
    claim = httpsig.read_claim(signed())
    httpsig.check_fresh(claim, 1_767_225_600 + 299, 300)
    httpsig.check_fresh(claim, 1_767_225_600 - 299, 300)
    for now in (1_767_225_600 + 301, 1_767_225_600 - 301):
        with pytest.raises(AccordError, match="this instance's clock") as err:
            httpsig.check_fresh(claim, now, 300)
        assert err.value.problems[0].code == "stale_request"

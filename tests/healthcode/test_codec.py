"""The credential codec: round trip, QR, and every attack the issue lists, each with the reason it must give."""

from __future__ import annotations

import io
import zlib
from datetime import timedelta

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.healthcode import base45, codec
from accord.healthcode.codec import Reason
from tests.healthcode.keyring import CLAIM, NOW, keyring


def pack(cose: object, prefix: str = codec.OUR_PREFIX) -> str:
    return prefix + base45.encode(zlib.compress(cbor2.dumps(cose)))


def parts(code: str) -> list[object]:
    obj = cbor2.loads(codec.decompress(base45.decode(code[4:])))
    return list(obj.value)


def resign(protected: bytes, payload: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
    return codec.sign(key, codec.ES256, codec.sig_structure(protected, payload))


def test_round_trip_and_claims() -> None:
    kr = keyring()
    code = kr.code()
    assert code.startswith("AC1:") and set(code[4:]) <= set(base45.ALPHABET)
    v = codec.verify(code, kr.trust(), NOW + timedelta(hours=1))
    assert v.valid and v.reason is Reason.VALID
    assert v.claims["colour"] == "green" and v.claims["birth_day"] == "07-14" and v.claims["iss"] == "AR"
    assert v.kid == codec.kid_of(kr.issuer).hex()


def test_ps256_accepted() -> None:
    kr = keyring()
    assert codec.verify(kr.code(key="rsa", alg=codec.PS256), kr.trust(), NOW).valid


def test_qr_is_alphanumeric_and_reads_back() -> None:
    import segno
    import zxingcpp
    from PIL import Image

    code = keyring().code()
    qr = segno.make_qr(code, mode="alphanumeric", error="q")
    assert qr.mode == "alphanumeric"
    buf = io.BytesIO()
    qr.save(buf, kind="png", scale=4)
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(buf.getvalue())))
    assert [r.text for r in found] == [code]
    assert "<svg" in codec.qr_svg(code)


def test_base45_rfc9285_examples() -> None:
    assert base45.encode(b"AB") == "BB8"
    assert base45.encode(b"Hello!!") == "%69 VD92EX0"
    assert base45.encode(b"base-45") == "UJCLQE7W581"
    assert base45.decode("QED8WEX0") == b"ietf!"
    for bad in ("GGW", "A", "ab", "::::"):
        with pytest.raises(base45.Base45Error):
            base45.decode(bad)


@given(st.binary(max_size=200))
def test_base45_round_trip(data: bytes) -> None:
    assert base45.decode(base45.encode(data)) == data


def expect(code: str, reason: Reason, *, at=NOW, revoked: tuple[bytes, ...] = ()) -> None:
    v = codec.verify(code, keyring().trust(revoked), at)
    assert not v.valid
    assert v.reason is reason, v.sentence()


def test_tampered_payload() -> None:
    protected, unprotected, payload, sig = parts(keyring().code())
    claims = cbor2.loads(payload)
    claims[codec.CLAIM_ACCORD][1] = "red"
    expect(
        pack(cbor2.CBORTag(18, [protected, unprotected, cbor2.dumps(claims, canonical=True), sig])),
        Reason.BAD_SIGNATURE,
    )


def test_tampered_protected_header() -> None:
    kr = keyring()
    protected, unprotected, payload, sig = parts(kr.code())
    header = cbor2.loads(protected)
    header[3] = "application/cwt"  # an added content type: the signature covers the header
    expect(
        pack(cbor2.CBORTag(18, [cbor2.dumps(header, canonical=True), unprotected, payload, sig])), Reason.BAD_SIGNATURE
    )


def test_unknown_key() -> None:
    stranger = ec.generate_private_key(ec.SECP256R1())
    code = codec.issue(
        CLAIM, issuer="XX", private_key=stranger, kid=b"\x01" * 8, issued_at=NOW, validity=timedelta(hours=1)
    )
    expect(code, Reason.UNKNOWN_KEY)


def test_someone_else_signing_under_our_kid() -> None:
    kr = keyring()
    code = codec.issue(
        CLAIM,
        issuer="AR",
        private_key=ec.generate_private_key(ec.SECP256R1()),
        kid=codec.kid_of(kr.issuer),
        issued_at=NOW,
        validity=timedelta(hours=1),
    )
    expect(code, Reason.BAD_SIGNATURE)


def test_revoked_key() -> None:
    kr = keyring()
    expect(kr.code(key="other"), Reason.REVOKED_ISSUER, revoked=(codec.kid_of(kr.other),))
    assert codec.verify(kr.code(), kr.trust((codec.kid_of(kr.other),)), NOW).valid


def test_wrong_algorithm() -> None:
    kr = keyring()
    _, unprotected, payload, _ = parts(kr.code())
    for alg in (-8, -35, "none", -37):  # EdDSA, ES384, nonsense, PS256 with an EC key
        header = {1: alg, 4: codec.kid_of(kr.issuer)}
        p = cbor2.dumps(header, canonical=True)
        expect(
            pack(cbor2.CBORTag(18, [p, unprotected, payload, resign(p, payload, kr.issuer_key)])),
            Reason.WRONG_ALGORITHM,
        )


def test_der_and_zero_signatures() -> None:
    kr = keyring()
    protected, unprotected, payload, _ = parts(kr.code())
    der = kr.issuer_key.sign(codec.sig_structure(protected, payload), ec.ECDSA(hashes.SHA256()))
    assert der[0] == 0x30  # a valid DER signature over the right bytes: still refused
    expect(pack(cbor2.CBORTag(18, [protected, unprotected, payload, der])), Reason.BAD_SIGNATURE)
    expect(pack(cbor2.CBORTag(18, [protected, unprotected, payload, bytes(64)])), Reason.BAD_SIGNATURE)
    n = codec.P256_ORDER.to_bytes(32, "big")
    expect(pack(cbor2.CBORTag(18, [protected, unprotected, payload, n + n])), Reason.BAD_SIGNATURE)


def test_expired_not_yet_valid_and_replayed_screenshot() -> None:
    code = keyring().code(hours=12)
    expect(code, Reason.NOT_YET_VALID, at=NOW - timedelta(seconds=1))
    assert codec.verify(code, keyring().trust(), NOW + timedelta(hours=11, minutes=59)).valid
    # a screenshot of a valid code shown again the next day: the same bytes, now expired
    expect(code, Reason.EXPIRED, at=NOW + timedelta(hours=12))
    expect(code, Reason.EXPIRED, at=NOW + timedelta(days=3))


def test_truncated_and_mangled_base45() -> None:
    code = keyring().code()
    text = code[4:]
    # cut to a length of 1 modulo 3: no Base45 text ends like that
    n = len(text) - 1
    while n % 3 != 1:
        n -= 1
    expect("AC1:" + text[:n], Reason.BAD_ENCODING)
    # cut whole 3-character groups: valid Base45, but the zlib stream is truncated
    expect("AC1:" + text[: (len(text) // 3 - 2) * 3], Reason.BAD_COMPRESSION)
    # the last character dropped: one or the other, never valid, never a crash
    assert codec.verify(code[:-1], keyring().trust(), NOW).reason in (Reason.BAD_ENCODING, Reason.BAD_COMPRESSION)
    expect(code[:10] + "a" + code[11:], Reason.BAD_ENCODING)
    expect("AC1:" + "::::::", Reason.BAD_ENCODING)


def test_bad_prefix() -> None:
    code = keyring().code()
    for bad in ("HC2:" + code[4:], code[4:], "", "ac1:" + code[4:]):
        expect(bad, Reason.BAD_PREFIX)


def test_zlib_bomb_is_bounded() -> None:
    bomb = zlib.compress(b"\0" * (50 * 1024 * 1024), 9)
    assert len(bomb) < 60_000
    v = codec.verify("AC1:" + base45.encode(bomb[:2000]), keyring().trust(), NOW)
    assert v.reason is Reason.BAD_COMPRESSION
    small_bomb = zlib.compress(b"\0" * (codec.MAX_COSE_BYTES + 1))
    expect("AC1:" + base45.encode(small_bomb), Reason.BAD_COMPRESSION)
    with pytest.raises(codec.CodecFailure, match="zlib bomb"):
        codec.decompress(bomb)


def test_non_canonical_and_oversized_cbor() -> None:
    kr = keyring()
    protected, unprotected, payload, _ = parts(kr.code())
    claims = cbor2.loads(payload)
    # the same claims, keys in non-canonical order: a second encoding of one meaning is refused
    reordered = {k: claims[k] for k in sorted(claims, key=lambda k: -abs(k))}
    loose = cbor2.dumps(reordered)
    assert loose != payload and cbor2.loads(loose) == claims
    expect(
        pack(cbor2.CBORTag(18, [protected, unprotected, loose, resign(protected, loose, kr.issuer_key)])),
        Reason.BAD_CBOR,
    )
    # an integer in a longer form than needed (iat as a 64-bit head 0x1b) is also non-canonical
    iat = cbor2.dumps(claims[codec.CLAIM_IAT])
    wide = payload.replace(iat, b"\x1b" + claims[codec.CLAIM_IAT].to_bytes(8, "big"), 1)
    assert cbor2.loads(wide) == claims
    expect(
        pack(cbor2.CBORTag(18, [protected, unprotected, wide, resign(protected, wide, kr.issuer_key)])), Reason.BAD_CBOR
    )
    big = dict(claims)
    big[-65538] = "x" * 600
    fat = cbor2.dumps(big, canonical=True)
    expect(
        pack(cbor2.CBORTag(18, [protected, unprotected, fat, resign(protected, fat, kr.issuer_key)])), Reason.BAD_CBOR
    )
    expect(pack(cbor2.CBORTag(18, [protected, unprotected, b"\xff\x00", bytes(64)])), Reason.BAD_CBOR)
    # trailing bytes after the claims map, the signature made over them: refused, not ignored
    trailing = payload + b"\x00"
    sig = resign(protected, trailing, kr.issuer_key)
    expect(pack(cbor2.CBORTag(18, [protected, unprotected, trailing, sig])), Reason.BAD_CBOR)
    cose = cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, payload, resign(protected, payload, kr.issuer_key)]))
    expect("AC1:" + base45.encode(zlib.compress(cose + b"junk")), Reason.BAD_COSE)


def test_bad_cose_structures() -> None:
    kr = keyring()
    protected, unprotected, payload, sig = parts(kr.code())
    expect(pack([protected, unprotected, payload, sig]), Reason.BAD_COSE)  # untagged: ours must be tagged
    expect(pack(cbor2.CBORTag(98, [protected, unprotected, payload, sig])), Reason.BAD_COSE)
    expect(pack(cbor2.CBORTag(18, [protected, unprotected, payload])), Reason.BAD_COSE)
    expect(pack(cbor2.CBORTag(18, [b"\xa2", unprotected, payload, sig])), Reason.BAD_COSE)
    deep = b"\x81" * 100_000 + b"\x00"
    expect("AC1:" + base45.encode(zlib.compress(deep)), Reason.BAD_COMPRESSION)
    expect("AC1:" + base45.encode(zlib.compress(b"\x81" * 10_000 + b"\x00")), Reason.BAD_COSE)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=300),
        st.binary(max_size=300).map(lambda b: "AC1:" + base45.encode(b)),
        st.binary(max_size=300).map(lambda b: "HC1:" + base45.encode(zlib.compress(b))),
    )
)
def test_fuzz_decoder_only_gives_verdicts(text: str) -> None:
    v = codec.verify(text, keyring().trust(), NOW)
    assert isinstance(v, codec.Verdict) and not v.valid


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=400), st.integers(min_value=0, max_value=255))
def test_fuzz_single_byte_flips_never_pass(pos: int, value: int) -> None:
    kr = keyring()
    code = kr.code()
    raw = bytearray(codec.decompress(base45.decode(code[4:])))
    pos %= len(raw)
    if raw[pos] == value:
        return
    raw[pos] = value
    v = codec.verify("AC1:" + base45.encode(zlib.compress(bytes(raw))), kr.trust(), NOW)
    assert not v.valid

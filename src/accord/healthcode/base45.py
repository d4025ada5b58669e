"""Base45 (RFC 9285): bytes as the 45 characters of the QR alphanumeric mode.

Two bytes ``a, b`` make ``n = 256 a + b`` written as three base-45 digits, least significant first; a trailing
single byte makes two digits. Decoding is strict: a character outside the alphabet, a length of 1 modulo 3, or a
group whose value does not fit (``> 65535`` for three digits, ``> 255`` for two) is an error, never a guess.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}


class Base45Error(ValueError):
    """The text is not valid Base45; the message says where."""


def encode(data: bytes) -> str:
    out: list[str] = []
    append = out.append
    whole = len(data) - len(data) % 2
    for i in range(0, whole, 2):
        n = (data[i] << 8) | data[i + 1]
        n, c = divmod(n, 45)
        e, d = divmod(n, 45)
        append(ALPHABET[c] + ALPHABET[d] + ALPHABET[e])
    if whole < len(data):
        e, c = divmod(data[-1], 45)
        append(ALPHABET[c] + ALPHABET[e])
    return "".join(out)


def decode(text: str) -> bytes:
    if len(text) % 3 == 1:
        raise Base45Error(f"length {len(text)} is 1 modulo 3, so the text is truncated or padded")
    try:
        digits = [_VALUE[c] for c in text]
    except KeyError:
        pos = next(i for i, c in enumerate(text) if c not in _VALUE)
        raise Base45Error(f"character {text[pos]!r} at position {pos} is not in the Base45 alphabet") from None
    out = bytearray()
    whole = len(digits) - len(digits) % 3
    for i in range(0, whole, 3):
        n = digits[i] + 45 * digits[i + 1] + 2025 * digits[i + 2]
        if n > 0xFFFF:
            raise Base45Error(f"group at position {i} has value {n}, above 65535")
        out += n.to_bytes(2, "big")
    if whole < len(digits):
        n = digits[whole] + 45 * digits[whole + 1]
        if n > 0xFF:
            raise Base45Error(f"final group at position {whole} has value {n}, above 255")
        out.append(n)
    return bytes(out)

"""What the SM2 key types and both SM2 backends share: the curve, the error, the DER signature codec.

Kept apart from ``sm2.py`` so that a backend module can import it without importing the key types
that choose the backends (no import cycle). A backend sees keys only through the shapes
``PublicKey`` and ``PrivateKey`` below, which ``sm2.SM2PublicKey`` and ``sm2.SM2PrivateKey`` have.
"""

from __future__ import annotations

from typing import Protocol

from gmssl.sm2 import default_ecc_table

DEFAULT_USER_ID = b"1234567812345678"
# The SM2 recommended curve (GB/T 32918.5): y² = x³ + ax + b over F_p, base point G of prime order N.
P = int(default_ecc_table["p"], 16)
A = int(default_ecc_table["a"], 16)
B = int(default_ecc_table["b"], 16)
N = int(default_ecc_table["n"], 16)
G = b"\x04" + bytes.fromhex(default_ecc_table["g"])
# Fixed DER framing of the only key shapes we write (and that `openssl genpkey -algorithm SM2`
# writes): id-ecPublicKey with the SM2 curve OID 1.2.156.10197.1.301.
_ALGORITHM = bytes.fromhex("301306072a8648ce3d020106082a811ccf5501822d")
PKCS8_HEAD = bytes.fromhex("308187020100") + _ALGORITHM + bytes.fromhex("046d306b0201010420")
PKCS8_MID = bytes.fromhex("a144034200")
SPKI_HEAD = bytes.fromhex("3059") + _ALGORITHM + bytes.fromhex("034200")


class SignatureError(ValueError):
    """A signature or key that cannot be used."""


class PublicKey(Protocol):
    """What a backend reads of a public key: the point 04 ‖ x ‖ y, its Z_A, and e = SM3(Z_A ‖ M)."""

    point: bytes

    @property
    def z(self) -> bytes: ...

    def digest(self, message: bytes) -> bytes: ...


class PrivateKey(Protocol):
    """What a backend reads of a private key: the secret d and its public key."""

    secret: int

    @property
    def public(self) -> PublicKey: ...


def on_curve(point: bytes) -> bool:
    """True for an uncompressed point ``04 ‖ x ‖ y`` on the SM2 curve (the cofactor is 1, so every
    such point is in the group). A verifier fed an off-curve key would check signatures against a
    different, possibly weak, curve: refuse it when the key is made, in both backends alike."""
    if len(point) != 65 or point[0] != 4:
        return False
    x, y = int.from_bytes(point[1:33], "big"), int.from_bytes(point[33:], "big")
    return x < P and y < P and (y * y - (x * x * x + A * x + B)) % P == 0


def spki_der(point: bytes) -> bytes:
    """SubjectPublicKeyInfo DER of an SM2 public point."""
    return SPKI_HEAD + point


def pkcs8_der(secret: int, point: bytes) -> bytes:
    """Unencrypted PKCS#8 DER of an SM2 private key, with its public point (as OpenSSL writes)."""
    return PKCS8_HEAD + secret.to_bytes(32, "big") + PKCS8_MID + point


def _der_int(value: int) -> bytes:
    raw = value.to_bytes((value.bit_length() + 8) // 8, "big")
    return b"\x02" + bytes([len(raw)]) + raw


def encode_signature(r: int, s: int) -> bytes:
    """DER-encode (r, s) as OpenSSL does."""
    body = _der_int(r) + _der_int(s)
    return b"\x30" + bytes([len(body)]) + body


def _integer_at(der: bytes, pos: int) -> tuple[int, int]:
    """The DER INTEGER at ``pos`` (non-negative, minimally encoded) and the offset after it."""
    if pos + 2 > len(der) or der[pos] != 0x02:
        raise SignatureError("signature SEQUENCE must hold two INTEGERs")
    size = der[pos + 1]
    raw = der[pos + 2 : pos + 2 + size]
    if size == 0 or size > 33 or len(raw) != size:
        raise SignatureError("signature INTEGER has a bad length")
    # one encoding per value, as OpenSSL requires: no sign bit, no leading zero byte that the
    # next byte does not need
    if raw[0] & 0x80 or (raw[0] == 0 and size > 1 and not raw[1] & 0x80):
        raise SignatureError("signature INTEGER is not minimally encoded")
    return int.from_bytes(raw, "big"), pos + 2 + size


def decode_signature(der: bytes) -> tuple[int, int]:
    """Parse a DER SM2 signature strictly; raise SignatureError on any other shape."""
    if len(der) < 8 or der[0] != 0x30 or der[1] != len(der) - 2:
        raise SignatureError("signature is not a DER SEQUENCE")
    r, pos = _integer_at(der, 2)
    s, pos = _integer_at(der, pos)
    if pos != len(der):
        raise SignatureError("trailing bytes after the signature")
    return r, s


def plausible_signature(der: bytes) -> bool:
    """Strict DER with 0 < r, s < N: what libcrypto checks before any curve arithmetic (it
    re-encodes the DER and compares), checked in Python for the Python backend, so that both
    backends refuse exactly the same byte strings (tests/unit/crypto/test_sm_crypto.py)."""
    try:
        r, s = decode_signature(der)
    except SignatureError:
        return False
    return 0 < r < N and 0 < s < N

"""SM2 keys and signatures (GB/T 32918) with the SM3 digest and the default user ID.

Keys travel as standard PEM (PKCS#8 private, SubjectPublicKeyInfo public) so that ``openssl
pkey`` reads them; signatures are DER ``SEQUENCE { INTEGER r, INTEGER s }`` like OpenSSL's.

The key types are plain values; the curve arithmetic comes from the active backend
(``sm2_backend``: the system libcrypto, or pure-Python gmssl). Both refuse the same bytes: strict
DER (one encoding per value, nothing after it) and 0 < r, s < n, which libcrypto checks itself
(it re-encodes the DER and compares) and the Python backend checks with ``plausible_signature``.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from functools import cached_property

from gmssl.sm2 import default_ecc_table

from watertel.crypto.sm2_backend import backend
from watertel.crypto.sm2_common import (
    DEFAULT_USER_ID, G, N, PKCS8_HEAD, PKCS8_MID, SPKI_HEAD, SignatureError, decode_signature,
    encode_signature, on_curve, pkcs8_der, spki_der,
)
from watertel.crypto.sm2_python import base_mult
from watertel.crypto.sm3 import sm3

__all__ = [
    "DEFAULT_USER_ID", "G", "SM2PrivateKey", "SM2PublicKey", "SignatureError", "decode_signature",
    "default_ecc_table", "digest", "encode_signature", "z_value",
]

_N = N  # the group order under its historical name (tests, envelope tests)
_CURVE_Z_PART = bytes.fromhex(default_ecc_table["a"] + default_ecc_table["b"] + default_ecc_table["g"])


def _pem(label: str, der: bytes) -> str:
    body = base64.encodebytes(der).decode().replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def _unpem(text: str, label: str) -> bytes:
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    if begin not in text or end not in text:
        raise SignatureError(f"not a PEM {label.lower()} (expected a '{begin}' block)")
    body = text.split(begin, 1)[1].split(end, 1)[0]
    return base64.b64decode("".join(body.split()))


def z_value(point: bytes, user_id: bytes = DEFAULT_USER_ID) -> bytes:
    """Z_A = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA) (GB/T 32918.2 §5.5) of the point 04 ‖ x ‖ y."""
    entl = (len(user_id) * 8).to_bytes(2, "big")
    return sm3(entl + user_id + _CURVE_Z_PART + point[1:])


def digest(point: bytes, message: bytes, user_id: bytes = DEFAULT_USER_ID) -> bytes:
    """e = SM3(Z_A ‖ M), the value SM2 signs (GB/T 32918.2 §6.1), for the public point 04 ‖ x ‖ y."""
    return sm3(z_value(point, user_id) + message)


@dataclass(frozen=True)
class SM2PublicKey:
    """An SM2 public key: the uncompressed point 04 ‖ x ‖ y (65 bytes) on the SM2 curve."""

    point: bytes

    def __post_init__(self) -> None:
        if len(self.point) != 65 or self.point[0] != 4:
            raise SignatureError("SM2 public key must be an uncompressed 65-byte point")
        if not on_curve(self.point):
            raise SignatureError("SM2 public key is not a point on the SM2 curve")

    @classmethod
    def from_pem(cls, text: str) -> SM2PublicKey:
        der = _unpem(text, "PUBLIC KEY")
        if not der.startswith(SPKI_HEAD) or len(der) != len(SPKI_HEAD) + 65:
            raise SignatureError("not an SM2 SubjectPublicKeyInfo (curve OID 1.2.156.10197.1.301)")
        return cls(der[len(SPKI_HEAD) :])

    def to_pem(self) -> str:
        return _pem("PUBLIC KEY", spki_der(self.point))

    @cached_property
    def z(self) -> bytes:
        """Z_A with the default user ID: fixed per key, so computed once (an SM3 of 210 bytes per
        signature otherwise). ``cached_property`` writes the instance dict, which a frozen
        dataclass allows; equality and hashing still use ``point`` only."""
        return z_value(self.point)

    def digest(self, message: bytes, user_id: bytes = DEFAULT_USER_ID) -> bytes:
        """e = SM3(Z_A ‖ M) for this key (see ``digest``)."""
        return sm3(self.z + message) if user_id == DEFAULT_USER_ID else digest(self.point, message, user_id)

    def verify(self, signature: bytes, message: bytes) -> bool:
        """True only for a valid signature over exactly ``message``; never raises for bad bytes."""
        return backend().verify(self, signature, message)


@dataclass(frozen=True, repr=False)
class SM2PrivateKey:
    """An SM2 private key; ``repr`` never shows the secret."""

    secret: int
    public: SM2PublicKey

    def __repr__(self) -> str:
        return f"SM2PrivateKey(public={self.public.point[:5].hex()}…)"

    @classmethod
    def generate(cls) -> SM2PrivateKey:
        return cls.from_secret(secrets.randbelow(N - 2) + 1)

    @classmethod
    def from_secret(cls, secret: int) -> SM2PrivateKey:
        if not 0 < secret < N - 1:
            raise SignatureError("SM2 private key out of range")
        return cls(secret, SM2PublicKey(base_mult(secret)))

    @classmethod
    def from_pem(cls, text: str) -> SM2PrivateKey:
        der = _unpem(text, "PRIVATE KEY")
        head, mid = len(PKCS8_HEAD), len(PKCS8_HEAD) + 32
        if not der.startswith(PKCS8_HEAD) or der[mid : mid + len(PKCS8_MID)] != PKCS8_MID:
            raise SignatureError("not an unencrypted SM2 PKCS#8 key (curve OID 1.2.156.10197.1.301)")
        key = cls.from_secret(int.from_bytes(der[head:mid], "big"))
        if der[mid + len(PKCS8_MID) :] != key.public.point:
            raise SignatureError("PKCS#8 public key does not match its private key")
        return key

    def to_pem(self) -> str:
        return _pem("PRIVATE KEY", pkcs8_der(self.secret, self.public.point))

    def sign(self, message: bytes) -> bytes:
        """Sign ``message`` (SM3 digest, default user ID); returns a DER signature."""
        return backend().sign(self, message)

"""SM2 keys and signatures (GB/T 32918) with the SM3 digest and the default user ID.

Keys travel as standard PEM (PKCS#8 private, SubjectPublicKeyInfo public) so that ``openssl
pkey`` reads them; signatures are DER ``SEQUENCE { INTEGER r, INTEGER s }`` like OpenSSL's.

The key types are plain values; the curve arithmetic comes from the active backend: the system
libcrypto (``sm2_openssl``) or pure-Python gmssl (``sm2_python``). Both refuse the same bytes:
strict DER (one encoding per value, nothing after it) and 0 < r, s < n, which libcrypto checks
itself (it re-encodes the DER and compares) and the Python backend checks with
``plausible_signature``.

``WATERTEL_SM2_BACKEND`` chooses the backend, read once on first use:

- unset, empty or ``auto``: ``openssl`` when the system libcrypto (OpenSSL 3) loads and passes the
  GB/T 32918.5 known-answer check, else ``python``;
- ``openssl``: libcrypto or an error (a gateway told to be fast must not quietly be 40× slower);
- ``python``: the pure-Python ``gmssl`` backend.

Both backends sign and verify the same bytes the same way (DER r,s, SM3, default user ID), so
either side of the link may use either. Tests and the benchmark switch with ``use_backend()``.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from typing import Protocol

from gmssl.sm2 import default_ecc_table

from watertel.crypto.sm2_common import (
    DEFAULT_USER_ID, G, N, PKCS8_HEAD, PKCS8_MID, SPKI_HEAD, PrivateKey, PublicKey, SignatureError,
    decode_signature, encode_signature, on_curve, pkcs8_der, spki_der,
)
from watertel.crypto.sm2_openssl import OpenSSLSM2, OpenSSLUnavailable
from watertel.crypto.sm2_python import PythonSM2, base_mult
from watertel.crypto.sm3 import sm3

__all__ = [
    "DEFAULT_USER_ID", "G", "BackendError", "BackendName", "SM2PrivateKey", "SM2PublicKey", "SignatureError",
    "available", "backend", "decode_signature", "default_ecc_table", "digest", "encode_signature", "make_backend",
    "use_backend", "z_value",
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


ENV_VAR = "WATERTEL_SM2_BACKEND"

# GB/T 32918.5-2017 Annex A (= GM/T 0003.5-2012): a signature on the recommended curve with the
# default user ID, used to prove that a libcrypto really does SM2 before trusting it.
KAT_MESSAGE = b"message digest"
KAT_R = 0xF5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3
KAT_S = 0xB1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA
KAT_PUBLIC = bytes.fromhex(
    "04" "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)


class BackendName(str, Enum):
    OPENSSL = "openssl"
    PYTHON = "python"


class SM2Backend(Protocol):
    """One implementation of SM2 signing and verification over whole messages."""

    name: str

    def sign(self, key: PrivateKey, message: bytes) -> bytes:
        """DER signature of ``message`` (SM3 digest, default user ID), fresh random nonce."""

    def verify(self, key: PublicKey, signature: bytes, message: bytes) -> bool:
        """True only for a valid signature; ``signature`` is already strict DER with r, s in range."""


class BackendError(SignatureError):
    """The SM2 backend asked for cannot be used."""


_lock = threading.Lock()
_active: SM2Backend | None = None


def _passes_known_answer(backend: SM2Backend) -> bool:
    key = SM2PublicKey(KAT_PUBLIC)
    good = encode_signature(KAT_R, KAT_S)
    return backend.verify(key, good, KAT_MESSAGE) and not backend.verify(key, good, KAT_MESSAGE + b"!")


def make_backend(name: BackendName | str) -> SM2Backend:
    """A new backend by name; raises BackendError when it cannot be used here."""
    try:
        name = BackendName(name)
    except ValueError:
        choices = ", ".join(b.value for b in BackendName)
        raise BackendError(f"{ENV_VAR}: unknown SM2 backend {name!r} (choose {choices} or auto)") from None
    if name is BackendName.PYTHON:
        return PythonSM2()
    try:
        backend = OpenSSLSM2()
    except OpenSSLUnavailable as err:
        raise BackendError(f"SM2 backend 'openssl' unavailable: {err}") from err
    if not _passes_known_answer(backend):
        raise BackendError("SM2 backend 'openssl' unavailable: libcrypto fails the GB/T 32918 known answer")
    return backend


def available() -> list[BackendName]:
    """The backends that work on this machine, fastest first."""
    names = []
    for name in BackendName:
        try:
            make_backend(name)
            names.append(name)
        except BackendError:
            pass
    return names


def _from_environment() -> SM2Backend:
    choice = os.environ.get(ENV_VAR, "").strip().lower()
    if choice not in ("", "auto"):
        return make_backend(choice)
    try:
        return make_backend(BackendName.OPENSSL)
    except BackendError:
        return make_backend(BackendName.PYTHON)


def backend() -> SM2Backend:
    """The active backend, chosen from the environment on first use."""
    global _active
    if _active is None:
        with _lock:
            if _active is None:
                _active = _from_environment()
    return _active


@contextlib.contextmanager
def use_backend(name: BackendName | str) -> Iterator[SM2Backend]:
    """Make ``name`` the active backend inside the block (tests, benchmarks); not for threads
    that sign concurrently with the switch."""
    global _active
    chosen = make_backend(name)
    with _lock:
        previous, _active = _active, chosen
    try:
        yield chosen
    finally:
        with _lock:
            _active = previous

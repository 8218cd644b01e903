"""Which SM2 implementation signs and verifies: libcrypto when it can, pure Python otherwise.

``WATERTEL_SM2_BACKEND`` chooses, read once on first use:

- unset, empty or ``auto``: ``openssl`` when the system libcrypto (OpenSSL 3) loads and passes the
  GB/T 32918.5 known-answer check, else ``python``;
- ``openssl``: libcrypto or an error (a gateway told to be fast must not quietly be 40× slower);
- ``python``: the pure-Python ``gmssl`` backend.

Both backends sign and verify the same bytes the same way (DER r,s, SM3, default user ID), so
either side of the link may use either. Tests and the benchmark switch with ``use_backend()``.
"""

from __future__ import annotations

import contextlib
import os
import threading
from enum import Enum
from typing import TYPE_CHECKING, Iterator, Protocol

from watertel.crypto.sm2_common import SignatureError

if TYPE_CHECKING:
    from watertel.crypto.sm2 import SM2PrivateKey, SM2PublicKey

ENV_VAR = "WATERTEL_SM2_BACKEND"

# GB/T 32918.5-2017 Annex A (= GM/T 0003.5-2012): a signature on the recommended curve with the
# default user ID, used to prove that a libcrypto really does SM2 before trusting it.
KAT_SECRET = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
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

    def sign(self, key: SM2PrivateKey, message: bytes) -> bytes:
        """DER signature of ``message`` (SM3 digest, default user ID), fresh random nonce."""

    def verify(self, key: SM2PublicKey, signature: bytes, message: bytes) -> bool:
        """True only for a valid signature; ``signature`` is already strict DER with r, s in range."""


class BackendError(SignatureError):
    """The SM2 backend asked for cannot be used."""


_lock = threading.Lock()
_active: SM2Backend | None = None


def _passes_known_answer(backend: SM2Backend) -> bool:
    from watertel.crypto.sm2 import SM2PublicKey
    from watertel.crypto.sm2_common import encode_signature

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
        from watertel.crypto.sm2_python import PythonSM2

        return PythonSM2()
    from watertel.crypto.sm2_openssl import OpenSSLSM2, OpenSSLUnavailable

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

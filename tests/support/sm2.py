"""SM2 backends and signature encodings for the crypto tests."""

from __future__ import annotations

from watertel.crypto import SM2PrivateKey
from watertel.crypto.sm2 import decode_signature, BackendName, available, BackendError, make_backend

BACKENDS = [b.value for b in BackendName]


def backend_available(name: str) -> bool:
    try:
        make_backend(name)
    except BackendError:
        return False
    return True


def openssl_loads() -> bool:
    return BackendName.OPENSSL in available()


def der(*integers: bytes, tag: int = 0x30) -> bytes:
    body = b"".join(b"\x02" + bytes([len(raw)]) + raw for raw in integers)
    return bytes([tag, len(body)]) + body


def non_canonical(key: SM2PrivateKey, message: bytes) -> list[bytes]:
    """Two re-encodings of valid signatures over ``message``, each with the same (r, s) values:
    an INTEGER with a needless 00 prefix, and a 256-bit INTEGER without its 00 (negative in DER)."""
    variants: list[bytes] = []
    while len(variants) < 2:
        r, s = decode_signature(key.sign(message))
        raw = [v.to_bytes((v.bit_length() + 8) // 8, "big") for v in (r, s)]
        if not variants and r.bit_length() < 256:
            variants.append(der(b"\x00" + raw[0], raw[1]))
        elif len(variants) == 1 and s.bit_length() == 256:
            variants.append(der(raw[0], raw[1][1:]))
    return variants

"""SM2 in pure Python (``gmssl``): slow (~45 signatures/s) but runs on any gateway, no libcrypto.

Two of gmssl's traps are avoided here: its ``random_hex`` nonce uses ``random`` (not a CSPRNG), so
the nonce comes from ``secrets``; and its constructor ``lstrip("04")``s the public key, which
corrupts keys whose x coordinate starts with 0 or 4, so the key is set after construction. The
digest e = SM3(Z ‖ M) is computed by the key type with ``cryptography``'s SM3 (faster than gmssl's).
"""

from __future__ import annotations

import secrets

from gmssl.sm2 import CryptSM2, default_ecc_table

from watertel.crypto.sm2_common import (
    N, PrivateKey, PublicKey, decode_signature, encode_signature, plausible_signature,
)


def _engine(private_hex: str = "", public_point: bytes = b"") -> CryptSM2:
    engine = CryptSM2(private_key=private_hex, public_key="")
    engine.public_key = public_point[1:].hex()  # x ‖ y, set late: see module docstring
    return engine


def base_mult(secret: int) -> bytes:
    """The public point secret·G, uncompressed (04 ‖ x ‖ y)."""
    return b"\x04" + bytes.fromhex(_engine()._kg(secret, default_ecc_table["g"]))


def sign_digest(secret: int, point: bytes, digest: bytes, nonce: int) -> tuple[int, int] | None:
    """(r, s) for digest e and nonce k, or None for the rare r = 0 / s = 0 / r + k = n cases."""
    rs = _engine(f"{secret:064x}", point).sign(digest, f"{nonce:064x}")
    return (int(rs[:64], 16), int(rs[64:], 16)) if rs else None


class PythonSM2:
    """The gmssl backend."""

    name = "python"

    def sign(self, key: PrivateKey, message: bytes) -> bytes:
        digest = key.public.digest(message)
        while True:
            rs = sign_digest(key.secret, key.public.point, digest, secrets.randbelow(N - 1) + 1)
            if rs:  # None: draw another nonce
                return encode_signature(*rs)

    def verify(self, key: PublicKey, signature: bytes, message: bytes) -> bool:
        """False for anything but strict DER with 0 < r, s < n (as libcrypto refuses), then gmssl."""
        if not plausible_signature(signature):
            return False
        r, s = decode_signature(signature)
        try:
            return bool(_engine(public_point=key.point).verify(f"{r:064x}{s:064x}", key.digest(message)))
        except TypeError:  # gmssl fails on s·G + t·P = O, which the key's holder can craft: invalid
            return False

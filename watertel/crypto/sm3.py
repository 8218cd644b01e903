"""SM3 (GB/T 32905): through Python's ``hashlib`` when its OpenSSL has SM3, else pyca/cryptography.

Both run OpenSSL's SM3 code. ``hashlib`` is preferred because it links the system libcrypto,
the same library the SM2 backend calls: an envelope's chain hash right after an SM2 operation
then runs code that is still in the CPU caches, ≈ 7 µs of ≈ 20 µs less per envelope of 100
readings than ``cryptography``'s own statically linked copy (bench/README.md). Both give the same
digest (the GB/T 32905 vectors in tests/unit/crypto/test_sm_crypto.py run on the one chosen here).
"""

import hashlib

from cryptography.hazmat.primitives import hashes, hmac


def _cryptography_sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def _hashlib_has_sm3() -> bool:
    try:
        return hashlib.new("sm3", b"abc").digest() == _cryptography_sm3(b"abc")
    except ValueError:  # this Python's OpenSSL has no SM3
        return False


if _hashlib_has_sm3():
    _SM3 = hashlib.new("sm3")

    def sm3(data: bytes) -> bytes:
        """Return the 32-byte SM3 digest of ``data``."""
        digest = _SM3.copy()  # not hashlib.new("sm3"): that fetches SM3 from OpenSSL's method store
        digest.update(data)   # every call (names outside hashlib's own table are not cached), ~4 µs
        return digest.digest()
else:
    sm3 = _cryptography_sm3


def hmac_sm3(key: bytes, data: bytes) -> bytes:
    """HMAC (RFC 2104) over SM3, 32 bytes: the audit log's keyed chain (cloud/audit). pyca's HMAC
    runs OpenSSL's; tests/unit/crypto check it against RFC 2104 written out over ``sm3``."""
    mac = hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize()

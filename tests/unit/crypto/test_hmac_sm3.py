"""HMAC-SM3 (the audit log's keyed chain) is RFC 2104 over SM3: OpenSSL's HMAC, checked against
the definition written out over ``sm3``, for keys shorter and longer than SM3's 64-byte block."""

from __future__ import annotations

import pytest

from watertel.crypto import hmac_sm3, sm3

BLOCK = 64


def rfc2104(key: bytes, data: bytes) -> bytes:
    key = sm3(key) if len(key) > BLOCK else key
    key = key.ljust(BLOCK, b"\0")
    inner = sm3(bytes(k ^ 0x36 for k in key) + data)
    return sm3(bytes(k ^ 0x5C for k in key) + inner)


@pytest.mark.parametrize("key", [b"k", bytes(range(32)), bytes(range(64)), bytes(range(100))], ids=len)
@pytest.mark.parametrize("data", [b"", b"abc", "审计 audit".encode() * 50])
def test_hmac_sm3_is_rfc_2104_over_sm3(key, data):
    assert hmac_sm3(key, data) == rfc2104(key, data)
    assert len(hmac_sm3(key, data)) == 32 and hmac_sm3(key + b"x", data) != hmac_sm3(key, data)

"""Passwords (scrypt from the standard library) and server-side sessions.

A password hash reads ``scrypt$<n>$<salt hex>$<key hex>``; the clear password is never stored
or logged. Sessions are random tokens kept in memory with an expiry; the cookie is HttpOnly and
SameSite=Strict.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field

SCRYPT_N = 2**14


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=8, p=1)
    return f"scrypt${SCRYPT_N}${salt.hex()}${key.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=8, p=1)
    except ValueError:
        return False
    return hmac.compare_digest(got, bytes.fromhex(key))


@dataclass
class Sessions:
    lifetime_s: float
    _tokens: dict[str, tuple[str, float]] = field(default_factory=dict)

    def open(self, username: str) -> str:
        token = secrets.token_urlsafe(32)
        self._tokens[token] = (username, time.time() + self.lifetime_s)
        return token

    def user(self, token: str | None) -> str | None:
        entry = self._tokens.get(token or "")
        if entry is None:
            return None
        if entry[1] < time.time():
            del self._tokens[token]
            return None
        return entry[0]

    def close(self, token: str | None) -> None:
        self._tokens.pop(token or "", None)

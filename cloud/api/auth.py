"""Passwords and server-side sessions (the login limits: login_limits.py).

New password hashes are argon2id (argon2-cffi, its default cost: 64 MiB, 3 passes), as PHC strings
``$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>``. Hashes made before, ``scrypt$<n>$<salt hex>$<key
hex>``, still verify, so existing configs keep working; `watertel cloud hash-password` makes a new
argon2 hash to replace one at leisure. The clear password is never stored or logged.

A session is a random token kept in memory with an expiry. A cookie session (HttpOnly,
SameSite=Strict) also has a CSRF token, returned at login and sent back by the console in the
``X-CSRF-Token`` header with every unsafe request; a bearer session (``Authorization: Bearer``) needs
none, since a browser never attaches it by itself. Each token works only the way it was issued.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
SessionKind = Literal["cookie", "bearer"]


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` for the ``api.users`` list."""
    return _hasher.hash(password)


def check_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (an argon2 hash, or a legacy ``scrypt$`` one)."""
    if stored.startswith("$argon2"):
        try:
            return _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
    try:
        scheme, n, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=8, p=1)
    except ValueError:
        return False
    return hmac.compare_digest(got, bytes.fromhex(key))


@dataclass(frozen=True)
class Session:
    username: str
    kind: SessionKind
    expires: float  # time.time()
    csrf: str = ""  # cookie sessions only


@dataclass
class Sessions:
    lifetime_s: float
    _tokens: dict[str, Session] = field(default_factory=dict)

    def open(self, username: str, kind: SessionKind = "cookie") -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        session = Session(username, kind, time.time() + self.lifetime_s,
                          secrets.token_urlsafe(32) if kind == "cookie" else "")
        self._tokens[token] = session
        return token, session

    def get(self, token: str | None, kind: SessionKind) -> Session | None:
        """The live session of ``token`` if it was issued as ``kind``; expired ones are dropped."""
        session = self._tokens.get(token or "")
        if session is None or session.kind != kind:
            return None
        if session.expires < time.time():
            self._tokens.pop(token, None)
            return None
        return session

    def user(self, token: str | None) -> str | None:
        """The user of a live cookie session (the console page's check)."""
        session = self.get(token, "cookie")
        return session.username if session else None

    def close(self, token: str | None) -> None:
        self._tokens.pop(token or "", None)

    def close_user(self, username: str, keep: str | None = None) -> int:
        """End every session of ``username`` but ``keep`` (a deleted or changed user, a reset
        password); the number ended."""
        ended = [t for t, s in list(self._tokens.items()) if s.username == username and t != keep]
        for token in ended:
            self._tokens.pop(token, None)
        return len(ended)

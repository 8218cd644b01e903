"""Idempotency keys: a write a client may send again (a crew's phone on a weak signal resends a
report whose answer it never got) is done once, and a repeat gets the first answer.

The client names each write with a key of its own (``Idempotency-Key``); the key is claimed inside
the write's own transaction, and the answer stored with it before commit, so a crash in between
leaves neither. Two copies arriving at once: the second's claim waits for the first's commit
(PostgreSQL's unique index; SQLite has one writer at a time) and then reads its answer. A key is
the client's per user; the same key for a different request (``request``: method, path and a hash
of the body) is refused, as the IETF draft on the header advises. Keys are kept ``KEEP_DAYS``: a
phone may stay offline for days.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from watertel.cloud.store.database import Database

KEEP_DAYS = 30


class IdempotencyConflict(Exception):
    """The key was first used for another request (the API answers 422)."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"Idempotency-Key {key!r} was used for a different request: use a new key for each request")


@dataclass
class Once:
    """A write's idempotency key as its client sent it, and what it asked; ``replayed`` is set
    when the store answered with the first answer instead of doing the write again."""

    actor: str
    key: str
    request: str  # e.g. "POST /api/workorders/7/report sm3:…" (the API builds it)
    replayed: bool = False


class Idempotency(Database):
    """Part of ``SqlStore``: used inside another part's write transaction."""

    def _claim(self, once: Once | None, t_ms: int) -> dict | None:
        """None: go ahead (no key, or this is the key's first use: claimed); else the first answer.
        Raises ``IdempotencyConflict`` for a key first used for another request."""
        if once is None:
            return None
        if self._rows("INSERT INTO idempotency_keys (actor, key, request, t_ms, status, answer) VALUES (?,?,?,?,0,'')"
                      " ON CONFLICT DO NOTHING RETURNING t_ms", (once.actor, once.key, once.request, t_ms)):
            return None
        (request, answer), = self._rows("SELECT request, answer FROM idempotency_keys WHERE actor = ? AND key = ?",
                                        (once.actor, once.key))
        if request != once.request:
            raise IdempotencyConflict(once.key)
        once.replayed = True
        return json.loads(answer)

    def _remember(self, once: Once | None, status: int, answer: dict) -> dict:
        """Store the answer to a claimed key (same transaction); returns ``answer``."""
        if once is not None:
            self._execute("UPDATE idempotency_keys SET status = ?, answer = ? WHERE actor = ? AND key = ?",
                          (status, json.dumps(answer), once.actor, once.key))
        return answer

    def forget_idempotency_keys(self, before_ms: int) -> int:
        """Drop keys claimed before ``before_ms`` (the lifecycle's timer); how many went."""
        with self._write():
            return self._execute("DELETE FROM idempotency_keys WHERE t_ms < ?", (before_ms,)).rowcount

"""The audit log's rows and how each is sealed onto the chain.

Each row's hash covers the previous row's hash and the row's own content::

    content(n) = UTF-8 JSON [id, t_ms, actor, role, client, method, path, summary, status]
    hash(n)    = HMAC-SM3(key, hash(n-1) ‖ content(n))     keyed rows (the key is outside the database)
    hash(n)    = SM3(hash(n-1) ‖ content(n))               rows written before the key existed (legacy)
    hash(0)    = 32 zero bytes

Ids run 1, 2, 3, … without gaps, so an edited row breaks its own hash, a deleted row leaves a
gap, and a row put in between breaks the next link. Without the key nobody can recompute a keyed
row's hash, so an edit cannot be hidden by recomputing the chain; rows cut off its end are caught
by the signed checkpoints (checkpoints.py). `watertel audit verify` walks it all (verify.py).

The table lives in the store (cloud/store/audit.py), which appends each row in a write
transaction with the chain locked, so two processes append one after the other.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from watertel.cloud.store import SqlStore, now_ms
from watertel.cloud.store.audit import AuditRow
from watertel.crypto import hmac_sm3, sm3

GENESIS = "00" * 32


@dataclass(frozen=True)
class Entry:
    """One audit row."""

    id: int
    t_ms: int
    actor: str  # the username ("" when nobody was logged in; "cli:<os user>" for a command)
    role: str
    client: str  # the client's address as the server saw it (the host's name for a command)
    method: str  # the HTTP method, or CLI
    path: str  # the API path, or the command (e.g. "watertel cloud restore")
    summary: str  # short, never a password or a token
    status: int  # the HTTP status of the answer, or the command's exit status
    prev_hash: str
    hash: str

    def content(self) -> bytes:
        return json.dumps([self.id, self.t_ms, self.actor, self.role, self.client, self.method, self.path,
                           self.summary, self.status], ensure_ascii=False, separators=(",", ":")).encode()

    def expected_hash(self, key: bytes | None = None) -> str:
        """The row's hash: keyed with ``key``, plain SM3 without (a legacy row)."""
        data = bytes.fromhex(self.prev_hash) + self.content()
        return (hmac_sm3(key, data) if key else sm3(data)).hex()

    def public(self) -> dict:
        return asdict(self)


def append(store: SqlStore, *, actor: str, role: str, client: str, method: str, path: str, summary: str,
           status: int, t_ms: int | None = None, key: bytes | None = None) -> Entry:
    """Add one row at the end of the chain (its own short write transaction), sealed with ``key``
    (None: plain SM3, as before the key existed; the service always passes its key)."""

    def seal(last_id: int, last_hash: str | None) -> AuditRow:
        draft = Entry(last_id + 1, now_ms() if t_ms is None else t_ms, actor, role, client, method, path,
                      summary[:200], status, GENESIS if last_hash is None else last_hash, "")
        return AuditRow(**{**asdict(draft), "hash": draft.expected_hash(key)})

    return entry_of(store.append_audit(seal))


def recent(store: SqlStore, limit: int = 100, before_id: int | None = None,
           actors: list[str] | None = None) -> list[Entry]:
    """The latest rows, newest first (``before_id``: the page before that row; ``actors``: only theirs)."""
    return [entry_of(row) for row in store.audit_rows(limit, before_id, actors)]


def entry_of(row: tuple) -> Entry:
    id_, t_ms, actor, role, client, method, path, summary, status, prev_hash, hash_ = row
    return Entry(int(id_), int(t_ms), actor, role, client, method, path, summary, int(status), prev_hash, hash_)

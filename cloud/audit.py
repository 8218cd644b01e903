"""The audit log: every write through the API (logins, logouts, any POST/PUT/PATCH/DELETE), who
made it, what it was, when, from where and how it ended; append-only and SM3 hash-chained.

Each row's hash covers the previous row's hash and the row's own content::

    hash(n) = SM3( hash(n-1) ‖ UTF-8 JSON [id, t_ms, actor, role, client, method, path, summary, status] )
    hash(0) = 32 zero bytes

Ids run 1, 2, 3, … without gaps, so an edited row breaks its own hash, a deleted row leaves a
gap, and a row put in between breaks the next link. `watertel audit verify` walks the chain
(`verify`). What a chain alone cannot show is rows cut off its end: keep copies of the latest
hash elsewhere (backups, or a report) to check against.

The table lives in the store (schema version 3, cloud/store/audit.py), which appends each row in
a write transaction with the chain locked, so two API processes append one after the other.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from watertel.cloud.store import SqlStore, now_ms
from watertel.cloud.store.audit import AuditRow
from watertel.crypto import sm3

GENESIS = "00" * 32


@dataclass(frozen=True)
class Entry:
    """One audit row."""

    id: int
    t_ms: int
    actor: str  # the username ("" when nobody was logged in)
    role: str
    client: str  # the client's address as the server saw it
    method: str
    path: str
    summary: str  # short, never a password or a token
    status: int  # the HTTP status of the answer
    prev_hash: str
    hash: str

    def content(self) -> bytes:
        return json.dumps([self.id, self.t_ms, self.actor, self.role, self.client, self.method, self.path,
                           self.summary, self.status], ensure_ascii=False, separators=(",", ":")).encode()

    def expected_hash(self) -> str:
        return sm3(bytes.fromhex(self.prev_hash) + self.content()).hex()

    def public(self) -> dict:
        return asdict(self)


def append(store: SqlStore, *, actor: str, role: str, client: str, method: str, path: str, summary: str,
           status: int, t_ms: int | None = None) -> Entry:
    """Add one row at the end of the chain (its own short write transaction)."""

    def seal(last_id: int, last_hash: str | None) -> AuditRow:
        draft = Entry(last_id + 1, now_ms() if t_ms is None else t_ms, actor, role, client, method, path,
                      summary[:200], status, GENESIS if last_hash is None else last_hash, "")
        return AuditRow(**{**asdict(draft), "hash": draft.expected_hash()})

    return _entry(store.append_audit(seal))


def recent(store: SqlStore, limit: int = 100, before_id: int | None = None) -> list[Entry]:
    """The latest rows, newest first (``before_id``: the page before that row)."""
    return [_entry(row) for row in store.audit_rows(limit, before_id)]


def _entry(row: tuple) -> Entry:
    id_, t_ms, actor, role, client, method, path, summary, status, prev_hash, hash_ = row
    return Entry(int(id_), int(t_ms), actor, role, client, method, path, summary, int(status), prev_hash, hash_)


@dataclass(frozen=True)
class Verdict:
    entries: int  # rows checked
    broken_id: int | None = None  # the first row that does not fit (None: the chain holds)
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def verify(store: SqlStore, batch: int = 5000) -> Verdict:
    """Walk the chain from the first row; stop at the first row that does not fit."""
    expected_id, prev, count = 1, GENESIS, 0
    for rows in store.audit_batches(batch):
        for row in rows:
            entry = _entry(row)
            if entry.id != expected_id:
                return Verdict(count, expected_id, f"row {expected_id} is missing (next is {entry.id}): rows were deleted")
            if entry.prev_hash != prev:
                return Verdict(count, entry.id, "its link to the previous row is wrong: rows were removed or put in")
            if entry.hash != entry.expected_hash():
                return Verdict(count, entry.id, "its content does not match its hash: the row was changed")
            expected_id, prev, count = expected_id + 1, entry.hash, count + 1
    return Verdict(count)

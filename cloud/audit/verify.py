"""Walking the audit chain (`watertel audit verify`, ``GET /api/audit/verify``): the first row that
does not fit, and the last signed checkpoint the log still matched.

What each tampering looks like:

- a field changed: the row's hash no longer matches its content (or, recomputed without the key,
  is a plain SM3 where a keyed hash belongs);
- a row deleted: a gap in the ids, or the next row's link is wrong;
- rows cut off the end: the last checkpoint names a row past the log's end;
- the whole chain recomputed without the key: the first rewritten row is plain SM3, and the
  checkpoints' heads no longer match.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from watertel.cloud.audit.chain import GENESIS, Entry, entry_of
from watertel.cloud.audit.checkpoints import Checkpoint
from watertel.cloud.store import SqlStore

CHANGED = "its content does not match its hash: the row was changed"
UNKEYED = ("its hash was made without the audit key where a keyed one belongs: the chain was recomputed by"
           " someone who does not hold the key")


def when(t_ms: int) -> str:
    return dt.datetime.fromtimestamp(t_ms / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe(cp: Checkpoint | None) -> str:
    return "none" if cp is None else f"row {cp.seq} signed {when(cp.t_ms)}" + (" (restore)" if cp.kind == "restore" else "")


@dataclass(frozen=True)
class Verdict:
    entries: int  # rows checked
    broken_id: int | None = None  # the first row that does not fit (None: the chain holds)
    problem: str = ""
    trusted: Checkpoint | None = None  # the last checkpoint the log matched before any problem
    legacy: int = 0  # rows sealed without the key (written before it existed)
    notes: tuple[str, ...] = field(default=())  # problems outside the chain (the checkpoint file)

    @property
    def ok(self) -> bool:
        return self.broken_id is None and not self.notes


@dataclass
class _Walk:
    key: bytes | None
    legacy: int | None  # None: find it (rows before the first keyed one)
    checkpoints: dict[int, list[Checkpoint]]
    count: int = 0
    keyed_seen: bool = False
    found_legacy: int = 0  # rows taken as legacy while ``legacy`` is None
    trusted: Checkpoint | None = None

    def seal_problem(self, entry: Entry) -> str:
        """Why this row's hash is wrong for its place, or ''."""
        if self.key is None:
            return "" if entry.hash == entry.expected_hash() else CHANGED
        keyed = entry.hash == entry.expected_hash(self.key)
        plain = not keyed and entry.hash == entry.expected_hash()
        if self.legacy is None:  # no checkpoint says where the key began: legacy rows come first
            self.keyed_seen = self.keyed_seen or keyed
            self.found_legacy += plain and not self.keyed_seen
            return "" if keyed or (plain and not self.keyed_seen) else UNKEYED if plain else CHANGED
        if entry.id <= self.legacy:
            return "" if plain else CHANGED
        return "" if keyed else UNKEYED if plain else CHANGED

    def checkpoint_problem(self, entry: Entry) -> str:
        for cp in self.checkpoints.get(entry.id, ()):
            if cp.head != entry.hash:
                return (f"its hash differs from the checkpoint {describe(cp)}: the log up to this row was rewritten"
                        " after that checkpoint")
            self.trusted = cp if self.trusted is None or cp.t_ms >= self.trusted.t_ms else self.trusted
        return ""


def verify(store: SqlStore, key: bytes | None = None, checkpoints: list[Checkpoint] | None = None,
           legacy: int | None = None, batch: int = 5000) -> Verdict:
    """Walk the chain from the first row; stop at the first row that does not fit.

    ``key``: the HMAC key (None: every row plain SM3, a log from before keys); ``checkpoints``:
    those of the current epoch (checkpoints.current_epoch), each already signature-checked;
    ``legacy``: the unkeyed rows at the start (default: the last checkpoint's, else found)."""
    checkpoints = checkpoints or []
    if legacy is None and checkpoints:
        legacy = checkpoints[-1].legacy
    by_seq: dict[int, list[Checkpoint]] = {}
    for cp in checkpoints:
        by_seq.setdefault(cp.seq, []).append(cp)
    walk = _Walk(key, legacy, by_seq)
    genesis = [cp for cp in by_seq.get(0, []) if cp.head == GENESIS]
    walk.trusted = genesis[-1] if genesis else None
    expected_id, prev = 1, GENESIS
    for rows in store.audit_batches(batch):
        for row in rows:
            entry = entry_of(row)
            problem = (f"row {expected_id} is missing (next is {entry.id}): rows were deleted" if entry.id != expected_id
                       else "its link to the previous row is wrong: rows were removed or put in" if entry.prev_hash != prev
                       else walk.seal_problem(entry) or walk.checkpoint_problem(entry))
            if problem:
                return _broken(walk, expected_id if entry.id != expected_id else entry.id, problem)
            expected_id, prev, walk.count = expected_id + 1, entry.hash, walk.count + 1
    last = max(checkpoints, key=lambda cp: cp.seq, default=None)
    if last is not None and last.seq > walk.count:
        return _broken(walk, walk.count + 1, f"rows {walk.count + 1} to {last.seq} are missing: the checkpoint"
                       f" signed {when(last.t_ms)} names row {last.seq} and the log ends at row {walk.count}:"
                       " the newest rows were deleted")
    return Verdict(walk.count, trusted=walk.trusted, legacy=_legacy(walk))


def _legacy(walk: _Walk) -> int:
    if walk.key is None:
        return 0
    return min(walk.legacy, walk.count) if walk.legacy is not None else walk.found_legacy


def _broken(walk: _Walk, row: int, problem: str) -> Verdict:
    return Verdict(walk.count, row, problem, walk.trusted, _legacy(walk))


def find_legacy(store: SqlStore, key: bytes) -> int:
    """How many rows at the start were sealed without ``key`` (for the first checkpoint when none
    says so): the rows before the first keyed one."""
    count = 0
    for rows in store.audit_batches():
        for row in rows:
            entry = entry_of(row)
            if entry.hash == entry.expected_hash(key):
                return count
            count += 1
    return count

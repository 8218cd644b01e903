"""The audit log's table (``audit``, schema version 3): rows appended at the end of the chain, read
back newest first or walked from the first. What a row means and how its hash is made is
cloud/audit.py; the store keeps the rows and serialises writers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple

from watertel.cloud.store.database import Database

CHAIN_LOCK = "audit:chain"  # never a gateway id (those match [A-Za-z0-9_.-]+)


class AuditRow(NamedTuple):
    id: int
    t_ms: int
    actor: str
    role: str
    client: str
    method: str
    path: str
    summary: str
    status: int
    prev_hash: str
    hash: str


COLUMNS = ", ".join(AuditRow._fields)


class AuditLog(Database):
    def append_audit(self, seal: Callable[[int, str | None], AuditRow]) -> AuditRow:
        """Append the row ``seal(last id, last hash)`` makes (0 and None for an empty log), in one
        write transaction with the chain locked: two API processes append one after the other."""
        with self._write():
            self._lock_chain(CHAIN_LOCK)
            last = self._rows("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")
            row = seal(int(last[0][0]), last[0][1]) if last else seal(0, None)
            self._execute(f"INSERT INTO audit ({COLUMNS}) VALUES ({', '.join('?' * len(AuditRow._fields))})", tuple(row))
        return row

    def audit_rows(self, limit: int = 100, before_id: int | None = None,
                   actors: list[str] | None = None) -> list[AuditRow]:
        """The latest rows, newest first (``before_id``: the page before that row; ``actors``: only
        the rows of these actors, for an admin scoped to regions)."""
        where, params = [], []
        if before_id is not None:
            where, params = ["id < ?"], [before_id]
        if actors is not None:
            if not actors:
                return []
            where.append(f"actor IN ({', '.join('?' * len(actors))})")
            params += actors
        sql = f"SELECT {COLUMNS} FROM audit" + (f" WHERE {' AND '.join(where)}" if where else "")
        return [AuditRow._make(row) for row in self._rows(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))]

    def audit_head(self) -> tuple[int, str | None]:
        """The last row's id and hash ((0, None) for an empty log): what a checkpoint signs."""
        last = self._rows("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")
        return (int(last[0][0]), last[0][1]) if last else (0, None)

    def audit_batches(self, batch: int = 5000) -> Iterator[list[AuditRow]]:
        """Every row from the first, ``batch`` at a time."""
        cur = self._execute(f"SELECT {COLUMNS} FROM audit ORDER BY id")
        while rows := cur.fetchmany(batch):
            yield [AuditRow._make(row) for row in rows]

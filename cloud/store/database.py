"""What a store back-end supplies (a connection, write transactions, locks), which every part of
``SqlStore`` (envelopes, readings, alarms, audit, rollups, …) writes its SQL on.

Statements use ``?`` placeholders and SQL that SQLite and PostgreSQL both accept; where the two
differ, the back-end (sqlite.py, postgres.py) overrides the method. These are the store's own
tools: code outside the store package calls the public methods of ``SqlStore`` instead.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager, nullcontext
from collections.abc import Callable
from typing import Any

from watertel.cloud.store.changes import ChangeTracking


def now_ms() -> int:
    return int(time.time() * 1000)


class Database(ChangeTracking, ABC):
    @abstractmethod
    def _execute(self, sql: str, params: tuple = ()) -> Any:
        """Run one statement (``?`` placeholders); return a cursor."""

    @abstractmethod
    def _write(self) -> AbstractContextManager:
        """A write transaction that serialises writers of the same chain."""

    @abstractmethod
    def close(self) -> None: ...

    def _rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self._execute(sql, params).fetchall()

    def _execute_many(self, sql: str, rows: list[tuple]) -> None:
        """Run one statement once per row of parameters (a back-end may batch the round trips)."""
        for row in rows:
            self._execute(sql, row)

    def _seq(self, seq: int) -> int:
        """A sequence number (unsigned 64-bit) as the back-end stores it."""
        return seq

    def _from_seq(self, stored: Any) -> int:
        """The sequence number back from what the back-end stored."""
        return int(stored)

    def _lock_chain(self, gateway_id: str) -> None:
        """Hold writers of this gateway's chain off until the transaction ends (if needed)."""

    def rollup_lock(self) -> AbstractContextManager:
        """Held by a rollup refresh, across processes: two refreshes never write the same days."""
        return nullcontext()

    async def watch_others(self, hear: Callable[[frozenset[str]], None], poll_s: float) -> None:
        """Call ``hear(kinds)`` when another process commits a change, until cancelled (the
        back-end's way: changes.py); without one, other processes' changes go unheard."""

    def _settle(self) -> None:
        """Return once every write transaction in flight now has ended (rollup marks: a writer that
        found a bucket already marked must have committed before the refresh reads its rows)."""

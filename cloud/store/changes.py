"""The store's arrival signal: changes committed to a store, which the console's live events wait
on (cloud/api/events.py) instead of polling.

A change reaches a waiting API process by the fastest way its deployment allows:

- **in-process**: every store object of this process that commits a change (ingest, the
  lifecycle's timers, the API's own writes) calls the listeners of its database right after the
  commit: `watertel cloud run`, where the API and ingest share a process;
- **PostgreSQL**: the same commit sends ``NOTIFY watertel_changes, '<kind>'``, and an API process
  apart from ingest (`watertel cloud api` beside `cloud ingest` workers) ``LISTEN``s on a
  connection of its own (``PostgresStore.watch_others``);
- **SQLite in separate processes**: nothing crosses processes, so the feed reads the file's
  ``PRAGMA data_version`` (it moves when another connection commits; a look at shared memory, no
  disk read) every ``poll_s``: the short poll kept as the fallback (``SqliteStore.watch_others``).

Kinds (``KINDS``): ``alarms`` (a row of alarm_history: an alarm or one of its work orders
changed), ``envelopes`` (new readings stored). A feed that cannot tell what changed (SQLite's
counter, a LISTEN connection that had to reconnect) reports every kind.

A store marks a change with ``_changed(kind)`` inside its write transaction; the back-end's
``_write`` wraps the transaction in ``_collecting()``, which fires the listeners once it committed
(never for a transaction that rolled back).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger("watertel.cloud.store.changes")
CHANNEL = "watertel_changes"  # the PostgreSQL notification channel
KINDS = frozenset({"alarms", "envelopes"})
Listener = Callable[[frozenset[str]], None]

_listeners: dict[str, list[Listener]] = {}
_lock = threading.Lock()


def listen(identity: str, listener: Listener) -> Callable[[], None]:
    """Call ``listener(kinds)`` after each commit of a change to the database ``identity`` (a
    store's ``identity``) made in this process, from the committing thread; returns the way to stop."""
    with _lock:
        _listeners.setdefault(identity, []).append(listener)

    def stop() -> None:
        with _lock:
            found = _listeners.get(identity, [])
            if listener in found:
                found.remove(listener)
            if not found:
                _listeners.pop(identity, None)

    return stop


def fire(identity: str, kinds: frozenset[str]) -> None:
    """Tell this process's listeners of ``identity`` that ``kinds`` changed (a listener's failure
    is logged, never the committing writer's problem)."""
    with _lock:
        listeners = list(_listeners.get(identity, ()))
    for listener in listeners:
        try:
            listener(kinds)
        except Exception:  # noqa: BLE001 - a listener of a closed loop, say: the write is done
            log.debug("change listener failed", exc_info=True)


class ChangeTracking:
    """Part of ``Database``: collects the kinds a write transaction changed, fires them after commit."""

    identity: str  # the database: the same for every store object of this process on it

    @property
    def _pending(self) -> threading.local:
        """Per thread: an API process runs writes of one store object in several threads."""
        found = self.__dict__.get("_pending_changes")
        return found if found is not None else self.__dict__.setdefault("_pending_changes", threading.local())

    def _changed(self, kind: str) -> None:
        """Mark a change of ``kind`` in the current write transaction (outside one: committed already)."""
        kinds = getattr(self._pending, "kinds", None)
        if kinds is None:
            fire(self.identity, frozenset({kind}))
        else:
            kinds.add(kind)

    @contextmanager
    def _collecting(self) -> Iterator[set[str]]:
        """Around a write transaction: the set its changes are marked in; fired once the block ends
        without an error (the transaction committed). A nested block shares the outer one's set."""
        pending = self._pending
        outer = getattr(pending, "kinds", None)
        if outer is not None:
            yield outer
            return
        pending.kinds = kinds = set()
        try:
            yield kinds
        finally:
            pending.kinds = None
        if kinds:
            fire(self.identity, frozenset(kinds))


class ChangeFeed:
    """One event loop's view of a store's changes: ``await feed.wait(timeout)`` gives the kinds
    changed since the last call (empty after ``timeout`` without any).

    In-process commits arrive through ``listen``; other processes' through the back-end's
    ``watch_others`` (PostgreSQL LISTEN, or SQLite's counter every ``poll_s``). Make it on the loop
    that waits; ``close`` it there.
    """

    def __init__(self, store, poll_s: float) -> None:
        self.loop = asyncio.get_running_loop()
        self._kinds: set[str] = set()
        self._event = asyncio.Event()
        self._stop = listen(store.identity, self._from_any_thread)
        self._watch = self.loop.create_task(store.watch_others(self._hear, poll_s), name="watertel-changes")

    def _from_any_thread(self, kinds: frozenset[str]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            self.loop.call_soon_threadsafe(self._hear, kinds)

    def _hear(self, kinds: frozenset[str]) -> None:
        self._kinds |= kinds
        self._event.set()

    async def wait(self, timeout: float) -> frozenset[str]:
        if not self._event.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), max(0.0, timeout))
        kinds, self._kinds = frozenset(self._kinds), set()
        self._event.clear()
        return kinds

    async def close(self) -> None:
        self._stop()
        self._watch.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._watch

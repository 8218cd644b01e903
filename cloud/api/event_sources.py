"""What the live events say: the store's changes since the last look, as events (events.py sends
them). Read only when the store's arrival signal says something changed (cloud/store/changes.py),
and cheap then:

- **alarms and work orders** follow the alarm history, which every step of either writes: the rows
  after the last one seen (an index range), then those alarms and their work orders. On
  PostgreSQL a row may commit after a later one was read (ids are taken at insert); the ids
  skipped are asked for again for ``HOLE_S`` (a rolled-back insert never shows, and is forgotten);
- **stations**: the latest values from the ``LatestCache`` the station list uses (read again only
  after an envelope arrived), compared with the last look; a station whose status changed with
  the clock alone (online → offline) is found by the periodic look ``events.py`` makes.

Alarm changes are ``new`` (raised), ``cleared``, ``closed`` or ``changed`` (acknowledged,
assigned, commented, escalated, a work-order step); a work order's change is its last step
(``created``, ``assigned``, ``accepted``, ``photo``, ``reported``, ``closed``, ``overdue``).
"""

from __future__ import annotations

import threading
import time

from watertel.cloud.api.series import LatestCache, StationStatus
from watertel.cloud.store import SqlStore

HOLE_S = 60.0  # how long a skipped history id is asked for again
MAX_HOLES = 10_000  # a larger jump is not a commit race: its gaps are not followed
Event = tuple[str, str, dict]  # (kind, station, data)


class ChangeReader:
    """The store's changes since the last ``read``; the first read (``fresh``) only takes a snapshot."""

    def __init__(self, store: SqlStore, status: StationStatus, latest: LatestCache) -> None:
        self.store, self.status, self.latest = store, status, latest
        self._lock = threading.Lock()  # a cancelled loop's last read may still run in its thread
        self._cursor: int | None = None  # the last alarm_history id seen
        self._holes: dict[int, float] = {}  # history ids skipped: when first missed (monotonic s)
        self._rows: tuple[dict, ...] | None = None  # the latest values at the last look
        self._latest: dict[tuple[str, str], dict] = {}
        self._seen: dict[str, tuple[int, str]] = {}  # station: (last sample, status)

    def read(self, fresh: bool = False, alarms: bool = True, stations: bool = True) -> list[Event]:
        with self._lock:
            if fresh:
                self._cursor, self._holes, self._rows, self._latest, self._seen = None, {}, None, {}, {}
            return (self._alarms() if alarms else []) + (self._stations() if stations else [])

    # --- alarms and work orders ----------------------------------------------------------------
    def _alarms(self) -> list[Event]:
        if self._cursor is None:
            self._cursor = self.store.last_history_id()
            return []
        now = time.monotonic()
        self._holes = {i: t for i, t in self._holes.items() if now - t < HOLE_S}
        actions: dict[int, list[str]] = {}
        while True:
            rows = self.store.alarm_changes(self._cursor, self._holes)
            for history_id, alarm_id, action in rows:
                self._holes.pop(history_id, None)
                actions.setdefault(alarm_id, []).append(action)
            top = max((r[0] for r in rows), default=self._cursor)
            if top > self._cursor:
                if top - self._cursor <= MAX_HOLES:
                    seen = {r[0] for r in rows}
                    self._holes.update({i: now for i in range(self._cursor + 1, top) if i not in seen})
                self._cursor = top
            if len(rows) < 1000:
                break
        return self._alarm_events(actions) if actions else []

    def _alarm_events(self, actions: dict[int, list[str]]) -> list[Event]:
        events: list[Event] = []
        for alarm in self.store.alarm_rows(ids=list(actions)):
            did = actions[alarm["id"]]
            change = ("new" if "raised" in did else "closed" if "closed" in did and alarm["state"] == "closed"
                      else "cleared" if "cleared" in did else "changed")
            events.append(("alarm", alarm["station"], {"change": change, "alarm": alarm}))
        ordered = [i for i, did in actions.items() if any(a.startswith("work_order.") for a in did)]
        if ordered:
            now_ms = int(time.time() * 1000)
            for order in self.store.work_orders(alarm_ids=ordered):
                steps = [a for a in actions[order["alarm_id"]] if a.startswith("work_order.")]
                events.append(("workorder", order["station"], {"change": steps[-1].removeprefix("work_order."),
                                                               "order": {**order, "overdue": overdue(order, now_ms)}}))
        return events

    # --- stations ------------------------------------------------------------------------------
    def _stations(self) -> list[Event]:
        now = int(time.time() * 1000)
        rows = self.latest.rows()
        changed: dict[str, list[dict]] = {}
        if rows is not self._rows:
            first = self._rows is None
            self._rows = rows
            for row in rows:
                key = (row["station"], row["point"])
                if self._latest.get(key) != row:
                    self._latest[key] = row
                    if not first:
                        changed.setdefault(row["station"], []).append(row)
        last: dict[str, int] = {}
        for (station, _), row in self._latest.items():
            last[station] = max(last.get(station, 0), row["t_ms"])
        events: list[Event] = []
        for station, t_ms in last.items():
            state = (t_ms, self.status(station, t_ms, now))
            previous = self._seen.get(station)
            self._seen[station] = state
            if station in changed or (previous is not None and previous[1] != state[1]):
                events.append(("station", station, {"station": station, "last_seen_ms": t_ms, "status": state[1],
                                                    "points": changed.get(station, [])}))
        return events


def overdue(order: dict, now_ms: int) -> bool:
    """Past due and not reported yet (work orders' lists and events)."""
    return order["due_ms"] < now_ms and order["state"] not in ("reported", "closed")

"""Live alarms and station status as server-sent events: ``GET /api/events``.

One shared loop per app polls the store once a second, only while someone listens, and fans the
changes out to every subscriber within their region scope::

    event: ready     data: {"t_ms": …}                                   once, on connect
    event: alarm     data: {"change": "new"|"changed"|"cleared", "alarm": {…row of /api/alarms…}}
    event: station   data: {"station": …, "last_seen_ms": …, "status": "online"|"offline",
                            "points": [{…changed rows of /api/latest…}]}
    : heartbeat                                                          every 15 s without events

A poll is cheap when nothing happens: the open alarms (few), and the newest envelope's arrival
time (an index lookup); the latest values come from the ``LatestCache`` the station list uses, read
again only after an envelope arrived. A client
that reconnects (``EventSource`` does by itself) reloads /api/alarms and /api/stations for the
state it missed. A subscriber whose queue fills up (a stalled client) is dropped; a user may hold
``max_per_user`` streams at once (429 past that). Streams end when the session does, when uvicorn
drains connections to stop (noticed within a second) and on ``EventHub.close()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from watertel.cloud.api.deps import Principal, Reader
from watertel.cloud.api.errors import Problem
from watertel.cloud.api.schemas import RETRY_AFTER, WHY, Message
from watertel.cloud.api.series import LatestCache, StationStatus
from watertel.cloud.store import SqlStore

log = logging.getLogger("watertel.api.events")
MESSAGE = Message.model_json_schema()  # errors are JSON, whatever the stream's media type


@dataclass(eq=False)
class Subscriber:
    user: Principal
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(maxsize=1000))
    dropped: bool = False


class EventHub:
    """The shared poll loop and its subscribers (all on the server's event loop)."""

    def __init__(self, store: SqlStore, ancestry: Callable[[str], list[str] | None], status: StationStatus, *,
                 latest: LatestCache | None = None, poll_s: float = 1.0, heartbeat_s: float = 15.0,
                 max_per_user: int = 5) -> None:
        self.store, self.ancestry, self.status = store, ancestry, status
        self.latest = latest or LatestCache(store)
        self.poll_s, self.heartbeat_s, self.max_per_user = poll_s, heartbeat_s, max_per_user
        self.subscribers: set[Subscriber] = set()
        self.closed = False
        self._task: asyncio.Task | None = None
        self._primed: asyncio.Event | None = None  # set once the running loop has its first snapshot
        self._alarms: dict[int, dict] | None = None  # open alarms by id at the last poll
        self._rows: tuple[dict, ...] | None = None  # the latest values at the last poll
        self._lock = threading.Lock()
        self._latest: dict[tuple[str, str], dict] = {}
        self._seen: dict[str, tuple[int, str]] = {}  # station: (last sample, status)

    # --- subscribers ---------------------------------------------------------------------------
    def subscribe(self, user: Principal) -> Subscriber:
        if self.closed:
            raise Problem(503, "events.closing", "the server is shutting down", headers={"Retry-After": "5"})
        if sum(s.user.username == user.username for s in self.subscribers) >= self.max_per_user:
            raise Problem(429, "events.too_many", f"at most {self.max_per_user} live streams per user: close one first",
                          headers={"Retry-After": "5"}, max=self.max_per_user)
        sub = Subscriber(user)
        self.subscribers.add(sub)
        if self._task is None or self._task.done():
            self._primed = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(self._primed), name="watertel-events")
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)
        if not self.subscribers and self._task is not None:
            self._task.cancel()  # nobody listens: stop polling; the next subscriber starts afresh
            self._task = None

    def _publish(self, kind: str, station: str, data: dict) -> None:
        message = f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
        region = self.ancestry(station)
        for sub in list(self.subscribers):
            if sub.dropped or not sub.user.sees(region):
                continue
            try:
                sub.queue.put_nowait(message)
            except asyncio.QueueFull:  # a client that stopped reading: its stream ends
                sub.dropped = True
                log.warning("events: dropped a stalled stream of %s", sub.user.username)

    # --- the poll loop -------------------------------------------------------------------------
    async def _run(self, primed: asyncio.Event) -> None:
        failing, fresh = False, True
        while True:
            try:
                for kind, station, data in await anyio.to_thread.run_sync(self.poll, fresh):
                    self._publish(kind, station, data)
                if failing:
                    log.info("events: the store answers again")
                failing = False
            except Exception:  # noqa: BLE001 - keep streaming; say once, repeats at debug
                (log.debug if failing else log.exception)("events: polling the store failed")
                failing = True
            primed.set()
            fresh = False
            await asyncio.sleep(self.poll_s)

    def poll(self, fresh: bool = False) -> list[tuple[str, str, dict]]:
        """One look at the store: the events since the last look (none when ``fresh``, a new snapshot).

        Under a lock: a cancelled loop's last poll may still run in its thread when the next starts."""
        with self._lock:
            if fresh:
                self._alarms, self._rows, self._latest, self._seen = None, None, {}, {}
            return self._poll_alarms() + self._poll_stations()

    def _poll_alarms(self) -> list[tuple[str, str, dict]]:
        now_open = {a["id"]: a for a in self.store.alarms(open_only=True)}
        before, self._alarms = self._alarms, now_open
        if before is None:
            return []
        events = [("alarm", a["station"], {"change": "new" if i not in before else "changed", "alarm": a})
                  for i, a in now_open.items() if before.get(i) != a]
        gone = [i for i in before if i not in now_open]  # an alarm raised and cleared between two polls is not news
        if gone:
            rows = self.store.alarm_records(gone)
            closed = {r.id: r._asdict() for r in rows}
            events += [("alarm", before[i]["station"],
                        {"change": "cleared", "alarm": closed.get(i, {**before[i], "state": "cleared"})}) for i in gone]
        return events

    def _poll_stations(self) -> list[tuple[str, str, dict]]:
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
        events = []
        for station, t_ms in last.items():
            state = (t_ms, self.status(station, t_ms, now))
            previous = self._seen.get(station)
            self._seen[station] = state
            if station in changed or (previous is not None and previous[1] != state[1]):
                events.append(("station", station, {"station": station, "last_seen_ms": t_ms, "status": state[1],
                                                    "points": changed.get(station, [])}))
        return events

    # --- the stream of one client --------------------------------------------------------------
    async def stream(self, sub: Subscriber, alive: Callable[[], bool], draining: Callable[[], bool]) -> AsyncIterator[str]:
        """The stream of ``sub``: until it disconnects, is dropped, its session ends (``alive``) or the
        server drains its connections (``draining``) or closes the hub."""
        try:
            if self._primed is not None:  # "ready" promises every change from now on
                await self._primed.wait()
            yield f"retry: 3000\nevent: ready\ndata: {json.dumps({'t_ms': int(time.time() * 1000)})}\n\n"
            quiet_since = time.monotonic()
            while not sub.dropped:
                try:  # wake at least once a second to notice a server shutting down
                    message = await asyncio.wait_for(sub.queue.get(), min(1.0, self.heartbeat_s))
                except TimeoutError:
                    if draining() or not alive():  # the server stops, or the session expired or was closed
                        return
                    if time.monotonic() - quiet_since >= self.heartbeat_s:
                        quiet_since = time.monotonic()
                        yield ": heartbeat\n\n"
                    continue
                if message is None:  # the hub closed
                    return
                quiet_since = time.monotonic()
                yield message
        finally:
            self.unsubscribe(sub)

    def close(self) -> None:
        """End every stream and refuse new ones: call before stopping the server, whose graceful
        shutdown would otherwise wait for the streams to end by themselves."""
        self.closed = True
        for sub in list(self.subscribers):
            sub.dropped = True
            with contextlib.suppress(asyncio.QueueFull):
                sub.queue.put_nowait(None)


def _draining(request: Request) -> Callable[[], bool]:
    """Whether the server is draining this connection to shut down. uvicorn then sets its request
    cycle's ``keep_alive`` to False (a streaming answer never ends by itself, so it waits for us);
    a client that asked for ``Connection: close`` starts with False, so only a change counts."""
    cycle = getattr(request.receive, "__self__", None)
    if not isinstance(getattr(cycle, "keep_alive", None), bool) or not cycle.keep_alive:
        return lambda: False
    return lambda: not cycle.keep_alive


class EventStream(StreamingResponse):
    """A server-sent event stream (its media type, for the schema too)."""

    media_type = "text/event-stream"


router = APIRouter(prefix="/api", tags=["live"])


async def get_hub(request: Request) -> EventHub:
    return request.app.state.events


@router.get("/events", response_class=EventStream, responses={
    200: {"description": "``ready``, then ``alarm`` and ``station`` events and heartbeats, until the session"
                         " or the server ends"},
    **{code: {"description": WHY[code], "content": {"application/json": {"schema": MESSAGE}},
              **({"headers": RETRY_AFTER} if code in (429, 503) else {})} for code in (401, 403, 429, 503)}})
async def events(request: Request, who: Reader, hub: Annotated[EventHub, Depends(get_hub)]) -> EventStream:
    """Server-sent events: ``alarm`` and ``station`` changes in your regions, heartbeats every 15 s."""
    sub = hub.subscribe(who)
    sessions = request.app.state.sessions
    return EventStream(hub.stream(sub, lambda: sessions.get(who.token, who.via) is not None, _draining(request)),
                       headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

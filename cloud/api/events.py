"""Live alarms, work orders and station status as server-sent events: ``GET /api/events``.

Pushed, not polled: one loop per app, only while someone listens, waits on the store's arrival
signal (cloud/store/changes.py) and reads what changed (event_sources.py) when it fires:

- in-process right after a commit: the API's own writes, and ingest and the lifecycle's timers
  when they share the process (`watertel cloud run`);
- from other processes (`watertel cloud api` beside `cloud ingest` workers): PostgreSQL's
  LISTEN/NOTIFY; with SQLite, the file's change counter read every ``poll_s`` (0.1 s: the short
  poll kept as the fallback there, a read of shared memory).

It fans the changes out to every subscriber within their region scope (a crew user: their own
work orders)::

    event: ready      data: {"t_ms": …}                                   once, on connect
    event: alarm      data: {"change": "new"|"changed"|"cleared"|"closed", "alarm": {…row of /api/alarms…}}
    event: workorder  data: {"change": "created"|"assigned"|"accepted"|"photo"|"reported"|"closed"|"overdue",
                             "order": {…row of /api/workorders…}}
    event: station    data: {"station": …, "last_seen_ms": …, "status": "online"|"offline",
                             "points": [{…changed rows of /api/latest…}]}
    : heartbeat                                                           every 15 s without events

Alarm changes go out at once; station changes at most every ``station_every_s`` (1 s: the latest
values of 4,000 stations take ~150 ms to read), and a station that goes offline with the clock
alone is noticed within ``status_every_s``. A client that reconnects (``EventSource`` does by
itself) reloads /api/alarms and /api/stations for the state it missed. A subscriber whose queue
fills up (a stalled client) is dropped; a user may hold ``max_per_user`` streams at once (429 past
that). Streams end when the session does, when uvicorn drains connections to stop (noticed within
a second) and on ``EventHub.close()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from watertel.cloud.api.deps import Principal, Reader
from watertel.cloud.api.event_sources import ChangeReader, Event
from watertel.cloud.api.errors import Problem
from watertel.cloud.api.schemas import RETRY_AFTER, WHY, Message
from watertel.cloud.api.series import LatestCache, StationStatus
from watertel.cloud.store import SqlStore
from watertel.cloud.store.changes import KINDS, ChangeFeed
from watertel.cloud.users import Role

log = logging.getLogger("watertel.api.events")
MESSAGE = Message.model_json_schema()  # errors are JSON, whatever the stream's media type
FALLBACK_POLL_S = 0.1  # SQLite across processes: how often the file's change counter is read


@dataclass(eq=False)
class Subscriber:
    user: Principal
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(maxsize=1000))
    dropped: bool = False


class EventHub:
    """The shared loop and its subscribers (all on the server's event loop)."""

    def __init__(self, store: SqlStore, ancestry: Callable[[str], list[str] | None], status: StationStatus, *,
                 latest: LatestCache | None = None, poll_s: float = FALLBACK_POLL_S, heartbeat_s: float = 15.0,
                 max_per_user: int = 5, station_every_s: float = 1.0, status_every_s: float = 2.0) -> None:
        self.store, self.ancestry = store, ancestry
        self.reader = ChangeReader(store, status, latest or LatestCache(store))
        self.poll_s, self.heartbeat_s, self.max_per_user = poll_s, heartbeat_s, max_per_user
        self.station_every_s, self.status_every_s = station_every_s, status_every_s
        self.subscribers: set[Subscriber] = set()
        self.closed = False
        self._task: asyncio.Task | None = None
        self._primed: asyncio.Event | None = None  # set once the running loop has its first snapshot

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
            self._task.cancel()  # nobody listens: stop waiting; the next subscriber starts afresh
            self._task = None

    def _publish(self, kind: str, station: str, data: dict) -> None:
        message = f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
        region = self.ancestry(station)
        crew_only = data["order"].get("assignee") if kind == "workorder" else None
        for sub in list(self.subscribers):
            if sub.dropped or not sub.user.sees(region):
                continue
            if kind == "workorder" and sub.user.role == Role.CREW and crew_only != sub.user.username:
                continue  # a crew user sees their own work orders only
            try:
                sub.queue.put_nowait(message)
            except asyncio.QueueFull:  # a client that stopped reading: its stream ends
                sub.dropped = True
                log.warning("events: dropped a stalled stream of %s", sub.user.username)

    # --- the loop ------------------------------------------------------------------------------
    async def _run(self, primed: asyncio.Event) -> None:
        """Read and send what changed whenever the store signals a change (alarms at once, stations
        at most every ``station_every_s``), and look at station statuses every ``status_every_s``."""
        feed = ChangeFeed(self.store, self.poll_s)
        want, fresh, failing, stations_at = set(KINDS), True, False, -1e9
        try:
            while True:
                now = time.monotonic()
                stations = fresh or now - stations_at >= (self.station_every_s if "envelopes" in want
                                                          else self.status_every_s)
                alarms = fresh or "alarms" in want
                if alarms or stations:
                    try:  # alarms first, sent before the stations are read (that read may take a while)
                        parts = [(True, False), (False, True)] if alarms and stations and not fresh else [(alarms, stations)]
                        for with_alarms, with_stations in parts:
                            for kind, station, data in await anyio.to_thread.run_sync(self.poll, fresh, with_alarms,
                                                                                      with_stations):
                                self._publish(kind, station, data)
                        if failing:
                            log.info("events: the store answers again")
                        failing, fresh = False, False
                        want -= {"alarms"} if alarms else set()
                        if stations:
                            want.discard("envelopes")
                            stations_at = now
                    except Exception:  # noqa: BLE001 - keep streaming; say once, repeats at debug
                        (log.debug if failing else log.exception)("events: reading the store failed")
                        failing = True
                        primed.set()
                        await asyncio.sleep(1.0)  # and try again, whatever the signal says
                        continue
                primed.set()
                due = stations_at + (self.station_every_s if "envelopes" in want else self.status_every_s)
                want |= await feed.wait(due - time.monotonic())
        finally:
            await feed.close()

    def poll(self, fresh: bool = False, alarms: bool = True, stations: bool = True) -> list[Event]:
        """One look at the store: the events since the last look (none when ``fresh``, a new snapshot)."""
        return self.reader.read(fresh, alarms, stations)

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
    200: {"description": "``ready``, then ``alarm``, ``workorder`` and ``station`` events and heartbeats, until"
                         " the session or the server ends"},
    **{code: {"description": WHY[code], "content": {"application/json": {"schema": MESSAGE}},
              **({"headers": RETRY_AFTER} if code in (429, 503) else {})} for code in (401, 403, 429, 503)}})
async def events(request: Request, who: Reader, hub: Annotated[EventHub, Depends(get_hub)]) -> EventStream:
    """Server-sent events: ``alarm``, ``workorder`` and ``station`` changes in your regions (a crew user:
    their own work orders), pushed as the store commits them; heartbeats every 15 s."""
    sub = hub.subscribe(who)
    sessions = request.app.state.sessions
    return EventStream(hub.stream(sub, lambda: sessions.get(who.token, who.via) is not None, _draining(request)),
                       headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

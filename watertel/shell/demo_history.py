"""The demo's back-filled history: the region's gateways replayed over MQTT through the cloud's own
ingest path, each message arriving at the time it would have arrived.

Why not send the week to the running cloud: the service stamps an envelope's arrival with its
wall clock, so a week sent now would all arrive a week late (every report late, 及时率 0 %, every
alarm raised today, no data-stopped alarm for the hours nobody reported). So, before the service
starts, the history's envelopes go through the broker to the cloud's own parts run on a clock
that plays each message's arrival time (``ReplayClock``):

    history.py gateways ─ seal ─► Publisher ─► broker ─► subscriber ─► Handler (verify, chain, dedupe,
                                                                       store, alarm rules; clock)
    on the hour (daily before the week): data stopped, permits, lifecycle (escalation, automatic
    work orders), notifier (to the demo's inbox) — as the service's timers would have run them

then the day rollups, so the quality pages open quickly. What went in is counted apart from the
live agents' readings (the summary reconciles those).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiomqtt

from watertel.cloud.alarms.engine import AlarmEngine
from watertel.cloud.alarms.lifecycle import Lifecycle
from watertel.cloud.config import CloudConfig
from watertel.cloud.gateway_status import GatewayStatus
from watertel.cloud.ingest.gateway_keys import GatewayKeys
from watertel.cloud.ingest.handler import Handler
from watertel.cloud.notify.outbox import Notifier
from watertel.cloud.quality.rollups import refresh
from watertel.cloud.registry import Registry
from watertel.cloud.store import open_store
from watertel.logs import LogfmtFormatter
from watertel.simulators.history import Sent
from watertel.simulators.publisher import Publisher

log = logging.getLogger("watertel.demo")
HOUR_MS = 3_600_000
CHECK_AFTER_MS = 60_000  # timed checks run a minute past the hour: after the hour's uploads arrived
IN_FLIGHT = 300  # publishes ahead of the replay (the broker queues them for the subscriber)


class ReplayClock:
    """Seconds since the epoch as the replay plays them (the parts' ``clock``)."""

    def __init__(self, t_ms: int) -> None:
        self.t_ms = t_ms

    def __call__(self) -> float:
        return self.t_ms / 1000


@dataclass
class Figures:
    """What the back-fill did, for the summary and the progress line."""

    envelopes: int = 0
    statuses: int = 0
    readings: int = 0
    outcomes: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    first_ms: int | None = None
    last_ms: int | None = None

    def summary(self) -> dict:
        return {"envelopes": self.envelopes, "statuses": self.statuses, "readings": self.readings,
                "stored": self.outcomes["stored"], "duplicate": self.outcomes["duplicate"],
                "refused": sum(n for k, n in self.outcomes.items() if k not in ("stored", "duplicate")),
                "seconds": round(self.seconds, 1)}


class Replay:
    """The cloud's ingest, alarm timers, lifecycle and notifier over one store, on a played clock."""

    def __init__(self, cfg: CloudConfig, registry: Registry, start_ms: int, week_ms: int) -> None:
        self.cfg, self.registry = cfg, registry
        self.store = open_store(cfg.store, cfg.data_dir)
        self.clock = ReplayClock(start_ms)
        tz = cfg.quality.tz
        self.engine = AlarmEngine(self.store, cfg.alarms, registry, tz, self.clock, cfg.lifecycle)
        self.status = GatewayStatus(cfg.data_dir / "fleet")
        self.handler = Handler(self.store, GatewayKeys(cfg.gateways), self.engine, self.status, clock=self.clock)
        self.lifecycle = Lifecycle(self.store, cfg.lifecycle, self.clock)
        ancestry = {st.id: registry.ancestry(st.region) for st in registry.stations}
        self.notifier = Notifier(self.store, cfg.notifications, ancestry.get, tz, clock=self.clock)
        self.week_ms = week_ms  # hourly checks from here on, daily (08:01 local) before
        self.next_check = self._after(start_ms)
        self.contact: dict[str, int] = {}

    def _after(self, t_ms: int) -> int:
        """The first check time after ``t_ms``: a minute past each hour from the week on, a minute
        past each UTC midnight (08:00 in China) before it, when only the daily meters report."""
        step = HOUR_MS if t_ms + HOUR_MS >= self.week_ms else 24 * HOUR_MS
        t = t_ms - t_ms % step + CHECK_AFTER_MS
        while t <= t_ms:
            t += step
        return t

    def timers_until(self, t_ms: int) -> None:
        """Run every timed check due up to ``t_ms``, each at its own time."""
        while self.next_check <= t_ms:
            self.clock.t_ms = now = self.next_check
            self.engine.check_data_stopped(now)
            if (now // HOUR_MS) % 24 == 0:  # once a day, after the daily meters reported
                self.engine.check_permits(now)
            self.lifecycle.tick(now)
            self.notifier.route()
            self.notifier.deliver()
            self.next_check = self._after(now)

    def arrive(self, arrival_ms: int, messages: list[tuple[str, bytes]]) -> list[str]:
        """Messages that arrived together: statuses first, then the envelopes in one transaction."""
        self.timers_until(arrival_ms - 1)
        self.clock.t_ms = arrival_ms
        out = []
        for topic, payload in messages:
            if topic.endswith("/status"):
                out.append(self.handler.handle_status(topic, payload))
        ups = [(t, p) for t, p in messages if not t.endswith("/status")]
        out += self.handler.handle_many(ups) if ups else []
        for topic, _ in messages:
            self.contact[topic.split("/")[-2]] = arrival_ms
        return out

    def finish(self, until_ms: int) -> None:
        """The checks up to the end, the gateways' last contact, the day rollups; then close."""
        try:
            self.timers_until(until_ms)
            self.engine.check_permits(until_ms)
            for gw, t_ms in self.contact.items():  # the handler writes contact at most every 10 s of wall time
                self.status.touch(gw, t_ms, force=True)
            meters = {m.key: m for permit in self.registry.permits for m in permit.meters}
            refresh(self.store, self.registry.stations, self.cfg.quality, meters=meters)
        finally:
            self.store.close()


@contextlib.contextmanager
def logged_to(path: Path):
    """The cloud parts' log lines (alarms raised, escalations: a week of them) go to ``path``, at
    INFO as the cloud service's log would have them, instead of the demo's terminal."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(LogfmtFormatter())
    logger = logging.getLogger("watertel.cloud")
    saved = logger.propagate, logger.level
    logger.addHandler(handler)
    logger.propagate, logger.level = False, logging.INFO
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate, logger.level = saved
        handler.close()


def split(stream: Iterator[Sent], until_ms: int) -> tuple[list[Sent], Iterator[Sent]]:
    """The messages that arrived by ``until_ms`` (sealed now) and the rest of the stream (lazily)."""
    past: list[Sent] = []
    for sent in stream:
        if sent.arrival_ms > until_ms:
            return past, _chain(sent, stream)
        past.append(sent)
    return past, iter(())


def _chain(first: Sent, rest: Iterator[Sent]) -> Iterator[Sent]:
    yield first
    yield from rest


async def backfill(cfg: CloudConfig, registry: Registry, broker: str, past: list[Sent], start_ms: int, week_ms: int,
                   until_ms: int, progress: Callable[[Figures, int], None] | None = None) -> Figures:
    """Publish ``past`` in arrival order and replay what the broker delivers; return the figures."""
    figures, began = Figures(readings=sum(s.readings for s in past)), time.monotonic()
    arrivals = {(s.topic, s.payload): s.arrival_ms for s in past}
    replay = Replay(cfg, registry, start_ms, week_ms)
    prefix = cfg.mqtt.topic_prefix
    try:
        async with aiomqtt.Client(cfg.mqtt.host, cfg.mqtt.port, identifier="watertel-demo-history", clean_session=True,
                                  timeout=30) as sub:
            await sub.subscribe(f"{prefix}/+/up", qos=1)
            await sub.subscribe(f"{prefix}/+/status", qos=1)
            async with Publisher(broker, 1, "watertel-demo-region") as pub:
                sender = asyncio.create_task(_publish(pub, past))
                await _consume(sub, replay, arrivals, len(past), figures, progress, began)
                await sender
        replay.finish(until_ms)
    except BaseException:
        replay.store.close()
        raise
    figures.seconds = time.monotonic() - began
    figures.first_ms, figures.last_ms = (past[0].arrival_ms, past[-1].arrival_ms) if past else (None, None)
    return figures


async def _publish(pub: Publisher, past: list[Sent]) -> None:
    for sent in past:
        pub.publish(sent.topic, sent.payload, retain=sent.retain)
        if pub.pending >= IN_FLIGHT:
            await pub.drain(IN_FLIGHT // 2)
    await pub.drain()


async def _consume(sub: aiomqtt.Client, replay: Replay, arrivals: dict, expected: int, figures: Figures,
                   progress: Callable[[Figures, int], None] | None, began: float) -> None:
    """Hand each delivered message to the replay at its arrival time, those of one moment together."""
    messages, done, shown = sub.messages, 0, time.monotonic()
    while done < expected:
        batch = [await anext(messages)]
        while len(messages):
            batch.append(await anext(messages))
        moments: dict[int, list[tuple[str, bytes]]] = {}
        for m in batch:
            topic, payload = str(m.topic), bytes(m.payload)
            key = (topic, payload)
            if key not in arrivals:  # a retained status of an earlier run: not part of this history
                continue
            moments.setdefault(arrivals.pop(key), []).append(key)
        for arrival_ms in sorted(moments):
            group = moments[arrival_ms]
            outcomes = replay.arrive(arrival_ms, group)
            for (topic, payload), outcome in zip(group, outcomes):
                if topic.endswith("/status"):
                    figures.statuses += 1
                else:
                    figures.envelopes += 1
                    figures.outcomes[outcome] += 1
            done += len(group)
        if progress is not None and time.monotonic() - shown >= 2:
            shown = time.monotonic()
            progress(figures, replay.clock.t_ms)

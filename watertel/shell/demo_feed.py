"""The demo region's played gateways, live: after the back-filled week, the gateways without an
edge agent go on sending at the pace of the clock, so the region's map and rates stay current
for as long as the demo runs (the history's stream continued, chains and totalisers included).

A thread of the demo process with its own event loop: each message is published when its gateway
would have sent it (``arrival_ms`` less the link's delay), after ``ready`` is set (the cloud's
ingest is subscribed, so nothing published waits on a broker without a subscriber).

Between their hourly uploads the played gateways keep their MQTT session as the edge agent does
(``uplink.status_every_s``: a status refresh every minute), so the fleet page shows them online,
not stale, and only the dead one offline.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator

from watertel.simulators.history import LINK_MS, PastGateway, Sent
from watertel.simulators.publisher import Publisher

log = logging.getLogger("watertel.demo.feed")
STATUS_EVERY_S = 60.0  # the edge agent's default uplink.status_every_s


class Feed:
    """Publish ``stream`` in real time on ``broker`` until ``stop``."""

    def __init__(self, broker: str, stream: Iterator[Sent], alive: list[PastGateway] = ()) -> None:
        self.broker, self.stream, self.alive = broker, stream, list(alive)
        self.ready, self.stopping = threading.Event(), threading.Event()
        self.counts = {"envelopes": 0, "statuses": 0, "acked": 0, "failed": 0}  # acked: envelopes the broker took
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="demo-feed", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        self.ready.set()
        self.thread.join(timeout)

    def _run(self) -> None:
        try:
            asyncio.run(self._play())
        except BaseException as err:  # reported by the demo's summary; the region's other parts go on
            self.error = err
            log.error("the region's played gateways stopped: %s", err)

    async def _play(self) -> None:
        while not self.ready.is_set():
            await asyncio.sleep(0.2)
        async with Publisher(self.broker, 1, "watertel-demo-region-live") as pub:
            beats = asyncio.create_task(self._refresh(pub))
            try:
                await self._replay(pub)
            finally:
                beats.cancel()
            await pub.drain()
            self.counts["failed"] = pub.counts["failed"]

    async def _refresh(self, pub: Publisher) -> None:
        """Each living played gateway's status, now and every minute (retained, as the agent's)."""
        while not self.stopping.is_set():
            now = time.time()
            for gw in self.alive:
                if gw.powered(now):
                    self.counts["statuses"] += 1
                    pub.publish(f"{gw.topic_prefix}/{gw.id}/status", gw.status("online", int(now * 1000)), retain=True)
            await asyncio.sleep(STATUS_EVERY_S)

    async def _replay(self, pub: Publisher) -> None:
        for sent in self.stream:
            while not self.stopping.is_set() and time.time() * 1000 < sent.arrival_ms - LINK_MS:
                await asyncio.sleep(min(1.0, max(0.01, (sent.arrival_ms - LINK_MS) / 1000 - time.time())))
            if self.stopping.is_set():
                return
            self.counts["statuses" if sent.retain else "envelopes"] += 1
            pub.publish(sent.topic, sent.payload, retain=sent.retain, on_ack=None if sent.retain else self._acked)
        while not self.stopping.is_set():  # every gateway's stream ended: the status refreshes go on
            await asyncio.sleep(0.5)

    def _acked(self) -> None:
        self.counts["acked"] += 1

"""The demo region's played gateways, live: after the back-filled week, the gateways without an
edge agent go on sending at the pace of the clock, so the region's map and rates stay current
for as long as the demo runs (the history's stream continued, chains and totalisers included).

A thread of the demo process with its own event loop: each message is published when its gateway
would have sent it (``arrival_ms`` less the link's delay), after ``ready`` is set (the cloud's
ingest is subscribed, so nothing published waits on a broker without a subscriber).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator

from watertel.simulators.history import LINK_MS, Sent
from watertel.simulators.publisher import Publisher

log = logging.getLogger("watertel.demo.feed")


class Feed:
    """Publish ``stream`` in real time on ``broker`` until ``stop``."""

    def __init__(self, broker: str, stream: Iterator[Sent]) -> None:
        self.broker, self.stream = broker, stream
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
            for sent in self.stream:
                while not self.stopping.is_set() and time.time() * 1000 < sent.arrival_ms - LINK_MS:
                    await asyncio.sleep(min(1.0, max(0.01, (sent.arrival_ms - LINK_MS) / 1000 - time.time())))
                if self.stopping.is_set():
                    break
                self.counts["statuses" if sent.retain else "envelopes"] += 1
                pub.publish(sent.topic, sent.payload, retain=sent.retain, on_ack=None if sent.retain else self._acked)
            await pub.drain()
            self.counts["failed"] = pub.counts["failed"]

    def _acked(self) -> None:
        self.counts["acked"] += 1

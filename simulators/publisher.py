"""QoS 1 publishing with many messages in flight on a few MQTT connections, as simulated gateways
send (`watertel sim fleet`, the demo's region in history.py).

One publisher awaiting each PUBACK is latency-bound (~1,300 messages/s against Mosquitto,
FACTS.md), so a publish is started and not awaited: ``publish`` returns at once and ``drain``
waits for the acknowledgements. Each connection keeps its messages in the order they were
started, so a caller that needs an order on the wire (a gateway's chain, a replay's arrival
order) puts those messages on one connection. A broken connection is kept in ``error`` for the
caller to end the run on: a publish whose PUBACK was lost may or may not have arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from urllib.parse import urlsplit

import aiomqtt

QUIET = logging.getLogger("watertel.sim.mqtt")  # aiomqtt warns at >10 publishes in flight: here, always
QUIET.setLevel(logging.ERROR)


class Publisher:
    """``async with Publisher(url, n) as pub``: ``n`` connections to ``mqtt://host:port``."""

    def __init__(self, broker: str, connections: int = 1, name: str = "watertel-sim", max_inflight: int = 1000) -> None:
        parts = urlsplit(broker)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 1883
        self.n, self.name, self.max_inflight = connections, name, max_inflight
        self.conns: list[aiomqtt.Client] = []
        self.tasks: set[asyncio.Task] = set()
        self.counts = {"published": 0, "acked": 0, "failed": 0}
        self.pending = 0
        self.error: BaseException | None = None
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Publisher:
        await self._stack.__aenter__()
        try:
            for j in range(self.n):
                self.conns.append(await self._stack.enter_async_context(aiomqtt.Client(
                    self.host, self.port, identifier=f"{self.name}-{os.getpid()}-{j}", clean_session=True, timeout=60,
                    max_inflight_messages=self.max_inflight, logger=QUIET)))
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self._stack.__aexit__(*exc)

    def publish(self, topic: str, payload: bytes, conn: int = 0, retain: bool = False,
                on_ack: Callable[[], None] | None = None) -> None:
        """Start a QoS 1 publish on connection ``conn`` (modulo the count); ``on_ack`` runs on its PUBACK."""
        self.counts["published"] += 1
        self.pending += 1
        task = asyncio.create_task(self._send(self.conns[conn % len(self.conns)], topic, payload, retain, on_ack))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _send(self, client: aiomqtt.Client, topic: str, payload: bytes, retain: bool,
                    on_ack: Callable[[], None] | None) -> None:
        try:
            await client.publish(topic, payload, qos=1, retain=retain)
        except aiomqtt.MqttError as err:
            self.counts["failed"] += 1
            self.error = self.error or err
            return
        finally:
            self.pending -= 1
        self.counts["acked"] += 1
        if on_ack is not None:
            on_ack()

    async def drain(self, below: int = 0) -> None:
        """Wait until at most ``below`` publishes are in flight (raises the connection's error)."""
        while self.pending > below:
            if self.error:
                raise self.error
            await asyncio.sleep(0.005)
        if self.error:
            raise self.error

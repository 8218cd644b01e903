"""Ask a gateway to publish again the envelopes a broker lost after acknowledging them.

A gateway counts an envelope delivered when the broker acknowledges it (QoS 1 PUBACK). A broker
can still lose it before an ingest worker has it: Mosquitto 2.0.11 does not restore ``$share``
subscriptions from its persistence, so what gateways publish after a broker restart and before
the workers subscribe again goes to no one; an ingest that was never subscribed misses what came
before it. The cloud sees each loss as a hole in that gateway's chain. The gateway still holds
its sent batches (sent history, pruned only when its buffer runs short of space), so the cloud
sends it a signed ``resend`` command naming the missing ranges and the gateway publishes the same
bytes again; the store keeps what it lacks and drops the rest as duplicates.

A hole is asked for ``after_s`` after the envelope behind it arrived (a backlog fills holes by
itself: the newest batch travels first) and again every ``repeat_s`` while it stays open. One that
is still open after ``chain_gap_after_s`` raises the chain_gap alarm as before: the gateway no
longer has those batches, or someone removed them.

Each ingest process asks on its own, so with several workers a gateway may hear the same request
more than once; a resend only repeats bytes already signed, so that costs a duplicate, not data.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from pydantic import Field

from watertel.cloud.mqtt import MqttConfig
from watertel.cloud.store import SqlStore
from watertel.commands import command
from watertel.config import Strict
from watertel.crypto import SM2PrivateKey

log = logging.getLogger("watertel.cloud.resend")
MAX_SPAN = 10_000  # batches asked for per hole (the newest ones when a hole is longer)
MAX_RANGES = 100  # holes per command (the gateway refuses more)


class ResendConfig(Strict):
    """``resend:`` when the cloud asks a gateway for envelopes missing from its chain (needs
    ``command_key``, and the gateway's ``commands`` section)."""

    after_s: float = Field(20.0, gt=0)  # a hole this old (since the envelope after it arrived) is asked for
    repeat_s: float = Field(120.0, gt=0)  # and again this often while it stays open


class ResendRequester:
    """Finds the holes due for a request and sends one ``resend`` command per gateway."""

    def __init__(self, store: SqlStore, cfg: ResendConfig, key: SM2PrivateKey, gateways: set[str],
                 clock: Callable[[], float] = time.time) -> None:
        self.store, self.cfg, self.key, self.gateways, self.clock = store, cfg, key, gateways, clock
        self.asked: dict[tuple[str, int, int], float] = {}  # hole -> when it was last asked for

    def due(self) -> dict[str, list[list[int]]]:
        """Per registered gateway, the ``[first, last]`` ranges to ask for now."""
        now = self.clock()
        holes = self.store.chain_holes(int((now - self.cfg.after_s) * 1000), MAX_SPAN)
        open_now = {(gw, first, last) for gw, runs in holes.items() for first, last in runs}
        self.asked = {hole: t for hole, t in self.asked.items() if hole in open_now}  # filled holes are forgotten
        due: dict[str, list[list[int]]] = {}
        for gw, first, last in sorted(open_now):
            if gw in self.gateways and now - self.asked.get((gw, first, last), -1e18) >= self.cfg.repeat_s:
                ranges = due.setdefault(gw, [])
                if len(ranges) < MAX_RANGES:
                    ranges.append([max(first, last - MAX_SPAN + 1), last])
                    self.asked[(gw, first, last)] = now
        return due

    def messages(self) -> list[tuple[str, bytes]]:
        """(gateway, signed command) for each gateway with holes due."""
        return [(gw, command(gw, "resend", {"ranges": ranges}, self.key, ttl_s=max(60.0, self.cfg.repeat_s))[1])
                for gw, ranges in self.due().items()]


async def request_resends(requester: ResendRequester, mqtt: MqttConfig) -> int:
    """Publish the due resend commands (QoS 1) on one short connection; how many were sent."""
    messages = requester.messages()
    if messages:
        async with mqtt.client(f"{mqtt.client_id}-resend") as client:
            for gw, message in messages:
                await client.publish(f"{mqtt.topic_prefix}/{gw}/cmd", message, qos=1)
                log.warning("asked gateway %s to resend missing envelopes", gw)
    return len(messages)

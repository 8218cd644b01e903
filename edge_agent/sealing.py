"""Buffer → sealed envelopes → uplink: the loop every gateway identity runs alike, an edge agent
and each of the RTU gateway's per-protocol identities.

A batch is sealed when it is full or its oldest reading has waited ``max_latency_s``
(``Buffer.seal_due`` commits the envelope and the chain state together), then the uplink is woken
for it. Draining, at a stop, waits until the broker acknowledged every sealed batch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from watertel.crypto import SM2PrivateKey
from watertel.crypto.sm4 import PayloadKey
from watertel.edge_agent.buffer import Buffer
from watertel.edge_agent.config import BatchConfig
from watertel.edge_agent.uplink import Uplink
from watertel.envelope import ChainState, seal
from watertel.readings import Reading


class Sealing:
    """Seals one gateway identity's buffered readings under its key and wakes its uplink."""

    def __init__(self, buffer: Buffer, uplink: Uplink, batching: BatchConfig, key: SM2PrivateKey, gateway_id: str,
                 key_id: str, payload_key: PayloadKey | None) -> None:
        self.buffer, self.uplink, self.batching = buffer, uplink, batching
        self.key, self.gateway_id, self.key_id, self.payload_key = key, gateway_id, key_id, payload_key

    def _seal(self, readings: list[Reading], state: ChainState) -> tuple[bytes, ChainState]:
        return seal(readings, self.key, self.gateway_id, self.key_id, state, int(time.time() * 1000), self.payload_key)

    def seal_due(self, force: bool = False) -> int:
        """Seal what is due (everything when ``force``) and wake the uplink for it."""
        sealed = self.buffer.seal_due(self.batching.max_readings, self.batching.max_latency_s, self._seal, force)
        if sealed:
            self.uplink.wake.set()
        return sealed

    async def run(self, each_round: Callable[[], None] = lambda: None) -> None:
        """Seal, make room in a full buffer, then ``each_round`` (status, watchdog), until cancelled."""
        while True:
            self.seal_due()
            self.buffer.make_room()
            each_round()
            await asyncio.sleep(min(0.25, self.batching.max_latency_s / 4))

    async def drain(self, timeout_s: float) -> bool:
        """Wait until every sealed batch is acknowledged by the broker, or time runs out.

        An identity that never reached a broker in this run does not wait: the batches stay
        buffered for the next start. One that did waits for the link to come back.
        """
        deadline = time.monotonic() + timeout_s
        while self.buffer.unsent(1):
            if time.monotonic() > deadline or self.uplink.broker is None:
                return False
            await asyncio.sleep(0.1)
        return True

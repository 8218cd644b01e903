"""One protocol's gateway identity: durable buffer, sealer and MQTT uplink, as on an edge gateway.

The readings of SZY 206 RTUs travel as gateway ``<id>.szy206`` and those of SL 651 RTUs as
``<id>.sl651``: the envelope format stays as it is, and the gateway id stored with every reading
in the cloud names the protocol it came in by (``readings.gateway_id``).

Acknowledge after commit: :meth:`Chain.record` returns only once the readings are committed to
the SQLite buffer (WAL, ``synchronous=FULL``), and the server answers the RTU only then. What
the RTU was told it delivered survives a kill -9 and goes out at the next start. Many connections
report at once, so their readings are committed together (one transaction and one fsync for all
that arrived while the previous commit ran).
"""

from __future__ import annotations

import asyncio
import logging
import time

from watertel.edge_agent.rtu_gateway.config import RtuGatewayConfig
from watertel.edge_agent.buffer import Buffer
from watertel.edge_agent.uplink import Uplink
from watertel import __version__
from watertel.crypto import SM2PrivateKey
from watertel.crypto.sm4 import PayloadKey
from watertel.envelope import ChainState, seal
from watertel.protocols import Protocol
from watertel.readings import Reading

log = logging.getLogger("watertel.rtu_gateway")


class Chain:
    def __init__(self, cfg: RtuGatewayConfig, protocol: Protocol, key: SM2PrivateKey,
                 payload_key: PayloadKey | None) -> None:
        self.cfg, self.protocol, self.key, self.payload_key = cfg, protocol, key, payload_key
        self.gateway_id = cfg.chain_id(protocol)
        self.buffer = Buffer(cfg.buffer_path(protocol), self.gateway_id, int(cfg.buffer.max_mb * 2**20),
                             cfg.buffer.when_full)
        uplink = cfg.uplink  # one MQTT session per chain: a shared client id would make the broker drop one
        if uplink.client_id:
            uplink = uplink.model_copy(update={"client_id": f"{uplink.client_id}.{protocol.value}"})
        self.uplink = Uplink(uplink, self.gateway_id, self.buffer,
                             birth={"version": __version__, "kind": "rtu-gateway", "protocol": protocol.value})
        self._pending: list[tuple[list[Reading], asyncio.Future]] = []
        self._wake = asyncio.Event()
        self.commits = 0

    async def record(self, readings: list[Reading]) -> None:
        """Return once ``readings`` are committed; raise BufferFull (or a database error) if not."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append((readings, future))
        self._wake.set()
        await future

    async def run_writer(self) -> None:
        """Commit what is pending, all of it in one transaction, until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if not batch:
                continue
            try:
                self.buffer.add([r for readings, _ in batch for r in readings])
            except Exception as err:  # BufferFull, disk errors: no RTU is acknowledged, each will re-send
                log.error("%s: readings not recorded, %d reports left unacknowledged: %s",
                          self.gateway_id, len(batch), err)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(err)
                continue
            self.commits += 1
            for _, future in batch:
                if not future.done():
                    future.set_result(None)

    def fail_pending(self) -> None:
        for _, future in self._pending:
            if not future.done():
                future.cancel()
        self._pending = []

    def _sealer(self, readings: list[Reading], state: ChainState) -> tuple[bytes, ChainState]:
        return seal(readings, self.key, self.gateway_id, self.cfg.key.key_id, state, int(time.time() * 1000),
                    self.payload_key)

    def seal_due(self, force: bool = False) -> int:
        """Seal what is due (Buffer.seal_due) and wake the uplink for it."""
        batching = self.cfg.batching
        sealed = self.buffer.seal_due(batching.max_readings, batching.max_latency_s, self._sealer, force)
        if sealed:
            self.uplink.wake.set()
        return sealed

    async def run_sealing(self) -> None:
        while True:
            self.seal_due()
            self.buffer.make_room()
            await asyncio.sleep(min(0.25, self.cfg.batching.max_latency_s / 4))

    async def drain(self, timeout_s: float) -> bool:
        """Wait until every sealed batch is acknowledged by the broker, or time runs out."""
        deadline = time.monotonic() + timeout_s
        while self.buffer.unsent(1):
            if time.monotonic() > deadline or self.uplink.broker is None:
                return False
            await asyncio.sleep(0.1)
        return True

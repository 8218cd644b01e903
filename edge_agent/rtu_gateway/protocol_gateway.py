"""One protocol's gateway identity: durable buffer, sealer and MQTT uplink, as on an edge gateway.

The readings of SZY 206 RTUs travel as gateway ``<id>.szy206`` and those of SL 651 RTUs as
``<id>.sl651``: the envelope format stays as it is, and the gateway id stored with every reading
in the cloud names the protocol it came in by (``readings.gateway_id``).

Acknowledge after commit: :meth:`ProtocolGateway.record` returns only once the readings are committed to
the SQLite buffer (WAL, ``synchronous=FULL``), and the server answers the RTU only then. What
the RTU was told it delivered survives a kill -9 and goes out at the next start. Many connections
report at once, so their readings are committed together (one transaction and one fsync for all
that arrived while the previous commit ran).
"""

from __future__ import annotations

import asyncio
import logging

from watertel import __version__
from watertel.crypto import SM2PrivateKey
from watertel.crypto.sm4 import PayloadKey
from watertel.edge_agent.buffer import Buffer
from watertel.edge_agent.rtu_gateway.config import RtuGatewayConfig
from watertel.edge_agent.sealing import Sealing
from watertel.edge_agent.uplink import Uplink
from watertel.protocols import Protocol
from watertel.readings import Reading

log = logging.getLogger("watertel.rtu_gateway")


class ProtocolGateway:
    """The gateway ``<id>.<protocol>``: its buffer, its sealing and its uplink."""

    def __init__(self, cfg: RtuGatewayConfig, protocol: Protocol, key: SM2PrivateKey,
                 payload_key: PayloadKey | None) -> None:
        self.cfg, self.protocol = cfg, protocol
        self.gateway_id = cfg.gateway_id_for(protocol)
        self.buffer = Buffer(cfg.buffer_path(protocol), self.gateway_id, int(cfg.buffer.max_mb * 2**20),
                             cfg.buffer.when_full)
        uplink = cfg.uplink  # one MQTT session per protocol: a shared client id would make the broker drop one
        if uplink.client_id:
            uplink = uplink.model_copy(update={"client_id": f"{uplink.client_id}.{protocol.value}"})
        self.uplink = Uplink(uplink, self.gateway_id, self.buffer,
                             birth={"version": __version__, "kind": "rtu-gateway", "protocol": protocol.value},
                             key=key, key_id=cfg.key.key_id)
        self.sealing = Sealing(self.buffer, self.uplink, cfg.batching, key, self.gateway_id, cfg.key.key_id,
                               payload_key)
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

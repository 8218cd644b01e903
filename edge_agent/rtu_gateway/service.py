"""`watertel rtu-gateway`: the TCP server and one gateway identity per protocol (buffer, sealing, uplink).

Stop (SIGTERM/SIGINT): stop accepting and close the RTU connections, commit and seal what is
buffered, give the uplinks ``drain_s`` to deliver it; whatever is left stays in the buffers and
goes out after the next start (as on an edge gateway).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from watertel.edge_agent.rtu_gateway.protocol_gateway import ProtocolGateway
from watertel.edge_agent.rtu_gateway.config import RtuGatewayConfig, load_rtu_config
from watertel.edge_agent.rtu_gateway.server import RtuServer
from watertel.crypto import SM2PrivateKey
from watertel.protocols import Protocol

log = logging.getLogger("watertel.rtu_gateway")
SUMMARY_EVERY_S = 60.0


class RtuGateway:
    def __init__(self, cfg: RtuGatewayConfig) -> None:
        self.cfg = cfg
        key = SM2PrivateKey.from_pem(cfg.key.private_key.read_text())
        payload_key = cfg.key.payload_key.load() if cfg.key.payload_key else None
        self.gateways = {p: ProtocolGateway(cfg, p, key, payload_key) for p in cfg.protocols()}
        self.server = RtuServer(cfg, self.gateways)
        self.port: int | None = None

    async def _summaries(self) -> None:
        last: dict = {}
        while True:
            await asyncio.sleep(SUMMARY_EVERY_S)
            now = dict(self.server.stats)
            if now != last:
                log.info("rtu-gateway: %d connections open; %s", len(self.server.connections),
                         " ".join(f"{k}={v}" for k, v in sorted(now.items())))
                last = now

    async def run(self, stop: asyncio.Event, drain_s: float = 30.0) -> None:
        tasks = [asyncio.create_task(coro) for gw in self.gateways.values()
                 for coro in (gw.run_writer(), gw.sealing.run(), gw.uplink.run())]
        tasks.append(asyncio.create_task(self._summaries()))
        host, port = self.cfg.host_port
        try:
            self.port = await self.server.start(host, port)
            log.info("rtu-gateway %s listening on %s:%d (%s)", self.cfg.gateway_id, host, self.port,
                     ", ".join(g.gateway_id for g in self.gateways.values()))
            open_to_all = [s.station for s in self.cfg.stations if s.protocol == Protocol.SZY206 and not s.allow]
            if open_to_all:
                log.warning("rtu-gateway: SZY 206 stations without allow (anyone who knows the address may report as "
                            "them; SZY 206 frames carry no password): %s%s", ", ".join(open_to_all[:10]),
                            f" and {len(open_to_all) - 10} more" if len(open_to_all) > 10 else "")
            await stop.wait()
        finally:
            await self.server.close()
            for gw in self.gateways.values():
                gw.sealing.seal_due(force=True)
            drained = all([await gw.sealing.drain(drain_s) for gw in self.gateways.values()])
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for gw in self.gateways.values():
                gw.fail_pending()
                gw.buffer.close()
            log.info("rtu-gateway %s stopped (%s): %s", self.cfg.gateway_id,
                     "drained" if drained else "batches kept for next start", dict(self.server.stats))


async def run_rtu_gateway(cfg: RtuGatewayConfig) -> None:
    """Run until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await RtuGateway(cfg).run(stop)


def command(args: argparse.Namespace) -> int:
    """`watertel rtu-gateway --config rtu.yaml [--listen HOST:PORT]`."""
    asyncio.run(run_rtu_gateway(load_rtu_config(args.config, args.listen)))
    return 0

"""The edge agent: wires pollers, buffer, sealer and uplink, and stops without losing a reading.

On SIGTERM/SIGINT: pollers finish the poll in progress, everything buffered is sealed, and the
uplink gets ``drain_s`` seconds to deliver what is pending. Whatever is not delivered stays in
the buffer and goes out after the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import signal
import time

from edge_agent.buffer import Buffer, BufferFull
from edge_agent.config import EdgeConfig
from edge_agent.health import write_status
from edge_agent.clock import clock_synchronised
from edge_agent.commands import CommandExecutor
from edge_agent.poll.scheduler import BusPoller
from edge_agent.poll.totaliser import TotaliserWatch
from edge_agent.systemd import notify, watchdog_interval_s
from edge_agent.uplink import Uplink
from watertel import __version__
from watertel.crypto import SM2PrivateKey, sm3
from watertel.envelope import ChainState, seal
from watertel.readings import Reading

log = logging.getLogger("watertel.edge")
STATUS_EVERY_S = 5.0


class Agent:
    def __init__(self, cfg: EdgeConfig) -> None:
        self.cfg = cfg
        self.key = SM2PrivateKey.from_pem(cfg.key.private_key.read_text())
        self.payload_key = cfg.key.payload_key.load() if cfg.key.payload_key else None  # checked at config load
        self.buffer = Buffer(cfg.buffer.path, cfg.gateway_id, int(cfg.buffer.max_mb * 2**20), cfg.buffer.when_full)
        self.uplink = Uplink(cfg.uplink, cfg.gateway_id, self.buffer, birth={
            "version": __version__, "config_sm3": sm3(cfg.model_dump_json().encode()).hex(),
            "profiles": sorted({d.profile for bus in cfg.buses for d in bus.devices}),
        })
        watch = TotaliserWatch(self.buffer.last_values())
        clock_ok = (lambda: clock_synchronised() is not False) if cfg.flag_unsynced_clock else (lambda: True)
        self.pollers = [BusPoller(bus, self._store, watch, clock_ok) for bus in cfg.buses]
        if cfg.commands:
            self.uplink.on_command = CommandExecutor(cfg.commands, cfg.gateway_id, self.key, self.buffer,
                                                     self.pollers).handle
        self._full_logged = -math.inf
        self.started_ms = int(time.time() * 1000)

    def _store(self, readings: list[Reading]) -> None:
        try:
            self.buffer.add(readings)
        except BufferFull as err:  # counted in the buffer; say it once a minute, keep polling
            if time.monotonic() - self._full_logged > 60:
                log.error("readings not recorded: %s", err)
                self._full_logged = time.monotonic()

    def _sealer(self, readings: list[Reading], state: ChainState) -> tuple[bytes, ChainState]:
        return seal(readings, self.key, self.cfg.gateway_id, self.cfg.key.key_id, state, int(time.time() * 1000),
                    self.payload_key)

    def seal_due(self, force: bool = False) -> int:
        """Seal full batches, and a partial one once its oldest reading waited max_latency_s."""
        sealed, batching = 0, self.cfg.batching
        while True:
            waiting, oldest_ms = self.buffer.unsealed()
            old = oldest_ms is not None and time.time() * 1000 - oldest_ms >= batching.max_latency_s * 1000
            if not waiting or not (force or old or waiting >= batching.max_readings):
                break
            self.buffer.seal_next(batching.max_readings, self._sealer)
            sealed += 1
        if sealed:
            self.uplink.wake.set()
        return sealed

    async def _sealing(self) -> None:
        last_status, last_ping, ping_every = 0.0, 0.0, watchdog_interval_s()
        while True:
            self.seal_due()
            self.buffer.make_room()
            if time.monotonic() - last_status >= STATUS_EVERY_S:
                self.write_status()
                last_status = time.monotonic()
            if ping_every and time.monotonic() - last_ping >= ping_every:
                notify("WATCHDOG=1")
                last_ping = time.monotonic()
            await asyncio.sleep(min(0.25, self.cfg.batching.max_latency_s / 4))

    def write_status(self) -> None:
        """Health for `watertel edge status`; a failure to write it must not stop the agent."""
        status = {
            "gateway_id": self.cfg.gateway_id, "pid": os.getpid(), "version": __version__,
            "started_ms": self.started_ms, "updated_ms": int(time.time() * 1000),
            "uplink": {"connected": self.uplink.connected, "broker": self.uplink.broker,
                       "last_ack_ms": self.uplink.last_ack_ms},
            "buffer": self.buffer.stats(),
            "devices": {name: dev for p in self.pollers for name, dev in p.status().items()},
        }
        try:
            write_status(self.cfg.status_path, status)
        except OSError as err:
            log.warning("cannot write status file %s: %s", self.cfg.status_path, err)

    async def drain(self, timeout_s: float) -> bool:
        """Wait until every sealed batch has been acknowledged by the broker (or time runs out).

        A gateway that never reached a broker in this run does not wait: the batches stay buffered.
        One that did waits for the link to come back, up to ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        while self.buffer.unsent(1):
            if time.monotonic() > deadline or self.uplink.broker is None:
                return False
            await asyncio.sleep(0.1)
        return True

    async def run(self, stop: asyncio.Event, drain_s: float = 30.0) -> None:
        polls = [asyncio.create_task(p.run()) for p in self.pollers]
        sealing = asyncio.create_task(self._sealing())
        uplink = asyncio.create_task(self.uplink.run())
        log.info("edge agent %s running: %d buses", self.cfg.gateway_id, len(self.pollers))
        notify("READY=1")
        await stop.wait()
        notify("STOPPING=1")
        for p in self.pollers:
            p.stop()
        await asyncio.gather(*polls, return_exceptions=True)
        sealing.cancel()
        self.seal_due(force=True)
        drained = await self.drain(drain_s)
        uplink.cancel()
        for task in (sealing, uplink):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        stats = self.buffer.stats()
        self.write_status()
        self.buffer.close()
        log.info("edge agent %s stopped (%s): %s", self.cfg.gateway_id, "drained" if drained else "batches kept for next start", stats)


async def run_agent(cfg: EdgeConfig) -> None:
    """Run until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await Agent(cfg).run(stop)

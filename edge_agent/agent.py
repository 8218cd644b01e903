"""The edge agent: wires pollers, buffer, sealer and uplink, and stops without losing a reading.

On SIGTERM/SIGINT: pollers finish the poll in progress, everything buffered is sealed, and the
uplink gets ``drain_s`` seconds to deliver what is pending. Whatever is not delivered stays in
the buffer and goes out after the next start.

A ``set_config`` command stops the agent the same way and starts it again from the new file, in
the same process; the new file is on probation until its uplink gets a batch acknowledged (see
``edge_agent.reconfig``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from watertel.edge_agent.buffer import Buffer, BufferFull
from watertel.edge_agent.config import EdgeConfig, load_edge_config
from watertel.edge_agent.health import write_status
from watertel.edge_agent.clock import clock_synchronised
from watertel.edge_agent.commands import CommandExecutor
from watertel.edge_agent.reconfig import ConfigFiles, answer_of, load_or_roll_back
from watertel.edge_agent.poll.scheduler import BusPoller
from watertel.edge_agent.poll.totaliser import TotaliserWatch
from watertel.edge_agent.systemd import notify, watchdog_interval_s
from watertel.edge_agent.sealing import Sealing
from watertel.edge_agent.uplink import Uplink
from watertel.edge_agent.verdict import NOT_VERIFIED, CloudVerdict
from watertel import __version__
from watertel.commands import Answer, CommandError
from watertel.crypto import SM2PrivateKey, SM2PublicKey, sm3
from watertel.readings import Reading

log = logging.getLogger("watertel.edge")
STATUS_EVERY_S = 5.0


class Agent:
    """One run of one configuration. ``files``: where it came from (needed for set_config)."""

    def __init__(self, cfg: EdgeConfig, files: ConfigFiles | None = None) -> None:
        self.cfg, self.files = cfg, files
        self.change = files.change() if files else None
        self.reload = asyncio.Event()  # set: stop, and start again from the config file
        self.key = SM2PrivateKey.from_pem(cfg.key.private_key.read_text())
        self.payload_key = cfg.key.payload_key.load() if cfg.key.payload_key else None  # checked at config load
        self.buffer = Buffer(cfg.buffer.path, cfg.gateway_id, int(cfg.buffer.max_mb * 2**20), cfg.buffer.when_full)
        self.config_sm3 = files.sm3() if files else sm3(cfg.model_dump_json().encode()).hex()
        self.uplink = Uplink(cfg.uplink, cfg.gateway_id, self.buffer, birth={
            "version": __version__, "config_sm3": self.config_sm3,
            "profiles": sorted({d.profile for bus in cfg.buses for d in bus.devices}),
        }, key=self.key, key_id=cfg.key.key_id)
        self.uplink.status_fn = self.live_status
        self.sealing = Sealing(self.buffer, self.uplink, cfg.batching, self.key, cfg.gateway_id, cfg.key.key_id,
                               self.payload_key)
        self.clock: dict[str, Any] = {}  # the last offset measured by a check_clock / set_time
        self.clock_off = False  # that offset was beyond tolerance and not removed: flag readings
        watch = TotaliserWatch(self.buffer.last_values())
        synced = (lambda: clock_synchronised() is not False) if cfg.flag_unsynced_clock else (lambda: True)
        self.pollers = [BusPoller(bus, self._store, watch, lambda: synced() and not self.clock_off) for bus in cfg.buses]
        if cfg.commands:
            self.uplink.on_command = CommandExecutor(
                cfg.commands, cfg.gateway_id, self.key, self.buffer, self.pollers,
                set_config=self._set_config if files else None, on_clock=self._on_clock).handle
        self.verdict = self._verdict()
        self._status_soon = False  # a notice changed what `edge status` shows: write it at the next round
        self._full_logged = -math.inf
        counters = self.buffer.counters()
        self._lost = counters.get("dropped", 0) + counters.get("unrecorded", 0)  # earlier runs' losses are history
        self._lost_since_full, self._last_loss, self.buffer_full = 0, -math.inf, False
        self.started_ms = int(time.time() * 1000)
        self._queue_answer()

    # --- the cloud's verdict, remote configuration, clock and conditions ---------------------------
    def _verdict(self) -> CloudVerdict | None:
        """The cloud's notices, verified with the key commands are (none without it: said once)."""
        if self.cfg.commands is None:
            log.info("no commands.cloud_public_key: the cloud's notices (refused envelopes) cannot be verified and are"
                     " ignored; `edge status` shows the broker's acknowledgements only")
            return None
        previous = _previous(self.cfg.status_path)
        said = previous.get("cloud") if previous.get("gateway_id") == self.cfg.gateway_id else None
        verdict = CloudVerdict(self.cfg.gateway_id, SM2PublicKey.from_pem(self.cfg.commands.cloud_public_key.read_text()),
                               self.buffer.batch_data, said)
        self.uplink.on_notice = self._on_notice
        return verdict

    def _on_notice(self, message: bytes) -> None:
        if self.verdict.handle(message):
            self._status_soon = True


    def _set_config(self, command_id: str, args: dict[str, Any]) -> None:
        if self.change and self.change["state"] == "probation":
            raise CommandError("busy", f"configuration change {self.change['command_id']} is still on probation")
        self.files.validate(args.get("yaml"), self.cfg)
        self.change = self.files.apply(command_id, self.cfg.commands.config_probation_s)
        self.reload.set()

    def _queue_answer(self) -> None:
        """The signed answer to a finished configuration change, sent once the uplink is up."""
        change = self.change
        if not change or change["state"] == "probation" or change.get("answered"):
            return
        status, reason, result = answer_of(change)
        answer = Answer(self.cfg.gateway_id, change["command_id"], status, reason, result, int(time.time() * 1000))
        self.uplink.outbox.append((answer.pack(self.key), lambda: self.files.answered(change["command_id"])))

    async def _probation(self) -> None:
        """Keep the new file if it gets a batch acknowledged in time; else restore the previous one."""
        probation_s = float(self.change["probation_s"])
        deadline = time.monotonic() + probation_s
        while time.monotonic() < deadline:
            if self.uplink.last_ack_ms is not None:
                self.files.finish("applied")
                self.change = self.files.change()
                self._queue_answer()
                self.uplink.status_due = True
                self.uplink.wake.set()
                return
            await asyncio.sleep(0.2)
        try:
            self.files.rollback(f"connected, but no batch acknowledged within {probation_s:g} s" if self.uplink.birth_acked
                                else f"no broker connection within {probation_s:g} s ({', '.join(self.cfg.uplink.brokers)})")
        except OSError as err:  # the new file stays, still on probation: the next run tries again
            log.error("cannot roll back %s: %s", self.files.path, err)
        self.reload.set()

    def _on_clock(self, result: dict[str, Any]) -> None:
        self.clock = {**result, "measured_ms": int(time.time() * 1000)}
        tolerance = self.cfg.commands.clock.tolerance_ms if self.cfg.commands else 0
        self.clock_off = abs(result["offset_ms"]) > tolerance and result["action"] not in ("slewed", "stepped")
        self.uplink.status_due = True

    def check_buffer_full(self) -> bool:
        """buffer_full while readings were dropped (policy) or not recorded (disk full) lately."""
        counters = self.buffer.counters()
        lost = counters.get("dropped", 0) + counters.get("unrecorded", 0)
        if lost > self._lost:
            self._lost_since_full += lost - self._lost
            self._lost, self._last_loss = lost, time.monotonic()
        full = time.monotonic() - self._last_loss < self.cfg.buffer.full_clear_after_s
        if full != self.buffer_full:
            self.buffer_full = full
            (log.error if full else log.info)("buffer_full %s", "raised" if full else "cleared")
            if not full:
                self._lost_since_full = 0
            self.uplink.status_due = True
            self.uplink.wake.set()
        return full

    def live_status(self) -> dict[str, Any]:
        """The changing part of the status message (the cloud's fleet view and device alarms)."""
        stats = self.buffer.stats()
        conditions = {}
        if self.buffer_full:
            conditions["buffer_full"] = (f"{self._lost_since_full} readings lost (policy {self.cfg.buffer.when_full}, "
                                         f"limit {self.cfg.buffer.max_mb:g} MB, or the disk full)")
        change = self.change and {k: self.change.get(k) for k in ("command_id", "state", "reason", "new_sm3", "t_ms")}
        return {"config_sm3": self.config_sm3, "config_change": change, "conditions": conditions,
                "buffer": {k: stats.get(k, 0) for k in ("unsealed", "batches_pending", "bytes", "dropped", "unrecorded")},
                "clock": {"synchronised": clock_synchronised(), **self.clock}}

    def _store(self, readings: list[Reading]) -> None:
        try:
            self.buffer.add(readings)
        except BufferFull as err:  # counted in the buffer; say it once a minute, keep polling
            if time.monotonic() - self._full_logged > 60:
                log.error("readings not recorded: %s", err)
                self._full_logged = time.monotonic()

    def _housekeeping(self) -> Callable[[], None]:
        """What the sealing loop also does each round: status every few seconds, the systemd watchdog."""
        last = {"status": 0.0, "ping": 0.0}
        ping_every = watchdog_interval_s()

        def each_round() -> None:
            if self._status_soon or time.monotonic() - last["status"] >= STATUS_EVERY_S:
                self._status_soon = False
                self.check_buffer_full()
                self.write_status()
                last["status"] = time.monotonic()
            if ping_every and time.monotonic() - last["ping"] >= ping_every:
                notify("WATCHDOG=1")
                last["ping"] = time.monotonic()
        return each_round

    def write_status(self) -> None:
        """Health for `watertel edge status`; a failure to write it must not stop the agent."""
        status = {
            "gateway_id": self.cfg.gateway_id, "pid": os.getpid(), "version": __version__,
            "started_ms": self.started_ms, "updated_ms": int(time.time() * 1000),
            "uplink": {"connected": self.uplink.connected, "broker": self.uplink.broker,
                       "last_ack_ms": self.uplink.last_ack_ms, "last_error": self.uplink.last_error,
                       "down_since_ms": self.uplink.down_since_ms, "failures": self.uplink.failures},
            "buffer": self.buffer.stats(), "config_sm3": self.config_sm3, "config_change": self.change,
            "buffer_full": self.buffer_full, "clock": self.clock,
            "cloud": self.verdict.status() if self.verdict else NOT_VERIFIED,
            "devices": {name: dev for p in self.pollers for name, dev in p.status().items()},
        }
        try:
            write_status(self.cfg.status_path, status)
        except OSError as err:
            log.warning("cannot write status file %s: %s", self.cfg.status_path, err)

    async def run(self, stop: asyncio.Event, drain_s: float = 30.0) -> str:
        """Run until ``stop`` ("stop") or a configuration change asks for a restart ("reload")."""
        polls = [asyncio.create_task(p.run()) for p in self.pollers]
        sealing = asyncio.create_task(self.sealing.run(self._housekeeping()))
        uplink = asyncio.create_task(self.uplink.run())
        probation = asyncio.create_task(self._probation()) if self.change and self.change["state"] == "probation" else None
        log.info("edge agent %s running: %d buses, config sm3 %s%s", self.cfg.gateway_id, len(self.pollers),
                 self.config_sm3[:16], " (on probation)" if probation else "")
        notify("READY=1")
        waits = [asyncio.create_task(stop.wait()), asyncio.create_task(self.reload.wait())]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in waits + ([probation] if probation else []):
            task.cancel()
        outcome = "stop" if stop.is_set() else "reload"
        if outcome == "reload":  # what is unsent goes out with the next configuration
            self.uplink.quiet_stop, drain_s = True, min(drain_s, 2.0)
        else:
            notify("STOPPING=1")
        for p in self.pollers:
            p.stop()
        await asyncio.gather(*polls, return_exceptions=True)
        sealing.cancel()
        self.sealing.seal_due(force=True)
        drained = await self.sealing.drain(drain_s)
        uplink.cancel()
        for task in (sealing, uplink):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        stats = self.buffer.stats()
        self.write_status()
        self.buffer.close()
        log.info("edge agent %s stopped (%s, %s): %s", self.cfg.gateway_id, outcome,
                 "drained" if drained else "batches kept for next start", stats)
        return outcome


def _previous(path: Path) -> dict[str, Any]:
    """The last status file's contents (a new run takes over what the cloud said), {} if none."""
    try:
        previous = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return previous if isinstance(previous, dict) else {}


async def run_agent(cfg: EdgeConfig, config_path: Path | None = None) -> None:
    """Run until SIGTERM or SIGINT, starting again from ``config_path`` after each set_config."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    files = ConfigFiles(config_path) if config_path else None
    if files and files.at_start():  # a change found on probation, or interrupted, by this process start
        cfg = load_or_roll_back(files)
    while True:
        try:
            agent = Agent(cfg, files)
        except Exception as err:  # noqa: BLE001 - whatever stops a new file from starting rolls it back
            change = files.change() if files else None
            if not change or change["state"] != "probation":
                raise
            files.rollback(f"the agent cannot start with the new file: {err}")
            cfg = load_edge_config(files.path)
            continue
        if await agent.run(stop) == "stop":
            return
        cfg = load_or_roll_back(files)

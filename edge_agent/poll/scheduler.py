"""The bus scheduler: polls each device of one bus at its interval, aligned to the wall clock.

Requests on a bus are strictly sequential (RS-485 allows one at a time). A device that fails is
logged once at warning, repeats at debug and recovery at info, and still yields readings that
say why (timeout, exception, comm error), so data-quality rates can tell outages apart.

A dead slave costs the whole bus its timeout on every poll. After ``BREAKER_AFTER`` polls without
an answer its circuit opens: it is then probed only when the bus is idle for at least its timeout
(so nobody else waits), or, on a bus that is never that idle, once per back-off period (30 s
doubling to 5 min). Its first answer closes the circuit again.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from typing import Callable

from watertel import firmware_profiles
from watertel.edge_agent.config import BusConfig, DeviceConfig
from watertel.edge_agent.poll.decode import to_readings
from watertel.edge_agent.poll.modbus import BusClient, ReadFailed
from watertel.edge_agent.poll.totaliser import TotaliserWatch
from watertel.firmware_profiles import Point, Profile
from watertel.firmware_profiles.codec import Block, decode, encode, plan
from watertel.readings import Quality, Reading

log = logging.getLogger("watertel.edge.poll")
BREAKER_AFTER = 2
BACKOFF_FIRST_S, BACKOFF_MAX_S = 30.0, 300.0


@dataclass
class _Device:
    config: DeviceConfig
    profile: Profile
    blocks: list[Block]
    due: float = 0.0
    failing: bool = False
    silent: int = 0  # consecutive polls without any answer
    polls: int = 0
    errors: int = 0
    last_good_ms: int | None = None
    last_error: str = ""
    probe_by: float = math.inf  # while the circuit is open: probe at the latest then
    interval_s: float = 0.0  # the poll interval in force (a signed command may change it)

    @property
    def open(self) -> bool:
        return self.silent >= BREAKER_AFTER


def next_slot(now: float, interval: float) -> float:
    """The next wall-clock multiple of ``interval`` strictly after ``now``."""
    return (math.floor(now / interval) + 1) * interval


class BusPoller:
    def __init__(self, bus: BusConfig, emit: Callable[[list[Reading]], None], watch: TotaliserWatch | None = None,
                 clock_ok: Callable[[], bool] = lambda: True) -> None:
        self.bus = bus
        self.emit = emit
        self.watch = watch or TotaliserWatch()
        self.clock_ok = clock_ok
        self.client = BusClient(bus)
        now = time.time()
        self.devices = []
        for d in bus.devices:
            profile = firmware_profiles.load(d.profile)
            self.devices.append(_Device(d, profile, plan(profile), next_slot(now, d.poll_interval_s),
                                        interval_s=d.poll_interval_s))
        self._stopping = asyncio.Event()
        self.lock = asyncio.Lock()  # one request at a time on the bus, commands included

    def stop(self) -> None:
        """Finish the poll in progress, then return from ``run``: no served value is dropped."""
        self._stopping.set()

    async def run(self) -> None:
        try:
            while not self._stopping.is_set():
                dev = self._next()
                delay = dev.due - time.time()
                if delay > 0:
                    try:
                        await asyncio.wait_for(self._stopping.wait(), delay)
                        break
                    except TimeoutError:
                        pass
                try:
                    await self.poll(dev)
                except Exception:  # never let one device's surprise stop the whole bus
                    log.exception("poll of %s/%s failed unexpectedly", self.bus.name, dev.config.name)
                dev.due = max(dev.due + dev.interval_s, next_slot(time.time(), dev.interval_s))
        finally:
            self.client.close()

    def _next(self) -> _Device:
        """The device due first; one with an open circuit waits for a gap as long as its timeout."""
        while True:
            dev = min(self.devices, key=lambda d: d.due)
            answering = [d.due for d in self.devices if not d.open]
            start = max(dev.due, time.time())
            if not dev.open or not answering or min(answering) - start >= self.bus.timeout_s or start >= dev.probe_by:
                return dev
            dev.due = min(min(answering) + 1e-3, dev.probe_by)

    def device(self, name: str) -> _Device | None:
        return next((d for d in self.devices if d.config.name == name), None)

    async def poll(self, dev: _Device) -> list[Reading]:
        """Read the device, record its readings (emit) and return them."""
        t_ms = int(time.time() * 1000)
        results: dict[Block, list[int] | Quality] = {}
        error = None
        async with self.lock:
            for block in dev.blocks:
                try:
                    results[block] = await self.client.read(dev.config.unit_id, block)
                except ReadFailed as err:
                    results[block], error = err.quality, err
        self._report(dev, error)
        self._breaker(dev, answered=any(not isinstance(r, Quality) or r is Quality.EXCEPTION for r in results.values()))
        readings = self.watch.mark(dev.profile, to_readings(dev.profile, dev.config.station, t_ms, results))
        if not self.clock_ok():  # the sample time may be wrong: say so on every reading that was fine
            readings = [r._replace(quality=Quality.CLOCK_UNSYNCED) if r.quality is Quality.OK else r for r in readings]
        self.emit(readings)
        return readings

    async def write_point(self, dev: _Device, point: Point, value: float,
                          check: Callable[[float, float], str | None]) -> tuple[float, float]:
        """Write one point if ``check(value, current)`` finds no problem (else ValueError, nothing
        written); return its value before and after, all under the bus lock."""
        block = Block(point.function, point.first, point.count)
        async with self.lock:
            before = decode(point, await self.client.read(dev.config.unit_id, block))
            problem = check(value, before)
            if problem:
                raise ValueError(problem)
            await self.client.write(dev.config.unit_id, point, encode(point, value))
            after = decode(point, await self.client.read(dev.config.unit_id, block))
        return before, after

    def _breaker(self, dev: _Device, answered: bool) -> None:
        name = f"{self.bus.name}/{dev.config.name}"
        if answered:
            if dev.open:
                log.info("device %s answers again: circuit closed", name)
            dev.silent, dev.probe_by = 0, math.inf
            return
        dev.silent += 1
        if dev.open:
            backoff = min(BACKOFF_FIRST_S * 2 ** (dev.silent - BREAKER_AFTER), BACKOFF_MAX_S)
            dev.probe_by = time.time() + backoff
            if dev.silent == BREAKER_AFTER:
                log.warning("device %s does not answer: circuit open, probing only when the bus is idle", name)

    def status(self) -> dict[str, dict]:
        """Per device: polls, errors, last good poll, last error, circuit state (for `edge status`)."""
        return {d.config.name: {"bus": self.bus.name, "polls": d.polls, "errors": d.errors,
                                "last_good_ms": d.last_good_ms, "last_error": d.last_error, "circuit_open": d.open}
                for d in self.devices}

    def _report(self, dev: _Device, error: ReadFailed | None) -> None:
        dev.polls += 1
        if error:
            dev.errors += 1
            dev.last_error = f"{error.quality.name}: {error}"
        else:
            dev.last_good_ms = int(time.time() * 1000)
        name = f"{self.bus.name}/{dev.config.name}"
        if error and not dev.failing:
            log.warning("device %s failing: %s (%s)", name, error.quality.name, error)
        elif error:
            log.debug("device %s still failing: %s", name, error)
        elif dev.failing:
            log.info("device %s recovered", name)
        dev.failing = error is not None

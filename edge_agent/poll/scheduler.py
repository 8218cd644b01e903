"""The bus scheduler: polls each device of one bus at its interval, aligned to the wall clock.

Requests on a bus are strictly sequential (RS-485 allows one at a time). A device that fails is
logged once at warning, repeats at debug and recovery at info, and still yields readings that
say why (timeout, exception, comm error), so data-quality rates can tell outages apart.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from typing import Callable

import firmware_profiles
from edge_agent.config import BusConfig, DeviceConfig
from edge_agent.poll.decode import to_readings
from edge_agent.poll.modbus import BusClient, ReadFailed
from firmware_profiles import Profile
from firmware_profiles.codec import Block, plan
from watertel.readings import Quality, Reading

log = logging.getLogger("watertel.edge.poll")


@dataclass
class _Device:
    config: DeviceConfig
    profile: Profile
    blocks: list[Block]
    due: float = 0.0
    failing: bool = False


def next_slot(now: float, interval: float) -> float:
    """The next wall-clock multiple of ``interval`` strictly after ``now``."""
    return (math.floor(now / interval) + 1) * interval


class BusPoller:
    def __init__(self, bus: BusConfig, emit: Callable[[list[Reading]], None]) -> None:
        self.bus = bus
        self.emit = emit
        self.client = BusClient(bus)
        now = time.time()
        self.devices = []
        for d in bus.devices:
            profile = firmware_profiles.load(d.profile)
            self.devices.append(_Device(d, profile, plan(profile), next_slot(now, d.poll_interval_s)))
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Finish the poll in progress, then return from ``run``: no served value is dropped."""
        self._stopping.set()

    async def run(self) -> None:
        try:
            while not self._stopping.is_set():
                dev = min(self.devices, key=lambda d: d.due)
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
                dev.due = max(dev.due + dev.config.poll_interval_s, next_slot(time.time(), dev.config.poll_interval_s))
        finally:
            self.client.close()

    async def poll(self, dev: _Device) -> None:
        t_ms = int(time.time() * 1000)
        results: dict[Block, list[int] | Quality] = {}
        error = None
        for block in dev.blocks:
            try:
                results[block] = await self.client.read(dev.config.unit_id, block)
            except ReadFailed as err:
                results[block], error = err.quality, err
        self._report(dev, error)
        self.emit(to_readings(dev.profile, dev.config.station, t_ms, results))

    def _report(self, dev: _Device, error: ReadFailed | None) -> None:
        name = f"{self.bus.name}/{dev.config.name}"
        if error and not dev.failing:
            log.warning("device %s failing: %s (%s)", name, error.quality.name, error)
        elif error:
            log.debug("device %s still failing: %s", name, error)
        elif dev.failing:
            log.info("device %s recovered", name)
        dev.failing = error is not None

"""A profile-driven Modbus device for pymodbus' server, recording every value it serves.

pymodbus calls ``_on_access`` for every request before it answers; the device then brings its
registers to the current time, so a reading is the state at the moment it was asked for, and
logs the points the request covers. Holding and input registers are separate blocks, as on most
meters; writes are refused (read-only devices until the command path exists).
"""

from __future__ import annotations

import json
import time
from typing import IO

from pymodbus.constants import ExcCodes
from pymodbus.simulator import DataType as SimType
from pymodbus.simulator import SimData, SimDevice

from firmware_profiles import Function, Profile
from firmware_profiles.codec import encode, representable
from simulators.config import SimDeviceConfig
from simulators.signals import DeviceState
from watertel.readings import Quality

_READ_CODES = {3: Function.HOLDING, 4: Function.INPUT}


class SimulatedDevice:
    """One device: its state, its register blocks and its served log."""

    def __init__(self, config: SimDeviceConfig, profile: Profile, served_log: IO[str] | None) -> None:
        self.config = config
        self.profile = profile
        self.state = DeviceState(profile, config.signals, config.faults, config.seed)
        self.served_log = served_log
        self.size = {f: self._extent(f) for f in Function}

    def _extent(self, function: Function) -> int:
        ends = [p.address + p.count for p in self.profile.points if p.function == function]
        if self.profile.status and self.profile.status.function == function:
            ends.append(self.profile.status.address + 1)
        return max(ends, default=1)

    def sim_device(self) -> SimDevice:
        bits = [SimData(0, count=16, values=False, datatype=SimType.BITS)]
        holding, inputs = (
            [SimData(0, count=self.size[f], values=0, datatype=SimType.REGISTERS)] for f in (Function.HOLDING, Function.INPUT)
        )
        return SimDevice(self.config.unit_id, simdata=(bits, list(bits), holding, inputs), action=self._on_access)

    async def _on_access(self, function_code: int, start: int, address: int, count: int,
                         registers: list[int], set_values: list[int] | None) -> ExcCodes | None:
        if set_values is not None:
            return ExcCodes.ILLEGAL_FUNCTION
        function = _READ_CODES.get(function_code)
        if function is None:
            return None
        now = time.time()
        self.state.advance(now)
        status = self.state.status_word(now)
        for p in self.profile.points:
            if p.function == function:
                registers[p.address - start : p.address - start + p.count] = encode(p, self.state.values[p.name])
        if self.profile.status and self.profile.status.function == function:
            registers[self.profile.status.address - start] = status
        self._log_served(function, address, count, now, status)
        return None

    def _log_served(self, function: Function, address: int, count: int, now: float, status: int) -> None:
        if self.served_log is None:
            return
        faulty = self.profile.status is not None and bool(status & sum(1 << b for b in self.profile.status.faults))
        quality = Quality.SENSOR_FAULT if faulty else Quality.OK
        for p in self.profile.points:
            if p.function == function and address <= p.address and p.address + p.count <= address + count:
                value = representable(p, self.state.values[p.name])
                bounds = p.range
                q = Quality.OUT_OF_RANGE if bounds and not bounds[0] <= value <= bounds[1] else quality
                record = {"device": self.config.name, "point": p.name, "t": now, "value": value, "quality": q.name}
                self.served_log.write(json.dumps(record) + "\n")
        self.served_log.flush()

"""A profile-driven Modbus device for pymodbus' server, recording every value it serves.

pymodbus calls ``_on_access`` for every request before it answers; the device then brings its
registers to the current simulated time, so a reading is the state at the moment it was asked
for, and logs the points the request covers (wall time ``t`` and simulated time ``t_sim``).
Before answering, the scenario's communication faults apply: an offline device stays silent, a
faulty one answers with an exception, a slow one answers late, and on an RTU bus the framer
(``simulators.rtu``) corrupts the CRC while a ``crc`` event is in force. Coils, discrete inputs, holding and input registers are four
separate tables, as on most meters; every value goes through ``firmware_profiles.codec`` so the
simulator serves exactly what the profile says. Writes are refused (read-only devices until the
command path exists).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import IO

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.simulator import DataType as SimType
from pymodbus.simulator import SimData, SimDevice

from watertel.firmware_profiles import Function, Profile
from watertel.firmware_profiles.codec import decode, place
from watertel.simulators.clock import Clock, SimClock
from watertel.simulators.config import SimDeviceConfig, SiteConfig
from watertel.simulators.effects import DeviceEffects
from watertel.simulators.physics import PhysicsState
from watertel.simulators.signals import DeviceState
from watertel.readings import Quality

_READ_CODES = {1: Function.COIL, 2: Function.DISCRETE, 3: Function.HOLDING, 4: Function.INPUT}


def _pack_bits(bits: list[int], registers: list[int]) -> None:
    """pymodbus keeps coils and discrete inputs packed 16 to a register, bit 0 first."""
    for i in range(0, len(bits), 16):
        registers[i // 16] = sum(bit << n for n, bit in enumerate(bits[i : i + 16]))


class SimulatedDevice:
    """One device: its state, its register blocks and its served log."""

    def __init__(self, config: SimDeviceConfig, profile: Profile, served_log: IO[str] | None,
                 clock: Clock | None = None, effects: DeviceEffects | None = None,
                 site: SiteConfig | None = None) -> None:
        self.config = config
        self.profile = profile
        self.clock = clock or SimClock()
        self.effects = effects or DeviceEffects(config.name, profile, [])
        if config.model is not None:
            self.state: DeviceState | PhysicsState = PhysicsState(
                profile, config.model, site or SiteConfig(), self.effects, config.seed, self.clock.start)
        else:
            self.state = DeviceState(profile, config.signals, config.seed)
        self.served_log = served_log
        self.size = {f: self._extent(f) for f in Function}
        self.held: dict[str, float] = {}  # values written by a client (setpoints, run commands)

    def comm_fault(self, t_sim: float | None = None) -> str | None:
        """The kind of communication fault in force (``offline``, ``exception``, ``crc``,
        ``slow``), or None."""
        t = self.clock.now() if t_sim is None else t_sim
        event = self.effects.comm(t - self.clock.start)
        return None if event is None else event.kind

    def status_word(self, t_sim: float) -> int:
        """Status register: a fault bit is set while its fault window is open."""
        return sum(1 << f.bit for f in self.config.faults if f.open(t_sim, self.clock.start))

    def _value(self, name: str, t_sim: float) -> float:
        if name in self.held:  # written by a Modbus client: the device keeps it
            return self.held[name]
        value = self.state.values[name]
        if isinstance(self.state, DeviceState):  # physics applies the sensor faults itself, per tick
            value = self.effects.value(name, value, t_sim - self.clock.start)
        return value

    def _extent(self, function: Function) -> int:
        """Registers (or bits) the device has in ``function``'s table: up to its last point."""
        ends = [p.first + p.count for p in self.profile.points if p.function == function]
        if self.profile.status and self.profile.status.function == function:
            ends.append(self.profile.status.address + 1)
        return max(ends, default=1)

    def sim_device(self) -> SimDevice:
        # pymodbus keeps bits packed 16 to an entry in non-shared mode: one entry per 16 coils
        coils, discrete = ([SimData(0, count=(self.size[f] + 15) // 16, values=False, datatype=SimType.BITS)]
                           for f in (Function.COIL, Function.DISCRETE))
        holding, inputs = (
            [SimData(0, count=self.size[f], values=0, datatype=SimType.REGISTERS)] for f in (Function.HOLDING, Function.INPUT)
        )
        return SimDevice(self.config.unit_id, simdata=(coils, discrete, holding, inputs), action=self._on_access)

    async def _on_access(self, function_code: int, start: int, address: int, count: int,
                         registers: list[int], set_values: list[int] | None) -> ExcCodes | None:
        if set_values is not None:
            return await self._write(Function.COIL if function_code in (5, 15) else Function.HOLDING, address,
                                     [int(v) for v in set_values])
        function = _READ_CODES.get(function_code)
        if function is None:
            return None
        refused = await self._comm_fault()
        if refused is not None:
            return refused
        t_sim = self.clock.now()
        self.state.advance(t_sim)
        status = self.status_word(t_sim)
        image = self._image(function, status, t_sim)
        if function.is_bit:
            _pack_bits(image, registers)
        else:
            registers[: len(image)] = image
        self._log_served(function, address, count, (time.time(), t_sim), status, image)
        return None

    async def _write(self, function: Function, address: int, values: list[int]) -> ExcCodes | None:
        """A write, as a careful device takes it: only to points its profile marks writable, whole
        points only, and inside their limits (else an exception response and nothing changes).
        The value then holds until the next write, whatever the signal or physics would say."""
        refused = await self._comm_fault()
        if refused is not None:
            return refused
        t_sim = self.clock.now()
        self.state.advance(t_sim)
        before = self._image(function, self.status_word(t_sim), t_sim)
        after = list(before)
        end = address + len(values)
        if end > len(after):
            return ExcCodes.ILLEGAL_ADDRESS
        after[address:end] = values
        touched = [p for p in self.profile.points if p.function == function and p.first < end and address < p.first + p.count]
        if not touched or any(p.write is None or p.bit is not None or p.first < address or p.first + p.count > end
                              for p in touched):
            return ExcCodes.ILLEGAL_ADDRESS
        new = {p.name: decode(p, after[p.first : p.first + p.count]) for p in touched}
        if any(p.write.problem(new[p.name], decode(p, before[p.first : p.first + p.count])) for p in touched):
            return ExcCodes.ILLEGAL_VALUE
        self.held.update(new)
        return None

    async def _comm_fault(self) -> ExcCodes | None:
        """Apply the scenario's communication fault: stay silent (pymodbus then sends nothing),
        answer with an exception, or answer late; CRC corruption happens in the RTU framer."""
        event = self.effects.comm(self.clock.now() - self.clock.start)
        if event is None:
            return None
        if event.kind == "offline":
            raise NoSuchIdException(f"{self.config.name} is offline (scenario)")
        if event.kind == "exception":
            return ExcCodes[event.code.name]
        if event.kind == "slow":
            await asyncio.sleep(event.delay)
        return None

    def _image(self, function: Function, status: int, t_sim: float) -> list[int]:
        """The table of ``function`` as the device holds it now: every point's value encoded
        through the profile; in the status register the fault bits are the fault windows' and
        any other bit is a bit point's (a drive's "remote mode" flag beside its fault bits)."""
        image = [0] * self.size[function]
        for p in self.profile.points:
            if p.function == function:
                place(p, self._value(p.name, t_sim), image)
        st = self.profile.status
        if st and st.function == function:  # fault bits come from the fault windows, other bits from bit points
            mask = sum(1 << b for b in st.faults) | sum(1 << f.bit for f in self.config.faults)
            image[st.address] = (image[st.address] & ~mask) | (status & mask)
        return image

    def _log_served(self, function: Function, address: int, count: int, now: tuple[float, float], status: int,
                    image: list[int]) -> None:
        """Record the value of each point the request covers, decoded from what went on the wire."""
        if self.served_log is None:
            return
        faulty = self.profile.status is not None and bool(status & sum(1 << b for b in self.profile.status.faults))
        quality = Quality.SENSOR_FAULT if faulty else Quality.OK
        for p in self.profile.points:
            if p.function == function and address <= p.first and p.first + p.count <= address + count:
                value = decode(p, image[p.first : p.first + p.count])
                bounds = p.range
                q = Quality.OUT_OF_RANGE if bounds and not bounds[0] <= value <= bounds[1] else quality
                record = {"device": self.config.name, "point": p.name, "t": now[0], "t_sim": round(now[1], 3),
                          "value": value, "quality": q.name}
                self.served_log.write(json.dumps(record) + "\n")
        self.served_log.flush()

"""Helpers for the profile tests: a simulator serving constant values, and a reference decoder
written apart from firmware_profiles.codec (byte permutations spelled out, BCD digit by digit) so
the two can disagree when one of them is wrong."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

from watertel.firmware_profiles import Point, Profile
from watertel.simulators.config import SimConfig
from watertel.simulators.run import run_simulators

GOOD = """\
# a flow meter
vendor: Acme
model: F-1
kind: flow_meter
points:
  - name: flow
    address: 0
    type: f32
    scale: 2.5
"""


def write(tmp_path: Path, text: str, name: str = "profile.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _value_bytes(wire: bytes, order: str) -> bytes:
    n = len(wire)
    if order == "ABCD":
        return wire
    if order == "CDAB":  # word swap: the last word of the value comes first
        words = [wire[i : i + 2] for i in range(0, n, 2)]
        return b"".join(words[::-1])
    if order == "BADC":
        return bytes(wire[i ^ 1] for i in range(n))
    return wire[::-1]  # DCBA


def _number(kind: str, order: str, regs: list[int]) -> float:
    wire = b"".join(struct.pack(">H", r) for r in regs)
    data = _value_bytes(wire, order)
    if kind.startswith("bcd"):
        total = 0
        for byte in data:
            hi, lo = divmod(byte, 16)
            assert hi < 10 and lo < 10, f"not BCD: {data.hex()}"
            total = total * 100 + hi * 10 + lo
        return total
    fmt = {"u16": ">H", "i16": ">h", "u32": ">I", "i32": ">i", "f32": ">f", "f64": ">d"}[kind]
    return struct.unpack(fmt, data)[0]


def reference_decode(point: Point, regs: list[int]) -> float:
    """Engineering value of ``point`` from registers read by another client (``first``.. on)."""
    if point.type.value == "bit":
        word = regs[0]
        return float((word >> point.bit) & 1 if point.bit is not None else word & 1)
    at = point.address - point.first
    n = point.type.registers
    value = _number(point.type.value, point.order.value, regs[at : at + n]) * point.scale
    if point.fraction:
        rest = regs[:at] + regs[at + n :]
        value += _number(point.fraction.type.value, point.fraction.order.value, rest) * point.fraction.scale
    return value + point.offset


def constant_values(profile: Profile) -> dict[str, float]:
    """A value per point, away from round numbers, negative where the range allows it."""
    values = {}
    for p in profile.points:
        st = profile.status
        if st and p.function == st.function and p.address == st.address and p.bit in st.faults:
            values[p.name] = 0.0  # a status fault bit reads the (clear) fault, whatever its signal
        elif p.type.value == "bit":
            values[p.name] = 1.0
        elif p.range:
            values[p.name] = p.range[0] + 0.37 * (p.range[1] - p.range[0])
        else:
            values[p.name] = 12345.678
    return values


def sim_config(profile_name: str, unit: int, transport: dict, values: dict[str, float]) -> SimConfig:
    return SimConfig.model_validate({"devices": [{
        "name": "dut", "profile": profile_name, "unit_id": unit, "transport": transport,
        "signals": {name: {"mean": v} for name, v in values.items()}}]})


async def start_sims(config: SimConfig) -> asyncio.Task:
    ready = asyncio.Event()
    task = asyncio.create_task(run_simulators(config, ready))
    await asyncio.wait_for(ready.wait(), 10)
    return task


async def stop(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def rtu_link(tmp_path: Path) -> Path:
    return tmp_path / "ttyDUT"

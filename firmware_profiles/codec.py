"""Registers ⇄ engineering values, and request planning.

A value of n registers is n big-endian 16-bit words; the word order names where each byte of
the big-endian value sits on the wire (A = most significant)::

    f32 12.5 = 0x41480000     ABCD: 4148 0000   CDAB: 0000 4148
                              BADC: 4841 0000   DCBA: 0000 4841
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from firmware_profiles.model import MAX_REGISTERS_PER_READ, DataType, Function, Point, Profile, WordOrder

_FORMAT = {
    DataType.U16: ">H", DataType.I16: ">h", DataType.U32: ">I", DataType.I32: ">i",
    DataType.F32: ">f", DataType.F64: ">d",
}
_INTEGER = {DataType.U16, DataType.I16, DataType.U32, DataType.I32}
_RANGE = {
    DataType.U16: (0, 0xFFFF), DataType.I16: (-0x8000, 0x7FFF),
    DataType.U32: (0, 0xFFFF_FFFF), DataType.I32: (-0x8000_0000, 0x7FFF_FFFF),
}


def _reorder(raw: bytes, order: WordOrder) -> bytes:
    """Map between big-endian value bytes and wire bytes (each mapping is its own inverse)."""
    if order is WordOrder.ABCD:
        return raw
    if order is WordOrder.DCBA:
        return raw[::-1]
    words = [raw[i : i + 2] for i in range(0, len(raw), 2)]
    if order is WordOrder.CDAB:
        return b"".join(reversed(words))
    return b"".join(w[::-1] for w in words)  # BADC


def decode(point: Point, registers: list[int]) -> float:
    """Engineering value of ``point`` from its registers."""
    if len(registers) != point.count:
        raise ValueError(f"{point.name}: needs {point.count} registers (got {len(registers)})")
    wire = b"".join(r.to_bytes(2, "big") for r in registers)
    (raw,) = struct.unpack(_FORMAT[point.type], _reorder(wire, point.order))
    return raw * point.scale + point.offset


def encode(point: Point, value: float) -> list[int]:
    """Registers that make ``decode`` return the representable value nearest ``value``."""
    raw: float | int = (value - point.offset) / point.scale
    if point.type in _INTEGER:
        low, high = _RANGE[point.type]
        raw = min(max(round(raw), low), high)  # a real register saturates; it never wraps
    packed = _reorder(struct.pack(_FORMAT[point.type], raw), point.order)
    return [int.from_bytes(packed[i : i + 2], "big") for i in range(0, len(packed), 2)]


def representable(point: Point, value: float) -> float:
    """The value a device using this profile actually serves for ``value``."""
    return decode(point, encode(point, value))


@dataclass(frozen=True)
class Block:
    """One read request: ``count`` registers of one function from ``address``."""

    function: Function
    address: int
    count: int

    def slice(self, registers: list[int], address: int, count: int) -> list[int]:
        return registers[address - self.address : address - self.address + count]

    def covers(self, address: int, count: int) -> bool:
        return self.address <= address and address + count <= self.address + self.count


def plan(profile: Profile, max_registers: int = MAX_REGISTERS_PER_READ) -> list[Block]:
    """Group the points (and status register) into as few contiguous reads as allowed."""
    spans = [(p.function, p.address, p.count) for p in profile.points]
    if profile.status:
        spans.append((profile.status.function, profile.status.address, 1))
    blocks: list[Block] = []
    for function, address, count in sorted(spans):
        last = blocks[-1] if blocks else None
        if last and last.function == function and address <= last.address + last.count:
            end = max(last.address + last.count, address + count)
            if end - last.address <= max_registers:
                blocks[-1] = Block(function, last.address, end - last.address)
                continue
        blocks.append(Block(function, address, count))
    return blocks

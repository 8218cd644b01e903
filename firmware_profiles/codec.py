"""Registers ⇄ engineering values, and request planning.

A value of n registers is n big-endian 16-bit words; the word order names where each byte of
the big-endian value sits on the wire (A = most significant)::

    f32 12.5 = 0x41480000     ABCD: 4148 0000   CDAB: 0000 4148
                              BADC: 4841 0000   DCBA: 0000 4841

BCD puts one decimal digit in each nibble (1234 → 0x1234); bcd32 orders its bytes like u32.
A composite totaliser is an integer part and a fraction part in adjacent registers::

    total 15234.567 m³ = u32 15234 (× 1) + u16 567 (× 0.001)    registers: 0000 3B82 0237

``encode`` is the inverse of ``decode``: ``decode(encode(v))`` is the representable value nearest
``v`` (integers saturate at their limits, as a real register does; they never wrap).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from watertel.firmware_profiles.model import DataType, Fraction, Function, Point, Profile, WordOrder

_FORMAT = {
    DataType.U16: ">H", DataType.I16: ">h", DataType.U32: ">I", DataType.I32: ">i",
    DataType.F32: ">f", DataType.F64: ">d",
}
_LIMITS = {
    DataType.U16: (0, 0xFFFF), DataType.I16: (-0x8000, 0x7FFF),
    DataType.U32: (0, 0xFFFF_FFFF), DataType.I32: (-0x8000_0000, 0x7FFF_FFFF),
    DataType.BCD16: (0, 9999), DataType.BCD32: (0, 99_999_999),
}


class DecodeError(ValueError):
    """Registers that do not hold a value of the point's type (e.g. a nibble above 9 in BCD)."""


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


def _words(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def _raw(type_: DataType, order: WordOrder, registers: list[int]) -> float | int:
    """The number a register group holds, before scale and offset."""
    value = _reorder(b"".join(r.to_bytes(2, "big") for r in registers), order)
    if type_ in (DataType.BCD16, DataType.BCD32):
        digits = value.hex()
        if not digits.isdigit():
            raise DecodeError(f"0x{digits.upper()} is not BCD (a nibble above 9)")
        return int(digits)
    (number,) = struct.unpack(_FORMAT[type_], value)
    return number


def _pack(type_: DataType, order: WordOrder, raw: float | int) -> list[int]:
    """Registers holding ``raw`` (already rounded and clipped for integer types)."""
    if type_ in (DataType.BCD16, DataType.BCD32):
        data = bytes.fromhex(f"{int(raw):0{2 * type_.registers * 2}d}")
    else:
        data = struct.pack(_FORMAT[type_], raw)
    return _words(_reorder(data, order))


def _clip(type_: DataType, raw: float) -> int:
    low, high = _LIMITS[type_]
    return min(max(round(raw), low), high) if math.isfinite(raw) else (high if raw > 0 else low)


def _split(point: Point, registers: list[int]) -> tuple[list[int], list[int]]:
    """(integer-part registers, fraction registers) of a point's ``count`` registers."""
    n = point.type.registers
    at = point.address - point.first
    return registers[at : at + n], registers[:at] + registers[at + n :]


def decode(point: Point, registers: list[int]) -> float:
    """Engineering value of ``point`` from its ``count`` registers from ``first`` (bits: 0 or 1
    each); raises DecodeError when they hold no valid value."""
    if len(registers) != point.count:
        raise ValueError(f"{point.name}: needs {point.count} registers (got {len(registers)})")
    if point.type is DataType.BIT:
        return float(registers[0] & 1 if point.bit is None else registers[0] >> point.bit & 1)
    main, rest = _split(point, registers)
    value = _raw(point.type, point.order, main) * point.scale
    if point.fraction:
        value += _raw(point.fraction.type, point.fraction.order, rest) * point.fraction.scale
    return value + point.offset


def _encode_fraction(point: Point, f: Fraction, raw: float) -> tuple[int, float | int]:
    """(integer part, fraction part) for ``raw`` = value - offset, both carrying the sign of the
    value when the fraction can be negative; otherwise the integer part is the floor."""
    whole = math.floor(raw / point.scale) if not f.type.signed else math.trunc(raw / point.scale)
    part: float | int = (raw - whole * point.scale) / f.scale
    if f.type is not DataType.F32:
        part = round(part)
        if abs(part * f.scale) >= abs(point.scale) * (1 - 1e-12):  # rounding carried into the integer part
            whole, part = whole + (1 if part > 0 else -1), 0
        part = _clip(f.type, part)
    return _clip(point.type, whole), part


def encode(point: Point, value: float) -> list[int]:
    """Registers that make ``decode`` return the representable value nearest ``value``. A bit
    of a register comes back as that register with only this bit possibly set."""
    if point.type is DataType.BIT:
        on = int(value >= 0.5)
        return [on << point.bit] if point.bit is not None else [on]
    raw: float = value - point.offset
    if point.fraction:
        whole, part = _encode_fraction(point, point.fraction, raw)
        main = _pack(point.type, point.order, whole)
        rest = _pack(point.fraction.type, point.fraction.order, part)
        return main + rest if point.fraction.address > point.address else rest + main
    raw /= point.scale
    return _pack(point.type, point.order, _clip(point.type, raw) if point.type.is_integer else raw)


def place(point: Point, value: float, image: list[int], base: int = 0) -> None:
    """Write ``value`` into a register (or bit) image whose first element is address ``base``,
    leaving the other bits of a shared register as they are."""
    at = point.first - base
    words = encode(point, value)
    if point.type is DataType.BIT and point.bit is not None:
        mask = 1 << point.bit
        image[at] = (image[at] & ~mask) | words[0]
    else:
        image[at : at + len(words)] = words


def representable(point: Point, value: float) -> float:
    """The value a device using this profile actually serves for ``value``."""
    return decode(point, encode(point, value))


@dataclass(frozen=True)
class Block:
    """One read request: ``count`` registers (or bits) of one function from ``address``."""

    function: Function
    address: int
    count: int

    def slice(self, registers: list[int], address: int, count: int) -> list[int]:
        return registers[address - self.address : address - self.address + count]

    def covers(self, address: int, count: int) -> bool:
        return self.address <= address and address + count <= self.address + self.count


def plan(profile: Profile, max_registers: int | None = None) -> list[Block]:
    """Group the points (and status register) into as few contiguous reads as allowed
    (125 registers or 2,000 bits per request unless ``max_registers`` says fewer)."""
    spans = [(p.function, p.first, p.count) for p in profile.points]
    if profile.status:
        spans.append((profile.status.function, profile.status.address, 1))
    blocks: list[Block] = []
    for function, address, count in sorted(spans):
        limit = max_registers or function.max_read
        last = blocks[-1] if blocks else None
        if last and last.function == function and address <= last.address + last.count:
            end = max(last.address + last.count, address + count)
            if end - last.address <= limit:
                blocks[-1] = Block(function, last.address, end - last.address)
                continue
        blocks.append(Block(function, address, count))
    return blocks

"""The profile format, validated on load (errors name file, line, key and fix).

Checks that involve one point live here (in pydantic validators, so the JSON Schema and the
error messages come from one place); checks across points (overlapping registers) are in
``firmware_profiles.checks``, and ``loading`` applies both. Every message reads ``problem (fix)``.
"""

from __future__ import annotations

import math
from enum import StrEnum
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from watertel.config import Strict

HERE = Path(__file__).parent
MAX_REGISTERS_PER_READ = 125  # Modbus limit for function codes 3 and 4
MAX_BITS_PER_READ = 2000  # Modbus limit for function codes 1 and 2
KINDS = ("flow_meter", "pressure", "water_quality", "pump", "level", "energy_meter", "valve", "rtu")  # a profile's kind


class Function(StrEnum):
    """Which Modbus table a point lives in."""

    HOLDING = "holding"  # read with function code 3, written with 6/16
    INPUT = "input"  # function code 4, read-only
    COIL = "coil"  # read with function code 1, written with 5
    DISCRETE = "discrete"  # discrete input, function code 2, read-only

    @property
    def is_bit(self) -> bool:
        return self in (Function.COIL, Function.DISCRETE)

    @property
    def writable(self) -> bool:
        return self in (Function.HOLDING, Function.COIL)

    @property
    def max_read(self) -> int:
        return MAX_BITS_PER_READ if self.is_bit else MAX_REGISTERS_PER_READ


class DataType(StrEnum):
    U16 = "u16"
    I16 = "i16"
    U32 = "u32"
    I32 = "i32"
    F32 = "f32"
    F64 = "f64"
    BCD16 = "bcd16"  # 4 decimal digits, one per nibble (0..9999)
    BCD32 = "bcd32"  # 8 decimal digits over two registers (0..99999999)
    BIT = "bit"  # a coil, a discrete input, or one bit of a register

    @property
    def registers(self) -> int:
        return {"f64": 4, "u32": 2, "i32": 2, "f32": 2, "bcd32": 2}.get(self.value, 1)

    @property
    def is_integer(self) -> bool:
        return self in (DataType.U16, DataType.I16, DataType.U32, DataType.I32, DataType.BCD16, DataType.BCD32)

    @property
    def signed(self) -> bool:
        return self in (DataType.I16, DataType.I32, DataType.F32, DataType.F64)

    @property
    def max_raw(self) -> int | None:
        """Largest raw value of an integer type (where a counter wraps); None for floats and bits."""
        return {"u16": 0xFFFF, "i16": 0x7FFF, "u32": 0xFFFF_FFFF, "i32": 0x7FFF_FFFF,
                "bcd16": 9999, "bcd32": 99_999_999}.get(self.value)


class WordOrder(StrEnum):
    """Byte order of a value, A being its most significant byte."""

    ABCD = "ABCD"  # big-endian (Modbus default)
    CDAB = "CDAB"  # words swapped (common on flow meters)
    BADC = "BADC"  # bytes swapped in each word
    DCBA = "DCBA"  # little-endian


def _finite_nonzero(v: float) -> float:
    if v == 0 or not math.isfinite(v):
        raise ValueError("must be a finite non-zero number (use the value of one raw step, e.g. 0.01)")
    return v


class Transport(Strict):
    """Serial defaults of the device as shipped (a site may change them)."""

    baudrate: int = Field(9600, gt=0)
    parity: str = Field("N", pattern="^[NEO]$")
    stopbits: int = Field(1, ge=1, le=2)
    unit_id: int = Field(1, ge=1, le=247)


class Fraction(Strict):
    """The fraction register(s) of a composite totaliser, read with the same function as the
    integer part and directly before or after it: value = integer × scale + fraction × fraction.scale."""

    address: int = Field(ge=0, le=65535)
    type: DataType
    order: WordOrder = WordOrder.ABCD
    scale: float = 1.0

    @field_validator("scale")
    @classmethod
    def _scale_not_zero(cls, v: float) -> float:
        return _finite_nonzero(v)

    @field_validator("type")
    @classmethod
    def _numeric(cls, v: DataType) -> DataType:
        if v in (DataType.BIT, DataType.F64):
            raise ValueError("a fraction is u16, i16, u32, i32, f32 or BCD (use one of these)")
        return v


class WriteLimits(Strict):
    """A writable point and the safety limits a command must respect (checked before sending)."""

    min: float | None = None  # lowest value a command may set
    max: float | None = None  # highest value a command may set
    max_step: float | None = Field(None, gt=0)  # largest change from the current value in one command
    values: list[float] | None = Field(None, min_length=1)  # the only values allowed (e.g. [0, 1] stop/start)

    @model_validator(mode="after")
    def _ordered(self) -> WriteLimits:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"write.min must not exceed write.max (got {self.min} > {self.max}; swap them)")
        return self

    def problem(self, value: float, current: float | None = None) -> str | None:
        """Why a command setting ``value`` must be refused, or None when it is allowed."""
        if not math.isfinite(value):
            return f"{value} is not a number"
        if self.values is not None and value not in self.values:
            return f"{value:g} is not one of the allowed values {[f'{v:g}' for v in self.values]}"
        if self.min is not None and value < self.min:
            return f"{value:g} is below the safety minimum {self.min:g}"
        if self.max is not None and value > self.max:
            return f"{value:g} is above the safety maximum {self.max:g}"
        if self.max_step is not None and current is not None and abs(value - current) > self.max_step:
            return f"changing {current:g} to {value:g} exceeds the largest step {self.max_step:g}"
        return None


class Point(Strict):
    """One value of the device: where it is, how it is encoded, what it means."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    function: Function = Function.HOLDING
    address: int = Field(ge=0, le=65535)
    type: DataType
    order: WordOrder = WordOrder.ABCD
    bit: int | None = Field(None, ge=0, le=15)  # for type bit in a holding or input register
    scale: float = 1.0
    offset: float = 0.0
    unit: str = "-"
    range: tuple[float, float] | None = None
    fraction: Fraction | None = None
    totaliser: bool = False  # only grows (not a net total): a drop is marked as rollover or meter reset
    write: WriteLimits | None = None
    description: str | None = None

    @property
    def wraps_at(self) -> float | None:
        """The engineering value where this counter rolls over to zero (None: it cannot wrap)."""
        top = self.type.max_raw
        return None if top is None else top * self.scale + self.offset + (self.fraction.scale if self.fraction else 0)

    @field_validator("scale")
    @classmethod
    def _scale_not_zero(cls, v: float) -> float:
        return _finite_nonzero(v)

    @model_validator(mode="after")
    def _consistent(self) -> Point:
        for check in (self._check_range, self._check_bit, self._check_fraction, self._check_write):
            check()
        if self.first + self.count > 65536:
            raise ValueError("point runs past register 65535 (lower its address)")
        return self

    def _check_range(self) -> None:
        if self.range and self.range[0] > self.range[1]:
            raise ValueError(f"range must be [low, high] with low <= high (got {list(self.range)}; swap them)")

    def _check_bit(self) -> None:
        if self.type is DataType.BIT:
            if self.function.is_bit and self.bit is not None:
                raise ValueError(f"a {self.function.value} is a single bit (remove bit: {self.bit})")
            if not self.function.is_bit and self.bit is None:
                raise ValueError(f"a bit of a {self.function.value} register needs its number (add bit: 0..15)")
            if self.scale != 1 or self.offset != 0 or self.fraction:
                raise ValueError("a bit reads 0 or 1 (remove scale, offset and fraction)")
        elif self.function.is_bit:
            raise ValueError(f"a {self.function.value} holds one bit (use type: bit)")
        elif self.bit is not None:
            raise ValueError("bit is only for type bit (remove bit, or use type: bit)")

    def _check_fraction(self) -> None:
        f = self.fraction
        if f is None:
            return
        if not self.type.is_integer:
            raise ValueError("a totaliser's integer part is an integer type (use u16, u32, i32 or BCD)")
        if f.address not in (self.address + self.type.registers, self.address - f.type.registers):
            raise ValueError(f"fraction must sit directly after or before the integer part "
                             f"(use fraction.address: {self.address + self.type.registers})")
        if abs(f.scale) > abs(self.scale) and f.type is not DataType.F32:
            raise ValueError("fraction.scale must be smaller than scale (e.g. scale 1 m3, fraction.scale 0.001)")

    def _check_write(self) -> None:
        if self.totaliser and self.type is DataType.BIT:
            raise ValueError("a totaliser counts: give it a numeric type (or remove totaliser)")
        w = self.write
        if w is None:
            return
        if not self.function.writable:
            raise ValueError(f"a {self.function.value} is read-only (use function holding or coil, or remove write)")
        if self.fraction:
            raise ValueError("a totaliser cannot be written (remove write)")
        if self.type is DataType.BIT and (w.min is not None or w.max is not None) and w.values is None:
            raise ValueError("a bit is written as 0 or 1 (use write: {values: [0, 1]})")
        low, high = self.range or (-math.inf, math.inf)
        for key, limit in (("min", w.min), ("max", w.max), *(("values", v) for v in w.values or [])):
            if limit is not None and not low <= limit <= high:
                raise ValueError(f"write.{key} {limit:g} lies outside range {list(self.range or ())} "
                                 "(a command must not set an invalid value; narrow the limit)")

    @property
    def first(self) -> int:
        """Lowest register (or bit) address the point occupies."""
        return min(self.address, self.fraction.address) if self.fraction else self.address

    @property
    def count(self) -> int:
        """Registers (or bits) from ``first`` that the point occupies."""
        return self.type.registers + (self.fraction.type.registers if self.fraction else 0)


class StatusBits(Strict):
    """A u16 status register whose set bits mean the device's readings are faulty."""

    function: Function = Function.HOLDING
    address: int = Field(ge=0, le=65535)
    faults: dict[int, str] = Field(min_length=1)

    @field_validator("function")
    @classmethod
    def _register(cls, v: Function) -> Function:
        if v.is_bit:
            raise ValueError("status is a 16-bit register (use holding or input; for a fault coil use a bit point)")
        return v

    @field_validator("faults")
    @classmethod
    def _bits(cls, v: dict[int, str]) -> dict[int, str]:
        if any(not 0 <= bit <= 15 for bit in v):
            raise ValueError("fault bits are numbered 0..15 (renumber them)")
        return v


class Profile(Strict):
    """One device model's register map."""

    vendor: str
    model: str
    kind: str = Field(pattern=rf"^({'|'.join(KINDS)})$")
    description: str | None = None
    transport: Transport = Transport()
    points: list[Point] = Field(min_length=1)
    status: StatusBits | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> Profile:
        names = [p.name for p in self.points]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"point names must be unique (repeated: {', '.join(dupes)}; rename one)")
        return self

    def point(self, name: str) -> Point:
        return next(p for p in self.points if p.name == name)

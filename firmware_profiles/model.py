"""The profile format, validated on load (errors name file, line, key and fix)."""

from __future__ import annotations

import math
from enum import StrEnum
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from watertel.config import Strict, load_model

HERE = Path(__file__).parent
MAX_REGISTERS_PER_READ = 125  # Modbus limit for function codes 3 and 4


class Function(StrEnum):
    HOLDING = "holding"  # function code 3
    INPUT = "input"  # function code 4


class DataType(StrEnum):
    U16 = "u16"
    I16 = "i16"
    U32 = "u32"
    I32 = "i32"
    F32 = "f32"
    F64 = "f64"

    @property
    def registers(self) -> int:
        return {"u16": 1, "i16": 1, "u32": 2, "i32": 2, "f32": 2, "f64": 4}[self.value]


class WordOrder(StrEnum):
    """Byte order of a multi-register value, A being the most significant byte."""

    ABCD = "ABCD"  # big-endian (Modbus default)
    CDAB = "CDAB"  # words swapped (common on flow meters)
    BADC = "BADC"  # bytes swapped in each word
    DCBA = "DCBA"  # little-endian


class Transport(Strict):
    baudrate: int = Field(9600, gt=0)
    parity: str = Field("N", pattern="^[NEO]$")
    stopbits: int = Field(1, ge=1, le=2)
    unit_id: int = Field(1, ge=1, le=247)


class Point(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    function: Function = Function.HOLDING
    address: int = Field(ge=0, le=65535)
    type: DataType
    order: WordOrder = WordOrder.ABCD
    scale: float = 1.0
    offset: float = 0.0
    unit: str = "-"
    range: tuple[float, float] | None = None

    @field_validator("scale")
    @classmethod
    def _scale_not_zero(cls, v: float) -> float:
        if v == 0 or not math.isfinite(v):
            raise ValueError("scale must be a finite non-zero number")
        return v

    @model_validator(mode="after")
    def _range_ordered(self) -> Point:
        if self.range and self.range[0] > self.range[1]:
            raise ValueError(f"range must be [low, high] with low <= high (got {list(self.range)})")
        if self.address + self.type.registers > 65536:
            raise ValueError("point runs past register 65535")
        return self

    @property
    def count(self) -> int:
        return self.type.registers


class StatusBits(Strict):
    """A u16 status register whose set bits mean the device's readings are faulty."""

    function: Function = Function.HOLDING
    address: int = Field(ge=0, le=65535)
    faults: dict[int, str] = Field(min_length=1)

    @field_validator("faults")
    @classmethod
    def _bits(cls, v: dict[int, str]) -> dict[int, str]:
        if any(not 0 <= bit <= 15 for bit in v):
            raise ValueError("fault bits are numbered 0..15")
        return v


class Profile(Strict):
    vendor: str
    model: str
    kind: str = Field(pattern=r"^(flow_meter|pressure|water_quality|pump|level|energy_meter)$")
    transport: Transport = Transport()
    points: list[Point] = Field(min_length=1)
    status: StatusBits | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> Profile:
        names = [p.name for p in self.points]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"point names must be unique (repeated: {', '.join(dupes)})")
        return self

    def point(self, name: str) -> Point:
        return next(p for p in self.points if p.name == name)


def profile_paths() -> list[Path]:
    """The profiles shipped with watertel."""
    return sorted(HERE.glob("*.yaml"))


def load(name_or_path: str | Path) -> Profile:
    """Load a shipped profile by name (``emf_flow_meter``) or any profile by path."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = HERE / f"{name_or_path}.yaml"
    return load_model(path, Profile)

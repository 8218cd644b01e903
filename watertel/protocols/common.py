"""What both field protocols share: the one error a bad frame raises, a bounds-checked reader,
BCD digits and local time.

Every decoder reads through :class:`Reader`, so running off the end of a frame is always a
``FrameError("truncated: …")`` and never an ``IndexError`` from deep inside a parser.
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

# Both standards use Beijing time without saying so; China has had no daylight saving since 1991,
# so a fixed +08:00 is exact and needs no tz database on a small gateway.
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")


class FrameError(ValueError):
    """A frame that cannot be accepted; ``reason`` names what is wrong (length, checksum, …)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Reader:
    """A cursor over one frame's bytes that refuses to read past a limit."""

    def __init__(self, data: bytes, start: int = 0, end: int | None = None) -> None:
        self.data, self.pos, self.end = data, start, len(data) if end is None else end

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > self.end:
            raise FrameError(f"truncated: {what} needs {n} bytes, {self.end - self.pos} left")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def byte(self, what: str) -> int:
        return self.take(1, what)[0]

    def left(self) -> int:
        return self.end - self.pos


def bcd_digits(data: bytes, what: str) -> str:
    """The decimal digits of BCD bytes in transmitted order; a nibble above 9 is refused."""
    text = data.hex()
    if not text.isdigit():
        raise FrameError(f"BCD digit above 9 in {what}: {data.hex().upper()}")
    return text


def bcd_int(data: bytes, what: str) -> int:
    return int(bcd_digits(data, what) or "0")


def to_bcd(value: int, nbytes: int, what: str = "value") -> bytes:
    """``value`` as ``nbytes`` BCD bytes, most significant digit first."""
    text = str(value)
    if value < 0 or len(text) > 2 * nbytes:
        raise ValueError(f"{what}: {value} does not fit {nbytes} BCD bytes")
    return bytes.fromhex(text.zfill(2 * nbytes))


def bcd_time(data: bytes, what: str) -> datetime:
    """YYMMDDhh[mm[ss]] BCD as an aware local time; an impossible date is refused."""
    digits = bcd_digits(data, what)
    parts = [int(digits[i:i + 2]) for i in range(0, len(digits), 2)]
    try:
        return datetime(2000 + parts[0], *parts[1:], tzinfo=CHINA)
    except ValueError as err:
        raise FrameError(f"{what}: not a date/time ({digits}: {err})") from None


def time_bcd(when: datetime, nbytes: int) -> bytes:
    local = when.astimezone(CHINA) if when.tzinfo else when
    return bytes.fromhex(local.strftime("%y%m%d%H%M%S")[:2 * nbytes])


def jsonable(obj: Any) -> Any:
    """Decoded messages as plain JSON values: numbers stay numbers, times become ISO 8601."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        extra = getattr(obj, "json_extra", None)
        return {**out, **extra()} if extra else out
    if isinstance(obj, enum.Enum):
        return obj.name.lower()
    if isinstance(obj, Decimal):
        return int(obj) if obj == obj.to_integral_value() and obj.as_tuple().exponent >= 0 else float(obj)
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, timedelta):
        return obj.total_seconds()
    if isinstance(obj, bytes):
        return obj.hex().upper()
    if isinstance(obj, (list, tuple)):
        return [jsonable(x) for x in obj]
    return obj

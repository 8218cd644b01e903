"""Parsers for the cells every CSV table has: times, dates, numbers, quality flags, region paths, lists.

Each takes a cell's text (stripped) and returns the value, or raises :class:`CellError` whose
message is ``problem (fix)``; the table reader (``Row.parse``) adds the file, line and column.
They are shared so that a time, say, means the same in the arrivals of `watertel rates`, the
readings of `watertel alarms backtest` and the registry CSV.

Dates and times are ISO 8601; Excel's own form (``2026/10/1`` and ``2026/10/1 8:05``, what it
writes for a date cell in a Chinese locale) is read too, since a file saved from Excel has it.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from zoneinfo import ZoneInfo

from watertel.cloud.registry import to_ms
from watertel.readings import Quality

LEVELS = ("province", "city", "county")  # the levels of a region path, top first
SEP = ";"  # between the items of a list cell (points, maintenance windows, monthly plans)
QUALITIES = ", ".join(q.name.lower() for q in Quality if q is not Quality.OK)
_EXCEL = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")


class CellError(ValueError):
    """A cell that cannot be read; the message says why and how to fix it: ``problem (fix)``."""


def items(text: str) -> list[str]:
    """The non-empty items of a ``;``-separated cell, stripped."""
    return [part.strip() for part in text.split(SEP) if part.strip()]


def moment(text: str) -> dt.date | dt.datetime:
    """A service date: a date (from its local midnight) or a date-time (from that moment).

    As in the registry file, text longer than a date is a date-time (``2026-10-10T08:00+08:00``).
    """
    try:
        return dt.datetime.fromisoformat(text) if len(text) > 10 else dt.date.fromisoformat(text)
    except ValueError:
        pass
    if (found := _excel(text)) is not None:
        return found
    raise CellError(f"{text!r} is not a date (write YYYY-MM-DD, or a date-time such as 2026-10-10T08:00+08:00)")


def time_ms(text: str, tz: ZoneInfo) -> int:
    """Unix milliseconds of an ISO 8601 time; without a UTC offset it is local time in ``tz``."""
    try:
        moment_ = dt.datetime.fromisoformat(text)
    except ValueError:
        moment_ = _excel(text)
        if moment_ is None:
            raise CellError(f"{text!r} is not a time (write ISO 8601, e.g. 2026-10-01T08:05:00+08:00;"
                            f" without an offset it is local time in {tz.key})") from None
    return to_ms(moment_, tz)


def number(text: str) -> float:
    """A finite decimal number (``12.5``, ``-3``, ``1e6``)."""
    try:
        value = float(text)
    except ValueError:
        raise CellError(f"{text!r} is not a number (write e.g. 12.5)") from None
    if not math.isfinite(value):
        raise CellError(f"{text!r} is not a finite number (leave the cell empty when there is no value)")
    return value


@functools.lru_cache(maxsize=256)  # a file has a handful of distinct flags, over millions of rows
def quality(text: str) -> Quality:
    """A watertel quality flag by name, any case; ``ok`` or an empty cell is ``Quality.OK``."""
    name = text.strip().lower()
    if name in ("", "ok"):
        return Quality.OK
    found = Quality.__members__.get(name.upper())
    if found is None:
        raise CellError(f"{text!r} is not a quality (use ok or one of {QUALITIES})")
    return found


def region_path(text: str) -> str:
    """``province/city/county`` (fewer levels allowed), each name non-empty; spaces around ``/`` dropped."""
    parts = [p.strip() for p in text.split("/")]
    if not 1 <= len(parts) <= len(LEVELS) or not all(parts):
        raise CellError(f"{text!r} is not a path like province/city/county (1 to {len(LEVELS)} names"
                        " separated by /)")
    return "/".join(parts)


def _excel(text: str) -> dt.date | dt.datetime | None:
    """``2026/10/1`` → a date, ``2026/10/1 8:05[:07]`` → a naive date-time; None for anything else."""
    found = _EXCEL.fullmatch(text)
    if found is None:
        return None
    year, month, day, hour, minute, second = (int(g) if g else None for g in found.groups())
    try:
        if hour is None:
            return dt.date(year, month, day)  # type: ignore[arg-type]
        return dt.datetime(year, month, day, hour, minute, second or 0)  # type: ignore[arg-type]
    except ValueError:
        return None

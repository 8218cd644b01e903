"""Statistics periods (day, month, quarter, custom range) in a local calendar.

A period is a run of whole local days: it starts at local midnight of its first day and ends at
local midnight after its last, so in Asia/Shanghai 2026-Q4 is 2026-09-30T16:00Z to
2026-12-31T16:00Z. Days are cut at local midnights, which also keeps zones with daylight saving
right (a day there may be 23 or 25 hours).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from watertel.errors import OperatorError

FORMS = "YYYY-MM-DD, YYYY-MM, YYYY-Qn or FROM..TO (dates, both included)"


class PeriodError(OperatorError, ValueError):
    """A period the operator wrote that cannot be read; the message shows the accepted forms."""


@dataclass(frozen=True)
class Period:
    """Local days ``first`` … ``last`` (both included) in ``tz``."""

    label: str
    first: dt.date
    last: dt.date
    tz: ZoneInfo

    @property
    def days(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    def day_bounds_ms(self) -> list[int]:
        """Unix ms of each day's local midnight, and of the midnight after the last day."""
        return [_midnight_ms(day, self.tz) for day in [*self.days, self.last + dt.timedelta(days=1)]]

    @property
    def start_ms(self) -> int:
        return _midnight_ms(self.first, self.tz)

    @property
    def end_ms(self) -> int:
        """Exclusive: local midnight after the last day."""
        return _midnight_ms(self.last + dt.timedelta(days=1), self.tz)


def _midnight_ms(day: dt.date, tz: ZoneInfo) -> int:
    return int(dt.datetime.combine(day, dt.time(), tzinfo=tz).timestamp() * 1000)


def _date(text: str, whole: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise PeriodError(f"period {whole!r}: {text!r} is not a date (use {FORMS})") from None


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)


def parse_period(text: str, tz: ZoneInfo) -> Period:
    """Read ``2026-10-05``, ``2026-10``, ``2026-Q4`` or ``2026-10-01..2026-10-15``."""
    text = text.strip()
    if ".." in text:
        start, _, end = text.partition("..")
        first, last = _date(start, text), _date(end, text)
        if last < first:
            raise PeriodError(f"period {text!r}: it ends before it starts (write FROM..TO)")
        return Period(text, first, last, tz)
    if m := re.fullmatch(r"(\d{4})-[Qq]([1-4])", text):
        year, quarter = int(m[1]), int(m[2])
        return Period(f"{year}-Q{quarter}", dt.date(year, 3 * quarter - 2, 1), _month_end(year, 3 * quarter), tz)
    if m := re.fullmatch(r"(\d{4})-(\d{2})", text):
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12:
            raise PeriodError(f"period {text!r}: no month {month} (use {FORMS})")
        return Period(text, dt.date(year, month, 1), _month_end(year, month), tz)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        day = _date(text, text)
        return Period(text, day, day, tz)
    raise PeriodError(f"period {text!r} not understood (use {FORMS})")

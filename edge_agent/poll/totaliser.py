"""Totalisers that go backwards are marked, never hidden: the cloud computes volumes from their
deltas and must know whether a drop is a rollover (the delta wraps past the counter's maximum)
or a meter replacement or reset (the delta starts again from the new reading)."""

from __future__ import annotations

from watertel.firmware_profiles import Profile
from watertel.readings import Quality, Reading

WRAP_ZONE = 0.1  # a drop from the top tenth of the range to the bottom tenth is a rollover


class TotaliserWatch:
    """Remembers the last good value of each totaliser point (seeded from the buffer at start)."""

    def __init__(self, last: dict[tuple[str, str], float] | None = None) -> None:
        self.last = dict(last or {})

    def mark(self, profile: Profile, readings: list[Reading]) -> list[Reading]:
        counters = {p.name: p for p in profile.points if p.totaliser}
        return [self._check(r, counters[r.point]) if r.point in counters else r for r in readings]

    def _check(self, r: Reading, point) -> Reading:
        if r.quality is not Quality.OK:
            return r
        key = (r.station, r.point)
        before, self.last[key] = self.last.get(key), r.value
        if before is None or r.value >= before:
            return r
        top = point.wraps_at
        wrapped = top is not None and before >= top * (1 - WRAP_ZONE) and r.value <= top * WRAP_ZONE
        return r._replace(quality=Quality.TOTAL_ROLLOVER if wrapped else Quality.TOTAL_RESET)

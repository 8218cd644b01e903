"""Ground truth: what the simulators injected and when, as JSON lines.

A test scores the cloud's alarms and rates against this file, so every record carries the
simulated time the event was scheduled for (``t_sim``) and the wall-clock time at which that
simulated time was reached (``t_wall``). The whole schedule is written first (``"phase":
"scheduled"``); then, as simulated time passes them, each event's start and end (``"start"``,
``"end"``). The clock jump, which no Modbus device can show, is only ever recorded here.
"""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import IO

from watertel.simulators.clock import Clock


def _describe(event) -> dict:
    """The event's own fields (kind, device, point, rate, …) without its timing."""
    data = event.model_dump(mode="json", exclude_none=True, by_alias=True)
    for key in ("at", "for"):
        data.pop(key, None)
    return data


class GroundTruth:
    """Writes the schedule, then each event boundary once simulated time passes it."""

    def __init__(self, path: Path | None, events: list, clock: Clock) -> None:
        self.clock = clock
        self.file: IO[str] | None = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115
        boundaries = [(e.at, i, "start") for i, e in enumerate(events)]
        boundaries += [(e.end, i, "end") for i, e in enumerate(events) if math.isfinite(e.end) and e.end > e.at]
        self.pending = sorted(boundaries)
        self.events = events
        for i, e in enumerate(events):
            self._write(i, "scheduled", clock.start + e.at, end=None if math.isinf(e.end) else clock.start + e.end)

    def _write(self, index: int, phase: str, t_sim: float, **extra) -> None:
        if self.file is None:
            return
        record = {"event": index, "phase": phase, "t_sim": round(t_sim, 3),
                  "t_wall": round(self.clock.wall_of(t_sim), 3), **_describe(self.events[index])}
        record.update({k: (round(v, 3) if isinstance(v, float) else v) for k, v in extra.items() if v is not None})
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()

    def catch_up(self) -> None:
        """Record every boundary that simulated time has reached."""
        rel = self.clock.now() - self.clock.start
        while self.pending and self.pending[0][0] <= rel:
            at, index, phase = self.pending.pop(0)
            self._write(index, phase, self.clock.start + at)

    async def run(self, period_s: float = 0.05) -> None:
        """Catch up every ``period_s`` wall seconds until cancelled (then once more)."""
        try:
            while True:
                self.catch_up()
                await asyncio.sleep(period_s)
        finally:
            self.catch_up()

    def close(self) -> None:
        if self.file:
            self.file.close()

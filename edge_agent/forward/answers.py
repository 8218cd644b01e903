"""Answers to the platform's own frames on the forwarder's connection: the real-time query and
clock setting, as the field RTU the forwarder plays would answer them.

    SZY 206   B0H query (C's data type says which values) → B0H up, the self-report's data with the
              station's newest stored values and the time label of the newest of them
              11H set clock (clock, password, Tp)        → 11H up echoing the clock
    SL 651    37H query (ENQ)                            → 37H up (ETX): the 32H report's body with the
              newest values, the query's serial, observation time the newest value's minute
              4AH set clock (ENQ; the send time is the clock) → 4AH up: serial, send time, F1F1 station

The gateway's clock is not changed: it is kept by NTP/the OS, and a platform's clock is one more
opinion. The offset (platform minus ours) is logged at info and kept in ``clock_offset_s`` so an
operator can see a platform that disagrees. A query for an address this forwarder does not
serve, or for values it has none of, gets no answer (logged once per address and reason); the
platform's own timeout then says so, as a real RTU's silence would.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace
from datetime import datetime

from watertel.edge_agent.forward.config import SZY_ADDRESS, ForwardConfig, StationConfig
from watertel.edge_agent.forward.frames import FrameBuilder, Result
from watertel.edge_agent.forward.source import BufferSource, Row
from watertel.protocols import sl651, szy206
from watertel.protocols.common import CHINA

log = logging.getLogger("watertel.edge.forward")


def _szy_key(address: str) -> tuple[str, int] | None:
    match = SZY_ADDRESS.match(address)
    return (match[1], int(match[2])) if match else None


class Answers:
    """``answer(frame)`` → the bytes to send back for a platform's downlink frame, or None."""

    def __init__(self, cfg: ForwardConfig, source: BufferSource, builder: FrameBuilder) -> None:
        self.cfg, self.source, self.builder = cfg, source, builder
        self.szy = {_szy_key(s.address): s for s in cfg.stations}
        self.sl = {s.address: s for s in cfg.stations}
        self.counts: Counter[str] = Counter()
        self.clock_offset_s: float | None = None
        self.warned: set[tuple[str, str]] = set()

    def answer(self, frame: szy206.Frame | sl651.Frame, now: datetime | None = None) -> bytes | None:
        now = now or datetime.now(CHINA)
        if isinstance(frame, szy206.Frame):
            return self._szy(frame, now)
        return self._sl(frame, now)

    # --- SZY 206 --------------------------------------------------------------------------------
    def _szy(self, frame: szy206.Frame, now: datetime) -> bytes | None:
        message = frame.message
        if not isinstance(message, (szy206.Query, szy206.SetClock)):
            return None  # echoes and confirmations are the link's business
        address = f"{frame.division}-{frame.station}"
        cfg = self.szy.get((frame.division, frame.station))
        if cfg is None:
            return self._unanswered(address, f"{frame.afn.name} for an address this forwarder does not serve")
        if isinstance(message, szy206.SetClock):
            self._clock(address, message.clock, now)
            echo = szy206.Frame(szy206.Afn.SET_CLOCK, True, frame.data_type, frame.fcb, frame.division,
                                frame.station, szy206.ClockEcho(message.clock))
            return szy206.encode(echo)
        rows = self._latest(cfg)
        result = Result()
        if rows:
            self.builder._szy(cfg, max(r.t_ms for r in rows) // 1000 * 1000, {r.point: r for r in rows}, result)
        for built in result.frames:
            report = szy206.decode(built.data)
            if report.data_type == frame.data_type:
                self.counts["queries_answered"] += 1
                return szy206.encode(replace(report, afn=szy206.Afn.QUERY_REALTIME, fcb=frame.fcb))
        return self._unanswered(address, f"no stored values of data type {frame.data_type} to answer B0H with")

    # --- SL 651 ---------------------------------------------------------------------------------
    def _sl(self, frame: sl651.Frame, now: datetime) -> bytes | None:
        message = frame.message
        if frame.end != sl651.End.ENQ or not isinstance(message, sl651.Downlink) \
                or frame.function not in (sl651.Function.QUERY_REALTIME, sl651.Function.SET_CLOCK):
            return None
        cfg = self.sl.get(frame.station)
        if cfg is None:
            return self._unanswered(frame.station, f"{frame.function.name} for an address this forwarder does not serve")
        if frame.function == sl651.Function.SET_CLOCK:
            self._clock(frame.station, message.sent_at, now)
            answer = sl651.Frame(sl651.Function.SET_CLOCK, True, frame.centre, frame.station, frame.password,
                                 sl651.End.ETX, sl651.ClockAnswer(message.serial, message.sent_at, frame.station))
            return sl651.encode(answer)
        rows = self._latest(cfg)
        result = Result()
        if rows:
            slot = max(r.t_ms for r in rows) // 60_000 * 60_000
            self.builder._sl(cfg, slot, {r.point: r for r in rows}, message.serial, result)
        if not result.frames:
            return self._unanswered(frame.station, "no stored values to answer 37H with")
        report = sl651.decode(result.frames[0].data)
        self.counts["queries_answered"] += 1
        return sl651.encode(replace(report, function=sl651.Function.QUERY_REALTIME, centre=frame.centre))

    # --- both -----------------------------------------------------------------------------------
    def _latest(self, cfg: StationConfig) -> list[Row]:
        return self.source.latest(cfg.station, list(cfg.points))

    def _clock(self, address: str, clock: datetime, now: datetime) -> None:
        self.clock_offset_s = round((clock - now).total_seconds(), 3)
        self.counts["clock_sets"] += 1
        log.info("forward: the platform set %s's clock to %s (%+.1f s against this gateway's); answered, "
                 "system clock not changed", address, clock.isoformat(), self.clock_offset_s)

    def _unanswered(self, address: str, reason: str) -> None:
        self.counts["queries_unanswered"] += 1
        level = logging.DEBUG if (address, reason) in self.warned else logging.WARNING
        self.warned.add((address, reason))
        log.log(level, "forward: platform query to %s not answered: %s", address, reason)
        return None

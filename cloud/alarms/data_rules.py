"""Data alarms (issue 8): data stopped (数据停报), consecutive zeros (连续报零), spike values
(冒大数) and sudden volume change (水量突变), with the settings of ``cloud/alarms/config.py``.

The three per-poll rules are callables like those of ``rules.py`` (one poll in, Conditions out)
but remember a little per (station, point) across batches: the length of a run of zeros, the
previous totaliser value, the day volumes. That memory is the engine's, in this process only:
after a restart a run of zeros is counted again from the next report, the first totaliser step
is not judged, and the volume baseline is rebuilt over the following days. A poll sampled before
the last one seen for its point (a backlog arriving late) is ignored by them, so state never
goes backwards.

Data stopped cannot be a per-poll rule (it is about polls that do not come): the engine checks
it on a timer with :func:`stopped_conditions`, from each station's last sample time and its
registry entry (interval, service dates, maintenance windows).
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from watertel.cloud.alarms.config import AlarmsConfig
from watertel.cloud.alarms.messages import num
from watertel.cloud.alarms.rules import Condition
from watertel.cloud.registry import Station, to_ms
from watertel.readings import Quality, Reading

COUNTER_JUMPS = {Quality.TOTAL_ROLLOVER, Quality.TOTAL_RESET}  # the step from the previous value is not volume


def local_time(t_ms: int, tz: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(t_ms / 1000, tz).isoformat(timespec="seconds")


TRUSTED = frozenset(q for q in Quality if q.trusted_value)


def usable(r: Reading) -> bool:
    return r.quality in TRUSTED and math.isfinite(r.value)


class PerStation:
    """A rule's settings per station (or metered area), looked up once (rules run on every poll)."""

    section = ""

    def __init__(self, cfg: AlarmsConfig, tz: ZoneInfo) -> None:
        self.cfg, self.tz = cfg, tz
        self._settings: dict[str, Any] = {}

    def settings(self, station: str) -> Any:
        found = self._settings.get(station)
        if found is None:
            found = self._settings[station] = getattr(self.cfg.for_station(station), self.section)
        return found

    @staticmethod
    def fresh(poll: list[Reading], points: Iterable[str], series: dict,
              new: Callable[[int], Any]) -> Iterator[tuple[Reading, Any]]:
        """Each trusted reading of ``points`` newer than the last one seen of its (station, point),
        with that series' state (``new(t_ms - 1)`` the first time): a late or repeated sample is
        not counted twice. The state needs a ``last_t``."""
        for r in poll:
            if r.point not in points or not usable(r):
                continue
            state = series.get((r.station, r.point))
            if state is None:
                state = series[(r.station, r.point)] = new(r.t_ms - 1)
            if r.t_ms <= state.last_t:
                continue
            state.last_t = r.t_ms
            yield r, state


# --- data stopped (periodic) -----------------------------------------------------------------
def service_start(st: Station, now: int, tz: ZoneInfo) -> int | None:
    """Start of the station's uninterrupted service span containing ``now`` (commissioning or the
    end of the latest maintenance window), or None when it is not in service at ``now``."""
    start = to_ms(st.commissioned, tz)
    if now < start or (st.decommissioned is not None and now >= to_ms(st.decommissioned, tz)):
        return None
    for window in st.maintenance:
        a, b = window.bounds_ms(tz)
        if a <= now < b:
            return None
        if b <= now:
            start = max(start, b)
    return start


def stopped_conditions(stations: list[Station], last: dict[str, int], now: int, cfg: AlarmsConfig,
                       tz: ZoneInfo) -> list[Condition]:
    """One ``data_stopped`` condition per station in service at ``now`` (point ``*``).

    Active when nothing was sampled for more than N intervals (``data_stopped.intervals``) counted
    from the last sample, or from the start of the current service span when that is later (a
    station just back from maintenance, or one that never reported, gets its N intervals). The
    same rule clears it, so an alarm does not flap while a backlog arrives. Stations out of
    service or in a maintenance window are not judged: an open alarm stays until data comes.
    """
    found = []
    for st in stations:
        rule = cfg.for_station(st.id).data_stopped
        if not rule.enabled:
            continue
        start, seen = service_start(st, now, tz), last.get(st.id)
        if start is None:  # not expected to report now; data that does come still clears an open alarm
            if seen is not None and now - seen <= rule.intervals * st.interval_ms:
                found.append(Condition(st.id, "*", "data_stopped", "orange", False, "reporting"))
            continue
        ref = start if seen is None else max(seen, start)
        active = now - ref > rule.intervals * st.interval_ms
        interval_s = st.interval_ms / 1000
        if not active:
            message, code, params = "reporting", "", {}
        elif seen is None or seen < start:
            message = (f"no data since {local_time(start, tz)} (start of service"
                       f"{'' if seen is None else f'; last sample {local_time(seen, tz)}'}),"
                       f" expected every {st.interval_text}")
            code, params = ("data_stopped.never", {"start_ms": start, "interval_s": interval_s}) if seen is None else (
                "data_stopped.since_start", {"start_ms": start, "last_ms": seen, "interval_s": interval_s})
        else:
            missed = (now - seen) // st.interval_ms
            message = (f"no data since {local_time(seen, tz)} (last sample), expected every"
                       f" {st.interval_text}, {missed} intervals missed")
            code, params = "data_stopped", {"last_ms": seen, "interval_s": interval_s, "missed": missed}
        found.append(Condition(st.id, "*", "data_stopped", "orange", active, message, code, params))
    return found


# --- consecutive zeros -------------------------------------------------------------------------
@dataclass
class _ZeroRun:
    last_t: int
    count: int = 0
    since: int | None = None


class ConsecutiveZeros(PerStation):
    """``consecutive_zeros`` (yellow) on a flow point once N reports in a row were |v| <= epsilon;
    cleared by the next non-zero report. A failed read (timeout, fault) neither counts nor breaks
    the run; zeros short of N say nothing (so an alarm still open from before a restart is not
    cleared by them)."""

    section = "consecutive_zeros"

    def __init__(self, cfg: AlarmsConfig, tz: ZoneInfo) -> None:
        super().__init__(cfg, tz)
        self.runs: dict[tuple[str, str], _ZeroRun] = {}

    def __call__(self, poll: list[Reading]) -> list[Condition]:
        rule = self.settings(poll[0].station)
        if not rule.enabled:
            return []
        found = []
        for r, run in self.fresh(poll, rule.points, self.runs, _ZeroRun):
            if abs(r.value) > rule.epsilon:
                run.count, run.since = 0, None
                found.append(Condition(r.station, r.point, "consecutive_zeros", "yellow", False,
                                       f"{r.point} {r.value:.6g} {r.unit}"))
                continue
            run.count += 1
            run.since = run.since if run.since is not None else r.t_ms
            if run.count >= rule.reports:
                found.append(Condition(r.station, r.point, "consecutive_zeros", "yellow", True,
                                       f"{r.point} reported zero {rule.reports} times in a row"
                                       f" since {local_time(run.since, self.tz)}", "consecutive_zeros",
                                       {"point": r.point, "reports": rule.reports, "since_ms": run.since}))
        return found


# --- spike values ------------------------------------------------------------------------------
class Spike(PerStation):
    """``spike`` (orange): a flow above ``max_flow`` or flagged out of range by the gateway with a
    positive value (flow ranges start at 0, so that is above the meter's range), or a totaliser
    step larger than ``max_flow`` × elapsed hours × ``jump_factor``. Cleared by the next plausible
    value of that point. Totaliser steps are judged only with ``max_flow`` set, and not across a
    rollover or reset (the gateway flags those)."""

    section = "spike"

    def __init__(self, cfg: AlarmsConfig, tz: ZoneInfo) -> None:
        super().__init__(cfg, tz)
        self.totals: dict[tuple[str, str], tuple[int, float]] = {}  # (station, point) -> (t_ms, value)

    def __call__(self, poll: list[Reading]) -> list[Condition]:
        rule = self.settings(poll[0].station)
        if not rule.enabled:
            return []
        found = []
        for r in poll:
            if r.point in rule.flow_points:
                found += self._flow(r, rule.max_flow)
            elif r.point in rule.total_points and usable(r):
                found += self._total(r, rule.max_flow, rule.jump_factor)
        return found

    @staticmethod
    def _flow(r: Reading, max_flow: float | None) -> list[Condition]:
        if r.quality is Quality.OUT_OF_RANGE and math.isfinite(r.value) and r.value > 0:
            return [Condition(r.station, r.point, "spike", "orange", True,
                              f"{r.point} {r.value:.6g} {r.unit} above the meter's range (flagged by the gateway)",
                              "spike.out_of_range", {"point": r.point, "value": num(r.value), "unit": r.unit})]
        if not usable(r):
            return []
        high = max_flow is not None and r.value > max_flow
        return [Condition(r.station, r.point, "spike", "orange", high,
                          f"{r.point} {r.value:.6g} {r.unit} above max_flow {max_flow:g}" if high
                          else f"{r.point} {r.value:.6g} {r.unit}",
                          "spike.above_max" if high else "",
                          {"point": r.point, "value": num(r.value), "unit": r.unit, "limit": max_flow} if high else {})]

    def _total(self, r: Reading, max_flow: float | None, factor: float) -> list[Condition]:
        key = (r.station, r.point)
        prev = self.totals.get(key)
        if prev is not None and r.t_ms <= prev[0]:
            return []
        self.totals[key] = (r.t_ms, r.value)
        if prev is None or max_flow is None or r.quality in COUNTER_JUMPS:
            return []
        hours = (r.t_ms - prev[0]) / 3_600_000
        step, allowed = r.value - prev[1], max_flow * hours * factor
        jump = step > allowed
        return [Condition(r.station, r.point, "spike", "orange", jump,
                          f"{r.point} jumped {step:.6g} {r.unit} to {r.value:.6g} in {hours * 60:.3g} min"
                          f" (more than {allowed:.6g} = max_flow {max_flow:g} x {hours:.3g} h x {factor:g})"
                          if jump else f"{r.point} {r.value:.6g} {r.unit}", "spike.jump" if jump else "",
                          {"point": r.point, "step": num(step), "value": num(r.value), "unit": r.unit,
                           "elapsed_s": num(hours * 3600), "allowed": num(allowed)} if jump else {})]


# --- sudden volume change ----------------------------------------------------------------------
@dataclass
class _Days:
    last_t: int
    last_value: float
    day: dt.date
    volume: float = 0.0
    whole: bool = False  # seen from the day before (no restart, gap of days, rollover or reset in it)
    history: deque[float] = field(default_factory=deque)


class VolumeChange(PerStation):
    """``volume_change`` (yellow): a local day's volume (sum of the totaliser's steps sampled that
    day) is judged when the first report of a later day arrives, against the median of the last
    ``baseline_days`` whole days; cleared by the next day judged within bounds. Days not seen
    whole (the first after a restart, after a gap of days, with a rollover or reset) are neither
    judged nor kept in the baseline."""

    section = "volume_change"

    def __init__(self, cfg: AlarmsConfig, tz: ZoneInfo) -> None:
        super().__init__(cfg, tz)
        self.days: dict[tuple[str, str], _Days] = {}

    def __call__(self, poll: list[Reading]) -> list[Condition]:
        rule = self.settings(poll[0].station)
        if not rule.enabled:
            return []
        found = []
        for r in poll:
            if r.point not in rule.total_points or not usable(r):
                continue
            day = dt.datetime.fromtimestamp(r.t_ms / 1000, self.tz).date()
            state = self.days.get((r.station, r.point))
            if state is None:
                self.days[(r.station, r.point)] = _Days(r.t_ms, r.value, day)
                continue
            if r.t_ms <= state.last_t:
                continue
            if day != state.day:
                if state.whole:
                    found += self._judge(r, state, rule)
                    state.history.append(state.volume)
                    while len(state.history) > rule.baseline_days:
                        state.history.popleft()
                state.whole = day - state.day == dt.timedelta(days=1)
                state.day, state.volume = day, 0.0
            if r.quality in COUNTER_JUMPS:
                state.whole = False
            else:
                state.volume += r.value - state.last_value
            state.last_t, state.last_value = r.t_ms, r.value
        return found

    def _judge(self, r: Reading, state: _Days, rule) -> list[Condition]:
        if len(state.history) < rule.min_days:
            return []
        median = statistics.median(state.history)
        if median < rule.min_volume:
            return []
        deviation = (state.volume - median) / median
        active = abs(deviation) > rule.max_deviation
        return [Condition(r.station, r.point, "volume_change", "yellow", active,
                          f"day volume {state.volume:.6g} m3 on {state.day.isoformat()} is {deviation:+.0%}"
                          f" from the median {median:.6g} m3 of the {len(state.history)} days before",
                          "volume_change", {"volume": num(state.volume), "unit": "m3", "day": state.day.isoformat(),
                                            "change_share": num(deviation), "median": num(median),
                                            "days": len(state.history)})]

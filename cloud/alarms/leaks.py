"""Leak alarms (漏损, issue 8): minimum night flow over its baseline, the mass balance of a metered
area, and bursts (a pressure drop with a flow rise).

Settings, in the ``alarms:`` section (defaults shown; ``overrides`` changes any key per station,
and per area id for ``mass_balance``)::

    alarms:
      night_flow: {start: "02:00", end: "04:00", average_minutes: 15, baseline_nights: 14,
                   min_nights: 5, k: 2.0, min_rise: 0.08, nights: 1, jump: 0.25}
      mass_balance: {window_minutes: 60, sustain_minutes: 60, max_loss_share: 0.08, clear_share: 0.04,
                     min_loss: 0.0}
      burst: {window_minutes: 20, confirm_minutes: 3, flow_rise: 0.10, pressure_drop: 0.015,
              significance: 3.0}
      areas:                       # metered areas (DMAs, pump houses) for the mass balance
        - {id: DMA-1, inlets: [ST-1], outlets: [ST-2], consumers: [C-1, C-2]}
      overrides:
        ST-1: {night_flow: {k: 4}}
        DMA-1: {mass_balance: {max_loss_share: 0.15}}

Like the rules of ``data_rules.py`` these remember per station across batches, in this process
only (after a restart a baseline is rebuilt over the following nights), and ignore a sample older
than the last one seen for its point (a late backlog). Their settings are in ``leak_config.py``.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import deque
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from watertel.cloud.alarms.config import AlarmsConfig
from watertel.cloud.alarms.data_rules import PerStation, usable
from watertel.cloud.alarms.leak_config import MIN_MS, MassBalanceRule, NightFlowRule
from watertel.cloud.alarms.messages import num
from watertel.cloud.alarms.rules import Condition
from watertel.readings import Reading


# --- minimum night flow ------------------------------------------------------------------------
@dataclass
class _Night:
    last_t: int
    start: int = 0  # the current or next night window, Unix ms
    end: int = 0
    buckets: dict[int, list[float]] = field(default_factory=dict)  # index -> [sum, count]
    history: deque[float] = field(default_factory=deque)
    above: int = 0  # consecutive nights above the threshold
    raised: bool = False


class NightFlow(PerStation):
    """``night_flow`` (orange), judged when the first sample after a night window arrives.

    Nights judged above the threshold are kept out of the baseline, so an unrepaired leak stays
    raised instead of becoming the new normal; the alarm clears on the first night back under it.
    """

    section = "night_flow"

    def __init__(self, cfg: AlarmsConfig, tz: ZoneInfo) -> None:
        super().__init__(cfg, tz)
        self.nights: dict[tuple[str, str], _Night] = {}

    def _window(self, t_ms: int, rule: NightFlowRule) -> tuple[int, int]:
        """The first night window (local times) that ends after ``t_ms``."""
        day = dt.datetime.fromtimestamp(t_ms / 1000, self.tz).date()
        for d in (day - dt.timedelta(days=1), day, day + dt.timedelta(days=1)):
            start = dt.datetime.combine(d, rule.start, self.tz)
            end = dt.datetime.combine(d if rule.end > rule.start else d + dt.timedelta(days=1), rule.end, self.tz)
            if end.timestamp() * 1000 > t_ms:
                return int(start.timestamp() * 1000), int(end.timestamp() * 1000)
        raise AssertionError("unreachable: a window ends within two days")

    def __call__(self, poll: list[Reading]) -> list[Condition]:
        rule = self.settings(poll[0].station)
        if not rule.enabled:
            return []
        found = []
        for r, night in self.fresh(poll, rule.points, self.nights, _Night):
            if r.t_ms >= night.end:
                if night.buckets:
                    found += self._judge(r, night, rule)
                night.buckets = {}
                night.start, night.end = self._window(r.t_ms, rule)
            if r.t_ms >= night.start:
                bucket = night.buckets.setdefault((r.t_ms - night.start) // (rule.average_minutes * MIN_MS), [0.0, 0])
                bucket[0] += r.value
                bucket[1] += 1
        return found

    def _judge(self, r: Reading, night: _Night, rule: NightFlowRule) -> list[Condition]:
        if sum(n for _, n in night.buckets.values()) < rule.min_samples:
            return []
        mnf = min(s / n for s, n in night.buckets.values())
        history = night.history
        if len(history) < rule.min_nights:
            history.append(mnf)
            return []
        median = statistics.median(history)
        mad = statistics.median(abs(x - median) for x in history)
        threshold = median + max(rule.k * 1.4826 * mad, rule.min_rise * abs(median))
        above = mnf > threshold
        night.above = night.above + 1 if above else 0
        jump = rule.jump is not None and mnf >= median * (1 + rule.jump) and median > 0
        night.raised = above and (night.raised or night.above >= rule.nights or jump)
        if not above:
            history.append(mnf)
            while len(history) > rule.baseline_nights:
                history.popleft()
        day = dt.datetime.fromtimestamp(night.start / 1000, self.tz).date().isoformat()
        rise = f"{(mnf - median) / median:+.0%}" if median > 0 else f"{mnf - median:+.3g} {r.unit}"
        return [Condition(r.station, r.point, "night_flow", "orange", night.raised,
                          f"minimum night flow {mnf:.4g} {r.unit} on the night of {day}"
                          f" ({rule.start:%H:%M}-{rule.end:%H:%M}) is {rise} against the median {median:.4g}"
                          f" of the {len(history)} nights before (threshold {threshold:.4g})", "night_flow",
                          {"point": r.point, "flow": num(mnf), "unit": r.unit, "day": day,
                           "window": f"{rule.start:%H:%M}-{rule.end:%H:%M}", "median": num(median),
                           "threshold": num(threshold), "nights": len(history)})]


# --- mass balance of an area -------------------------------------------------------------------
ROLES = {"inlets": 1.0, "outlets": -1.0, "consumers": -1.0}


@dataclass
class _Member:
    sign: float
    samples: deque[tuple[int, float]] = field(default_factory=deque)
    total: float = 0.0  # sum of the samples' values (kept, not summed per judgement)
    last_t: int = -1


@dataclass
class _Area:
    id: str
    members: dict[str, _Member]
    judged_t: int = -1  # the watermark last judged
    since: int | None = None  # when the balance crossed to the other side of the threshold
    raised: bool = False


class MassBalance(PerStation):
    """``mass_balance`` (orange) per area (the alarm's station is the area id, point ``*``).

    Members report at their own times and in their own batches, so the area is judged at its
    watermark: the oldest of its members' newest sample times, up to which every member is known.
    Each member's flow is the mean of its samples in the window ending there; a member with no
    sample in the window (stopped, or a backlog not yet in) leaves the area unjudged, since a
    missing meter is not a leak (``data_stopped`` reports it).
    """

    section = "mass_balance"

    def __init__(self, cfg: AlarmsConfig, tz: ZoneInfo) -> None:
        super().__init__(cfg, tz)
        self.areas: dict[str, list[tuple[_Area, _Member]]] = {}  # station -> its places in areas
        for a in cfg.areas:
            area = _Area(a.id, {s: _Member(ROLES[role]) for role in ROLES for s in getattr(a, role)})
            for station, member in area.members.items():
                self.areas.setdefault(station, []).append((area, member))

    def __call__(self, poll: list[Reading]) -> list[Condition]:
        places = self.areas.get(poll[0].station)
        if not places:
            return []
        found = []
        for area, member in places:
            rule = self.settings(area.id)
            if not rule.enabled:
                continue
            for r in poll:
                if r.point in rule.flow_points and usable(r) and r.t_ms > member.last_t:
                    member.samples.append((r.t_ms, r.value))
                    member.total += r.value
                    member.last_t = r.t_ms
            found += self._judge(area, rule)
        return found

    def _judge(self, area: _Area, rule: MassBalanceRule) -> list[Condition]:
        mark = min(m.last_t for m in area.members.values())
        if mark <= area.judged_t:
            return []
        area.judged_t = mark
        inflow = loss = 0.0
        for m in area.members.values():
            samples = m.samples
            while samples and samples[0][0] <= mark - rule.window_minutes * MIN_MS:
                m.total = m.total - samples.popleft()[1] if len(samples) > 1 else 0.0
            total, n = m.total, len(samples)
            for t, v in reversed(samples):  # ahead of the watermark: usually none
                if t <= mark:
                    break
                total, n = total - v, n - 1
            if n == 0:
                return []
            mean = total / n
            loss += m.sign * mean
            inflow += mean if m.sign > 0 else 0.0
        limit = max((rule.clear_share if area.raised else rule.max_loss_share) * inflow, rule.min_loss)
        if (loss > limit) != area.raised:
            area.since = mark if area.since is None else area.since
            if mark - area.since >= rule.sustain_minutes * MIN_MS:
                area.raised, area.since = not area.raised, None
        else:
            area.since = None
        share = f"{loss / inflow:.1%} of the inflow" if inflow > 0 else "no inflow"
        return [Condition(area.id, "*", "mass_balance", "orange", area.raised,
                          f"area {area.id}: inflow {inflow:.4g} m3/h, unaccounted {loss:.4g} m3/h ({share}),"
                          f" limit {limit:.4g} m3/h, over the {rule.window_minutes} min before"
                          f" {dt.datetime.fromtimestamp(mark / 1000, self.tz):%Y-%m-%d %H:%M}", "mass_balance",
                          {"area": area.id, "inflow": num(inflow), "loss": num(loss), "limit": num(limit), "unit": "m3/h",
                           "window_s": rule.window_minutes * 60, "until_ms": mark})]


# --- burst -------------------------------------------------------------------------------------
def _beyond(ref: list[tuple[int, float, float]], now: list[tuple[int, float, float]]) -> list[tuple[float, float]]:
    """For flow and pressure: the line fitted through ``ref`` at the mean time of ``now``, and the
    standard error of the mean of ``now`` around it (from the line's own residuals, so noise, or
    a step already inside ``ref``, makes a difference count for less). One pass of sums: this
    runs on every poll of every station."""
    t0 = ref[0][0]
    n = st = stt = sf = stf = sff = sp = stp = spp = 0.0
    for t, f, p in ref:
        t = (t - t0) / MIN_MS
        n += 1
        st += t
        stt += t * t
        sf += f
        stf += t * f
        sff += f * f
        sp += p
        stp += t * p
        spp += p * p
    at = (sum(s[0] for s in now) / len(now) - t0) / MIN_MS
    tm = st / n
    var = stt - st * tm
    spread = 1 / len(now) + 1 / n + ((at - tm) ** 2 / var if var > 1e-12 else 0.0)
    out = []
    for sy, sty, syy in ((sf, stf, sff), (sp, stp, spp)):
        mean = sy / n
        cov = sty - st * mean
        slope = cov / var if var > 1e-12 else 0.0
        sse = max(0.0, syy - sy * mean - slope * cov)
        out.append((mean + slope * (at - tm), math.sqrt(sse / (n - 2) * spread) if n > 2 else 0.0))
    return out


class Burst(PerStation):
    """``burst`` (red): a station's flow steps up while its pressure steps down (a main bursting).

    Demand moves both the same way (more flow, more headloss), but smoothly: the trend of the
    window's first part, extended to now, takes a morning rise out, while a burst is a step
    within a sample or two. Needs both points in the station's polls. Cleared by the reverse
    step: flow down and pressure up by the same shares (the main isolated or repaired).
    """

    section = "burst"

    def __init__(self, cfg: AlarmsConfig, tz: ZoneInfo) -> None:
        super().__init__(cfg, tz)
        self.recent: dict[str, deque[tuple[int, float, float]]] = {}

    def __call__(self, poll: list[Reading]) -> list[Condition]:
        rule = self.settings(poll[0].station)
        if not rule.enabled:
            return []
        flow = pressure = None
        for r in poll:
            if r.point == rule.flow_point and usable(r):
                flow = r
            elif r.point == rule.pressure_point and usable(r):
                pressure = r
        if flow is None or pressure is None:
            return []
        station, t = flow.station, flow.t_ms
        recent = self.recent.setdefault(station, deque())
        if recent and t <= recent[-1][0]:
            return []
        recent.append((t, flow.value, pressure.value))
        while recent[0][0] <= t - rule.window_minutes * MIN_MS:
            recent.popleft()
        split = t - rule.confirm_minutes * MIN_MS
        ref = [s for s in recent if s[0] <= split]
        now = [s for s in recent if s[0] > split]
        if len(ref) < 3:  # a line through two samples has no residuals to judge noise by
            return []
        (f0, fse), (p0, pse) = _beyond(ref, now)
        f1, p1 = sum(s[1] for s in now) / len(now), sum(s[2] for s in now) / len(now)
        if f0 < rule.min_flow or p0 <= 0:
            return []
        rise, drop = (f1 - f0) / f0, (p0 - p1) / p0
        z = rule.significance
        if abs(f1 - f0) < z * fse or abs(p1 - p0) < z * pse:
            return []
        if rise >= rule.flow_rise and drop >= rule.pressure_drop:  # said again while open: the engine keeps one
            return [Condition(station, "*", "burst", "red", True,
                              f"burst? {flow.point} up {rise:.0%} ({f0:.4g} to {f1:.4g} {flow.unit}) and"
                              f" {pressure.point} down {drop:.1%} ({p0:.4g} to {p1:.4g} {pressure.unit})"
                              f" against the trend of the {rule.window_minutes} min before", "burst",
                              {"flow_point": flow.point, "flow_before": num(f0), "flow_after": num(f1),
                               "flow_unit": flow.unit, "rise_share": num(rise), "pressure_point": pressure.point,
                               "pressure_before": num(p0), "pressure_after": num(p1), "pressure_unit": pressure.unit,
                               "drop_share": num(drop), "window_s": rule.window_minutes * 60})]
        if -rise >= rule.flow_rise / (1 + rule.flow_rise) and -drop >= rule.pressure_drop:
            return [Condition(station, "*", "burst", "red", False,
                              f"{flow.point} back down {-rise:.0%} and {pressure.point} up {-drop:.1%}")]
        return []

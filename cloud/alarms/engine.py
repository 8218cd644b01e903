"""Apply the rules to newly stored readings and keep one open alarm per condition."""

from __future__ import annotations

import logging
import time
from itertools import groupby
from typing import Callable, Iterable
from zoneinfo import ZoneInfo

from watertel.cloud.alarms.config import AlarmsConfig
from watertel.cloud.alarms.data_rules import ConsecutiveZeros, Spike, VolumeChange, stopped_conditions
from watertel.cloud.alarms.leaks import Burst, MassBalance, NightFlow
from watertel.cloud.alarms.lifecycle import LifecycleConfig, Maintenance
from watertel.cloud.alarms.over_permit import check_permits
from watertel.cloud.alarms.rules import RULES, Condition
from watertel.cloud.alarms.water_quality import WaterQuality
from watertel.cloud.registry import Registry
from watertel.cloud.store import SqlStore
from watertel.readings import Reading

log = logging.getLogger("watertel.cloud.alarms")
FUTURE_MS = 300_000  # a sample time up to this far ahead of the cloud's clock still counts as a last sample


class AlarmEngine:
    """The rules of ``rules.py``, ``data_rules.py`` and ``water_quality.py`` over each poll, and the
    data-stopped check.

    Args:
        store: where alarms open and close.
        cfg: the ``alarms:`` section (defaults when omitted).
        registry: the station registry; without it ``data_stopped`` is not checked (the
            expected intervals are unknown).
        tz: the local time zone of alarm messages and of volume days (the rates' calendar).
        clock: seconds since the epoch, ``time.time`` unless a test controls it.
        lifecycle: flapping protection (``lifecycle.flapping``); a station's alarms raised in
            one of its registry maintenance windows are kept but suppressed (never notified).
    """

    def __init__(self, store: SqlStore, cfg: AlarmsConfig | None = None, registry: Registry | None = None,
                 tz: ZoneInfo | None = None, clock: Callable[[], float] = time.time,
                 lifecycle: LifecycleConfig | None = None) -> None:
        self.store, self.clock = store, clock
        self.cfg = cfg or AlarmsConfig()
        self.registry = registry
        self.tz = tz or ZoneInfo("Asia/Shanghai")
        self.flapping = (lifecycle or LifecycleConfig()).flap_limit()
        self.in_maintenance = Maintenance(registry, self.tz)
        self.rules = (*RULES, ConsecutiveZeros(self.cfg, self.tz), Spike(self.cfg, self.tz),
                      VolumeChange(self.cfg, self.tz), WaterQuality(self.cfg, self.tz),
                      NightFlow(self.cfg, self.tz), MassBalance(self.cfg, self.tz), Burst(self.cfg, self.tz))
        self.last_sample: dict[str, int] = {}  # per station, newest sample time seen (data stopped)
        self._seeded = False  # last_sample completed from the store once
        self._calming: set[tuple[str, str, str]] = set()  # flapping alarms held raised while their condition is away

    def _apply(self, conditions: Iterable[Condition], t_ms: int, open_now: set[tuple[str, str, str]]) -> int:
        """Open or close alarms whose condition changed (``open_now`` is kept current); return raised."""
        raised = 0
        for c in conditions:
            key = (c.station, c.point, c.type)
            if c.active and key in self._calming:  # a flapping alarm held raised: its condition is back
                self._calming.discard(key)
                self.store.raise_alarm(c.station, c.point, c.type, c.severity, c.message, t_ms, code=c.code, params=c.params)
            elif c.active and key not in open_now:
                open_now.add(key)
                if self.store.raise_alarm(c.station, c.point, c.type, c.severity, c.message, t_ms,
                                          suppressed=self.in_maintenance(c.station, t_ms), code=c.code, params=c.params):
                    raised += 1
                    log.info("alarm raised: %s %s/%s: %s", c.type, c.station, c.point, c.message)
            elif not c.active and key in open_now:
                open_now.discard(key)
                if self.store.clear_alarm(c.station, c.point, c.type, t_ms, self.flapping):
                    log.info("alarm cleared: %s %s/%s", c.type, c.station, c.point)
        return raised

    def _open(self) -> set[tuple[str, str, str]]:
        rows = self.store.alarms(open_only=True)
        self._calming = {(a["station"], a["point"], a["type"]) for a in rows if a["calm_since_ms"] is not None}
        return {(a["station"], a["point"], a["type"]) for a in rows}

    def on_readings(self, readings: tuple[Reading, ...] | list[Reading]) -> int:
        """Evaluate each poll (station + sample time) in time order; return alarms raised.

        The store is written only when an alarm opens or closes: the open alarms are read once
        per call and followed in memory, since most polls confirm what is already known. A
        station with an open ``data_stopped`` alarm has it cleared as soon as its newest sample
        is recent again (by the rule that raised it).
        """
        raised = 0
        open_now = self._open()
        now = int(self.clock() * 1000)
        ordered = sorted(readings, key=lambda r: (r.station, r.t_ms))
        for (station, t_ms), poll in groupby(ordered, key=lambda r: (r.station, r.t_ms)):
            poll = list(poll)
            if t_ms <= now + FUTURE_MS and t_ms > self.last_sample.get(station, t_ms - 1):
                self.last_sample[station] = t_ms
            for rule in self.rules:
                raised += self._apply(rule(poll), t_ms, open_now)
        back = {s for s, _, t in open_now if t == "data_stopped"} & {r.station for r in readings}
        if back and self.registry is not None:
            stations = [st for st in self.registry.stations if st.id in back]
            self._apply([c for c in stopped_conditions(stations, self.last_sample, now, self.cfg, self.tz)
                         if not c.active], now, open_now)
        return raised

    def check_data_stopped(self, now_ms: int | None = None) -> list[str]:
        """Raise ``data_stopped`` for registry stations silent for N intervals, clear it for those
        reporting again; return the stations stopped now. Called on a timer by the service.

        Last sample times are followed in memory from the readings this engine sees, read from
        the store on the first call, and read again before any new alarm is raised (another
        ingest worker may have stored the station's data).
        """
        if self.registry is None:
            return []
        now = int(self.clock() * 1000) if now_ms is None else now_ms
        if not self._seeded:
            self._merge_last(self.store.last_samples(now + FUTURE_MS))
            self._seeded = True
        open_now = self._open()
        found = stopped_conditions(self.registry.stations, self.last_sample, now, self.cfg, self.tz)
        if any(c.active and (c.station, c.point, c.type) not in open_now for c in found):
            self._merge_last(self.store.last_samples(now + FUTURE_MS))
            found = stopped_conditions(self.registry.stations, self.last_sample, now, self.cfg, self.tz)
        self._apply(found, now, open_now)
        return [c.station for c in found if c.active]

    def check_permits(self, now_ms: int | None = None) -> list:
        """Over-permit, over-plan and projected exceedance for the registry's permits (raised,
        escalated or cleared); return their statuses. Called on a timer by the service
        (``alarms.permits_every_s``): each call reads the permit years' counter readings."""
        if self.registry is None or not self.registry.permits:
            return []
        now = int(self.clock() * 1000) if now_ms is None else now_ms
        return check_permits(self.store, self.registry.permits, self.cfg, self.tz, now)

    def _merge_last(self, samples: dict[str, int]) -> None:
        for station, t_ms in samples.items():
            self.last_sample[station] = max(t_ms, self.last_sample.get(station, t_ms))

    def check_chain_gaps(self, grace_s: float) -> dict[str, list[int]]:
        """Raise ``chain_gap`` for envelopes still missing ``grace_s`` after a later one arrived
        (a gateway sends its newest batch ahead of a backlog: a hole is normal for a while), and
        clear it once the hole is filled."""
        now = int(time.time() * 1000)
        gaps = self.store.chain_gaps(now - int(grace_s * 1000))
        for gateway_id, missing in gaps.items():
            shown = ", ".join(map(str, missing[:5])) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            self.on_security_event(gateway_id, "chain_gap", f"envelopes missing before: {shown}", now,
                                   code="chain_gap", params={"missing": missing[:5], "count": len(missing)})
        for alarm in self.store.alarms(open_only=True):
            if alarm["type"] == "chain_gap" and alarm["station"] not in gaps:
                self.store.clear_alarm(alarm["station"], "*", "chain_gap", now)
                log.info("alarm cleared: chain_gap gateway %s", alarm["station"])
        return gaps

    def on_device_event(self, gateway_id: str, type_: str, message: str, t_ms: int, *, code: str = "",
                        params: dict | None = None) -> None:
        """A gateway's own condition (offline): one open alarm until it recovers; ``code`` and
        ``params``: the message as data (cloud/alarms/messages.py)."""
        if self.store.raise_alarm(gateway_id, "*", type_, "orange", message, t_ms, code=code, params=params):
            log.warning("alarm raised: %s gateway %s: %s", type_, gateway_id, message)

    def clear_device_event(self, gateway_id: str, type_: str, t_ms: int) -> None:
        if self.store.clear_alarm(gateway_id, "*", type_, t_ms):
            log.info("alarm cleared: %s gateway %s", type_, gateway_id)

    def on_security_event(self, gateway_id: str, type_: str, message: str, t_ms: int, *, code: str = "",
                          params: dict | None = None) -> None:
        """Refused envelopes and chain gaps: raised once per gateway until an operator closes it."""
        if self.store.raise_alarm(gateway_id, "*", type_, "red" if type_ != "chain_gap" else "yellow", message, t_ms,
                                  code=code, params=params):
            log.warning("alarm raised: %s gateway %s: %s", type_, gateway_id, message)

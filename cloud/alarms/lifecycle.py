"""The alarm lifecycle's timers and settings: escalation, flapping, maintenance, work orders.

The ``lifecycle:`` section of the cloud config, with the operators' usual response targets as
defaults::

    lifecycle:
      ack_within_min: {red: 30, orange: 30, yellow: 30, blue: null}  # null: never escalates
      max_level: 2                  # contact levels above the first (notifications.routes[].level)
      flapping: {max_raises: 5, window_min: 60}
      work_orders:
        auto_for: [data_stopped]    # opened by the system when such an alarm is raised
        due_hours: {data_stopped: 72, serious: 12, ordinary: 4}
        serious: [red, orange]      # severities whose faults count as serious
        photos: {max_kb: 5120, per_order: 12}  # what a crew may attach to one work order

``Lifecycle.tick`` runs on a timer in the service: escalates raised alarms nobody acknowledged,
clears flapping alarms that stayed calm, opens the automatic work orders and notes overdue ones
(and, once an hour, forgets idempotency keys older than their 30 days). Each step writes the
alarm's history, which the notifier (cloud/notify) follows.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from zoneinfo import ZoneInfo

from pydantic import Field

from watertel.cloud.store.handling import HandlingError
from watertel.cloud.store.idempotency import KEEP_DAYS
from watertel.config import Strict

log = logging.getLogger("watertel.cloud.lifecycle")
MIN_MS = 60_000


class Severity(str, Enum):
    """The four alarm colours, most urgent first."""

    RED = "red"
    ORANGE = "orange"
    YELLOW = "yellow"
    BLUE = "blue"


ACK_WITHIN_MIN = {Severity.RED: 30.0, Severity.ORANGE: 30.0, Severity.YELLOW: 30.0, Severity.BLUE: None}
DUE_HOURS = {"data_stopped": 72.0, "serious": 12.0, "ordinary": 4.0}  # DOMAIN.md's response targets


class FlappingConfig(Strict):
    """An alarm raised more than ``max_raises`` times within ``window_min`` is held raised and
    marked flapping until its condition stays away for ``window_min``."""

    enabled: bool = True
    max_raises: int = Field(5, ge=1)
    window_min: float = Field(60.0, gt=0)


class PhotoLimits(Strict):
    """What a crew may attach to a work order: JPEG or PNG (checked by their bytes), each at most
    ``max_kb``, at most ``per_order`` per order. The crew page shrinks a phone's photo to about
    1,600 px before sending it (a few hundred kB), so the limit is for what arrives otherwise."""

    max_kb: int = Field(5120, ge=16, le=50 * 1024)
    per_order: int = Field(12, ge=1, le=100)


class WorkOrdersConfig(Strict):
    auto_for: list[str] = ["data_stopped"]  # alarm types that open a work order by themselves
    due_hours: dict[str, float] = {}  # by alarm type, or serious/ordinary; unnamed keys keep DUE_HOURS
    serious: list[Severity] = [Severity.RED, Severity.ORANGE]
    photos: PhotoLimits = PhotoLimits()

    def due_hours_for(self, alarm: dict) -> float:
        """The hours a work order for this alarm gets: by its type, else by its severity."""
        due = {**DUE_HOURS, **self.due_hours}
        hours = due.get(alarm["type"])
        if hours is None:
            hours = due["serious" if alarm["severity"] in {s.value for s in self.serious} else "ordinary"]
        return hours

    def due_ms(self, alarm: dict, now_ms: int) -> int:
        """When a work order for this alarm made now must be done (``due_hours_for``)."""
        return now_ms + int(self.due_hours_for(alarm) * 3_600_000)


class LifecycleConfig(Strict):
    """Severities not named in ``ack_within_min`` keep their default (null: never escalates)."""

    ack_within_min: dict[Severity, float | None] = ACK_WITHIN_MIN
    max_level: int = Field(2, ge=0)
    check_every_s: float = Field(30.0, gt=0)
    flapping: FlappingConfig = FlappingConfig()
    work_orders: WorkOrdersConfig = WorkOrdersConfig()

    def ack_within_ms(self) -> dict[str, int]:
        return {s.value: int(m * MIN_MS) for s, m in {**ACK_WITHIN_MIN, **self.ack_within_min}.items() if m is not None}

    def flap_limit(self) -> tuple[int, int] | None:
        """(max raises, window ms) for ``SqlStore.clear_alarm``; None when flapping is not checked."""
        f = self.flapping
        return (f.max_raises, int(f.window_min * MIN_MS)) if f.enabled else None


class Maintenance:
    """Whether a station is in one of its registry maintenance windows at a time."""

    def __init__(self, registry, tz: ZoneInfo) -> None:
        self.windows: dict[str, list[tuple[int, int]]] = {}
        for st in registry.stations if registry is not None else ():
            if st.maintenance:
                self.windows[st.id] = [w.bounds_ms(tz) for w in st.maintenance]

    def __call__(self, station: str, t_ms: int) -> bool:
        return any(start <= t_ms < end for start, end in self.windows.get(station, ()))


@dataclass
class TickResult:
    escalated: list[dict] = field(default_factory=list)
    calmed: list[int] = field(default_factory=list)
    work_orders: list[dict] = field(default_factory=list)
    overdue: list[dict] = field(default_factory=list)


class Lifecycle:
    """The timed steps of the lifecycle over one store; ``clock`` in seconds (tests control it)."""

    def __init__(self, store, cfg: LifecycleConfig | None = None, clock: Callable[[], float] = time.time) -> None:
        self.store, self.cfg, self.clock = store, cfg or LifecycleConfig(), clock
        self._forgot_ms = 0  # when idempotency keys were last forgotten

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def tick(self, now_ms: int | None = None) -> TickResult:
        now = self.now_ms() if now_ms is None else now_ms
        out = TickResult()
        out.escalated = self.store.escalate(self.cfg.ack_within_ms(), self.cfg.max_level, now)
        for a in out.escalated:
            log.warning("alarm %d (%s) not acknowledged: escalated to contact level %d", a["id"], a["severity"], a["level"])
        if limit := self.cfg.flap_limit():
            out.calmed = self.store.calm_flapping(limit[1], now)
        for alarm in [a for t in self.cfg.work_orders.auto_for for a in self.store.open_alarms_without_work_order(t)]:
            try:
                out.work_orders.append(self.store.create_work_order(
                    alarm["id"], "system", now, self.cfg.work_orders.due_ms(alarm, now)))
            except HandlingError as err:  # made by another process a moment ago
                log.debug("automatic work order for alarm %d: %s", alarm["id"], err)
        out.overdue = self.store.mark_overdue(now)
        if now - self._forgot_ms >= 3_600_000:
            self.store.forget_idempotency_keys(now - KEEP_DAYS * 86_400_000)
            self._forgot_ms = now
        return out


def local_time(t_ms: int, tz: ZoneInfo) -> str:
    """A time as operators read it in messages: ``2026-10-12 08:00 CST``."""
    return dt.datetime.fromtimestamp(t_ms / 1000, tz).strftime("%Y-%m-%d %H:%M %Z")

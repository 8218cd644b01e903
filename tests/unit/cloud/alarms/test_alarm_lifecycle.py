"""The alarm lifecycle (issue 8): raised → acknowledged → cleared → closed with its history;
escalation on a controlled clock; maintenance suppression; flapping; and the alarm API over real
HTTP (uvicorn on a free port, urllib), roles and regions enforced, every write audited.

This file holds the tests that need no server and start no process; the others are in
tests/integration/cloud/alarms/test_alarm_lifecycle.py."""

from __future__ import annotations

import math

import pytest

from watertel.cloud.alarms.config import AlarmsConfig
from watertel.cloud.alarms.engine import AlarmEngine
from watertel.cloud.alarms.lifecycle import Lifecycle, LifecycleConfig
from watertel.cloud.registry import Registry, RegistryFile
from watertel.cloud.store.handling import HandlingError
from watertel.readings import Quality, Reading

from tests.support.clock import Clock

MIN = 60_000


INSTANT = AlarmsConfig(water_quality={"min_duration_s": 0})  # turbidity raises at once: the lifecycle is the subject


T0 = 1_793_404_800_000  # 2026-10-31T00:00:00Z


def turbidity(t_ms: int, value: float, station: str = "ST-1") -> tuple[Reading, ...]:
    return (Reading(station, "turbidity", t_ms, value, "NTU", Quality.OK if not math.isnan(value) else Quality.TIMEOUT),)


def actions(store, alarm_id: int) -> list[str]:
    return [h["action"] for h in store.alarm_history(alarm_id)]


def maintenance_registry() -> Registry:
    return Registry(RegistryFile.model_validate({
        "provinces": [{"id": "zj", "name": "浙江", "cities": [{"id": "zj-hz", "name": "杭州", "counties": [
            {"id": "zj-hz-xh", "name": "西湖"}]}]}],
        "stations": [{"id": "ST-1", "region": "zj-hz-xh", "interval_minutes": 5, "commissioned": "2026-01-01",
                      "maintenance": [{"start": "2026-10-31T08:00", "end": "2026-10-31T10:00", "note": "pump"}]}],
    }))


def test_the_whole_lifecycle_is_kept_in_the_history_and_one_alarm_stays_open(store):
    engine = AlarmEngine(store, INSTANT)
    engine.on_readings(turbidity(T0, 1.5))
    (alarm,) = store.alarms(open_only=True)
    assert store.acknowledge(alarm["id"], "op", T0 + MIN, "on it")["acked_by"] == "op"
    assert engine.on_readings(turbidity(T0 + 2 * MIN, 1.8)) == 0, "acknowledged is still the open alarm"
    store.assign_alarm(alarm["id"], "crew", "op", T0 + 3 * MIN)
    store.comment_alarm(alarm["id"], "op", T0 + 4 * MIN, "sensor window dirty")
    with pytest.raises(HandlingError, match=f"alarm {alarm['id']} is acknowledged: cannot acknowledge it"):
        store.acknowledge(alarm["id"], "op", T0 + 5 * MIN)
    engine.on_readings(turbidity(T0 + 6 * MIN, 0.3))
    assert store.alarm(alarm["id"])["state"] == "cleared"
    closed = store.close_alarm(alarm["id"], "boss", T0 + 7 * MIN, "cleaned")
    assert (closed["state"], closed["closed_by"], closed["assignee"]) == ("closed", "boss", "crew")
    with pytest.raises(HandlingError, match="is closed: cannot close it"):
        store.close_alarm(alarm["id"], "boss", T0 + 8 * MIN)
    history = store.alarm_history(alarm["id"])
    assert [(h["action"], h["actor"], h["t_ms"]) for h in history] == [
        ("raised", "system", T0), ("acknowledged", "op", T0 + MIN), ("assigned", "op", T0 + 3 * MIN),
        ("comment", "op", T0 + 4 * MIN), ("cleared", "system", T0 + 6 * MIN), ("closed", "boss", T0 + 7 * MIN)]
    assert history[2]["note"] == "to crew" and history[3]["note"] == "sensor window dirty"
    with pytest.raises(HandlingError, match="no alarm 999"):
        store.acknowledge(999, "op", T0)


def test_an_unacknowledged_alarm_escalates_level_by_level_on_the_clock(store):
    clock = Clock(T0)
    cfg = LifecycleConfig.model_validate({"ack_within_min": {"red": 30, "yellow": 60}, "max_level": 2})
    steps = Lifecycle(store, cfg, clock)
    store.raise_alarm("ST-1", "*", "chain_gap", "red", "gap", T0)
    store.raise_alarm("ST-2", "*", "chain_gap", "yellow", "gap", T0)
    store.raise_alarm("ST-3", "*", "chain_gap", "red", "gap", T0)
    store.raise_alarm("ST-4", "*", "chain_gap", "blue", "gap", T0)  # blue: never escalates (default)
    red, yellow, acked, blue = sorted(store.alarms(open_only=True), key=lambda a: a["station"])
    store.acknowledge(acked["id"], "op", T0 + 10 * MIN)
    levels = []
    for minutes in (29, 30, 59, 60, 89, 90, 200):
        clock.t_ms = T0 + minutes * MIN
        steps.tick()
        levels.append(tuple(store.alarm(a["id"])["level"] for a in (red, yellow, acked, blue)))
    assert levels == [(0, 0, 0, 0), (1, 0, 0, 0), (1, 0, 0, 0), (2, 1, 0, 0), (2, 1, 0, 0), (2, 1, 0, 0),
                      (2, 2, 0, 0)], "red every 30 min, yellow every 60, up to max_level; acknowledged and blue never"
    escalated = [h for h in store.alarm_history(red["id"]) if h["action"] == "escalated"]
    assert [(h["t_ms"], h["level"]) for h in escalated] == [(T0 + 30 * MIN, 1), (T0 + 60 * MIN, 2)]
    assert escalated[0]["note"] == "not acknowledged within 30 min: contact level 1"


def test_alarms_of_a_station_in_maintenance_are_kept_suppressed_never_escalated(store):
    from watertel.cloud.notify.config import NotificationsConfig
    from watertel.cloud.notify.outbox import Notifier

    reg = maintenance_registry()
    engine = AlarmEngine(store, INSTANT, registry=reg)
    inside = T0 + 30 * MIN  # 08:30 in Asia/Shanghai
    engine.on_readings(turbidity(inside, 1.5))
    (alarm,) = store.alarms(open_only=True)
    assert alarm["suppressed"] == 1 and store.alarm_history(alarm["id"])[0]["note"] == "suppressed: maintenance window"
    Lifecycle(store, LifecycleConfig(), Clock(inside + 600 * MIN)).tick()
    assert store.alarm(alarm["id"])["level"] == 0, "a suppressed alarm does not escalate"
    notifier = Notifier(store, NotificationsConfig.model_validate({
        "webhooks": [{"id": "h", "url": "http://127.0.0.1:9/"}], "contacts": [{"id": "c", "webhook": "h"}],
        "routes": [{"contacts": ["c"]}]}), {"ST-1": reg.ancestry("zj-hz-xh")}.get)
    assert notifier.route() == 0, "nor is it notified"
    engine.on_readings(turbidity(inside + MIN, 0.2))
    engine.on_readings(turbidity(T0 + 3 * 60 * MIN, 1.6))  # 11:00: the window is over
    (after,) = store.alarms(open_only=True)
    assert after["suppressed"] == 0 and notifier.route() == 1


def test_an_alarm_raised_too_often_is_held_raised_as_flapping_until_it_stays_calm(store):
    cfg = LifecycleConfig.model_validate({"flapping": {"max_raises": 3, "window_min": 30}})
    engine = AlarmEngine(store, INSTANT, lifecycle=cfg)
    for i in range(3):  # three episodes: normal
        engine.on_readings(turbidity(T0 + (2 * i) * MIN, 1.5))
        engine.on_readings(turbidity(T0 + (2 * i + 1) * MIN, 0.5))
    assert [a["state"] for a in store.alarms()] == ["cleared"] * 3
    engine.on_readings(turbidity(T0 + 6 * MIN, 1.5))  # the fourth raise within 30 min
    engine.on_readings(turbidity(T0 + 7 * MIN, 0.5))
    (held,) = store.alarms(open_only=True)
    assert held["flapping"] == 1 and held["calm_since_ms"] == T0 + 7 * MIN
    assert actions(store, held["id"]) == ["raised", "flapping"]
    for i in range(4, 8):  # goes on flapping: still the one alarm, no new ones
        engine.on_readings(turbidity(T0 + (2 * i) * MIN, 1.5))
        engine.on_readings(turbidity(T0 + (2 * i + 1) * MIN, 0.5))
    assert len(store.alarms()) == 4 and store.alarms(open_only=True)[0]["id"] == held["id"]
    steps = Lifecycle(store, cfg, Clock(T0 + 40 * MIN))
    assert steps.tick().calmed == [], "calm since minute 15 only"
    assert steps.tick(T0 + 45 * MIN).calmed == [held["id"]]
    cleared = store.alarm(held["id"])
    assert (cleared["state"], cleared["cleared_ms"]) == ("cleared", T0 + 15 * MIN)
    assert actions(store, held["id"])[-1] == "cleared"

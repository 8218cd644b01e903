"""Alarm rules and the raise-once / clear lifecycle, on a real SQLite store."""

from __future__ import annotations

import math
from zoneinfo import ZoneInfo

from watertel.cloud.alarms.config import AlarmsConfig
from watertel.cloud.alarms.engine import AlarmEngine
from watertel.cloud.alarms.rules import device_fault
from watertel.cloud.alarms.water_quality import WaterQuality
from watertel.cloud.store.sqlite import SqliteStore
from watertel.readings import Quality, Reading


def poll(t_ms: int, **values: float | Quality) -> list[Reading]:
    return [Reading("ST-1", point, t_ms, math.nan if isinstance(v, Quality) else v, "-",
                    v if isinstance(v, Quality) else Quality.OK) for point, v in values.items()]


MIN = 60_000


def water_quality(*polls: list) -> list:
    """The conditions of the last poll, after the ones before (the rule remembers runs)."""
    rule = WaterQuality(AlarmsConfig(), ZoneInfo("Asia/Shanghai"))
    return [rule(p) for p in polls][-1]


def test_water_quality_limits_follow_gb5749():
    values = dict(turbidity=1.2, ph=6.4, free_chlorine=0.5, flow=900)
    first = water_quality(poll(0, **values))  # out of limits, but not yet for min_duration_s (300 s)
    assert [(c.point, c.active) for c in first] == [("free_chlorine", False)]
    conditions = {c.point: c for c in water_quality(poll(0, **values), poll(5 * MIN, **values))}
    assert conditions["turbidity"].active and "above 1 (" in conditions["turbidity"].message
    assert conditions["ph"].active and "below 6.5" in conditions["ph"].message
    assert not conditions["free_chlorine"].active
    assert "flow" not in conditions  # no water-quality limit for flow


def test_faulty_readings_are_not_judged_against_quality_limits():
    assert water_quality(poll(0, turbidity=Quality.SENSOR_FAULT)) == []
    (fault,) = device_fault(poll(0, turbidity=Quality.SENSOR_FAULT, ph=7.0))
    assert fault.active and "turbidity: sensor_fault" in fault.message


def test_an_alarm_is_raised_once_and_cleared_when_the_condition_ends(tmp_path):
    store = SqliteStore(tmp_path / "w.db")
    engine = AlarmEngine(store, AlarmsConfig(water_quality={"min_duration_s": 0}))
    assert engine.on_readings(tuple(poll(1000, turbidity=1.5))) == 1
    assert engine.on_readings(tuple(poll(2000, turbidity=1.7))) == 0  # still the same alarm
    assert [a["state"] for a in store.alarms()] == ["raised"]
    engine.on_readings(tuple(poll(3000, turbidity=0.4)))
    (alarm,) = store.alarms()
    assert alarm["state"] == "cleared" and alarm["cleared_ms"] == 3000
    assert engine.on_readings(tuple(poll(4000, turbidity=2.0))) == 1  # a new episode, a new alarm
    assert len(store.alarms()) == 2 and len(store.alarms(open_only=True)) == 1
    store.close()


def reading(point: str, value: float, quality: Quality, t_ms: int = 0) -> Reading:
    return Reading("ST-1", point, t_ms, value, "m3", quality)


def test_an_unsynchronised_clock_raises_one_alarm_and_its_values_are_still_judged(tmp_path):
    store = SqliteStore(tmp_path / "w.db")
    engine = AlarmEngine(store, AlarmsConfig(water_quality={"min_duration_s": 0}))
    engine.on_readings((reading("turbidity", 1.4, Quality.CLOCK_UNSYNCED, 1000),))
    assert sorted(a["type"] for a in store.alarms()) == ["clock_unsynced", "water_quality"]
    engine.on_readings((reading("turbidity", 0.3, Quality.OK, 2000),))
    assert {a["type"]: a["state"] for a in store.alarms()} == {"clock_unsynced": "cleared", "water_quality": "cleared"}
    store.close()


def test_a_totaliser_reset_stays_open_for_an_operator_and_a_rollover_raises_nothing(tmp_path):
    store = SqliteStore(tmp_path / "w.db")
    engine = AlarmEngine(store)
    engine.on_readings((reading("total", 3.0, Quality.TOTAL_RESET, 1000),))
    engine.on_readings((reading("total", 4.0, Quality.OK, 2000),))
    engine.on_readings((reading("energy", 1.0, Quality.TOTAL_ROLLOVER, 3000),))
    assert [(a["type"], a["point"], a["state"]) for a in store.alarms()] == [("totaliser_reset", "total", "raised")]
    store.close()

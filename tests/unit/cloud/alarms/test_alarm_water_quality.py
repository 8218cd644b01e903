"""Water quality (issue 8): minimum duration and hysteresis on crafted series, through the real
engine on a real SQLite store; limits and overrides from the ``alarms.water_quality`` section."""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from watertel.cloud.alarms.config import AlarmsConfig
from watertel.cloud.alarms.engine import AlarmEngine
from watertel.cloud.store.sqlite import SqliteStore
from watertel.readings import Quality, Reading

SH = ZoneInfo("Asia/Shanghai")
MIN = 60_000
T0 = int(dt.datetime(2026, 11, 2, 8, 0, tzinfo=SH).timestamp() * 1000)
UNITS = {"turbidity": "NTU", "ph": "", "free_chlorine": "mg/L"}


@pytest.fixture
def store(tmp_path):
    opened = SqliteStore(tmp_path / "w.db")
    yield opened
    opened.close()


def feed(engine: AlarmEngine, point: str, values: list[float], station: str = "ST-1", step: int = MIN) -> None:
    """One reading per ``step`` from T0, one poll each, as ingest hands them to the engine."""
    for i, v in enumerate(values):
        quality = Quality.SENSOR_FAULT if math.isnan(v) else Quality.OK
        engine.on_readings((Reading(station, point, T0 + i * step, v, UNITS.get(point, "-"), quality),))


def episodes(store, point: str = "turbidity") -> list[tuple[int, int | None]]:
    """(raised, cleared) minutes after T0 of each water-quality alarm of ``point``, oldest first."""
    rows = [a for a in reversed(store.alarms()) if a["type"] == "water_quality" and a["point"] == point]
    return [((a["raised_ms"] - T0) // MIN, None if a["cleared_ms"] is None else (a["cleared_ms"] - T0) // MIN)
            for a in rows]


def test_a_one_sample_spike_does_not_raise(store):
    engine = AlarmEngine(store)
    feed(engine, "turbidity", [0.3, 0.3, 5.0, 0.3, 0.3, 0.3, 0.3, 0.3])
    assert episodes(store) == []


def test_a_sustained_excursion_raises_once_after_min_duration_and_clears_past_the_band(store):
    engine = AlarmEngine(store)  # defaults: 300 s, margin 5 % of the 1 NTU limit
    feed(engine, "turbidity", [0.3, 1.4, 1.6, 1.5, 1.8, 1.7, 1.9, 2.0, 1.6, 0.5, 0.4])
    assert episodes(store) == [(6, 9)]  # out since minute 1: raised at minute 6 (300 s later), once
    (alarm,) = [a for a in store.alarms() if a["type"] == "water_quality"]
    assert alarm["severity"] == "red" and alarm["station"] == "ST-1"
    assert alarm["message"] == "turbidity 1.9 NTU above 1 (out of limits since 2026-11-02T08:01:00+08:00)"


def test_a_reading_back_within_the_limit_restarts_the_duration(store):
    engine = AlarmEngine(store)
    feed(engine, "turbidity", [1.2, 1.2, 1.2, 1.2, 0.99, 1.2, 1.2, 1.2, 1.2, 1.2, 1.2])
    assert episodes(store) == [(10, None)]  # the run from minute 5 lasts 300 s at minute 10


def test_noise_around_the_limit_neither_raises_nor_flaps(store):
    engine = AlarmEngine(store)
    noise = [1.02, 0.98] * 30  # an hour jittering across the limit: each excursion a minute long
    feed(engine, "turbidity", noise)
    assert episodes(store) == []
    # raised by a real excursion, noise near the limit (inside the 0.95 band) does not clear it
    feed(engine, "turbidity", [1.0] * 60 + [1.3] * 11 + [0.98, 1.02] * 20 + [0.96, 0.951, 0.95], "ST-2", MIN // 2)
    assert episodes(store) == [(35, 56)]  # raised 300 s into the 1.3s, cleared at 0.95, never in between


def test_a_clear_needs_the_margin_below_a_lower_limit_too(store):
    engine = AlarmEngine(store, AlarmsConfig(water_quality={"min_duration_s": 120}))
    feed(engine, "ph", [7.2, 6.3, 6.2, 6.4, 6.55, 6.59, 6.61, 7.0], station="ST-2")
    assert episodes(store, "ph") == [(3, 6)]  # pH margin 0.1: cleared at 6.61, not 6.55 or 6.59
    assert store.alarms()[0]["station"] == "ST-2"


def test_faulty_readings_neither_count_nor_end_the_run(store):
    engine = AlarmEngine(store)
    feed(engine, "turbidity", [1.5, math.nan, math.nan, 1.5, math.nan, 1.5])
    assert episodes(store) == [(5, None)]
    assert {a["type"] for a in store.alarms()} == {"water_quality", "device_fault"}


def test_limits_duration_and_margin_are_configurable_per_point(store):
    cfg = AlarmsConfig(water_quality={"min_duration_s": 0, "hysteresis": 0.2,
                                      "limits": {"turbidity": {"high": 0.5}, "conductivity": {"high": 1500}}})
    assert cfg.water_quality.effective()["ph"].low == 6.5  # untouched points keep GB 5749-2022
    engine = AlarmEngine(store, cfg)
    feed(engine, "turbidity", [0.6, 0.45, 0.39])
    assert episodes(store) == [(0, 2)]  # margin 20 % of 0.5: clears at <= 0.4
    feed(engine, "conductivity", [1600, 1000])
    assert episodes(store, "conductivity") == [(0, 1)]


def test_a_station_override_changes_only_the_keys_it_names(store):
    cfg = AlarmsConfig(water_quality={"limits": {"free_chlorine": {"hysteresis": 0.02}}},
                       overrides={"PLANT-1": {"water_quality": {"limits": {"free_chlorine": {"low": 0.3}},
                                                                 "min_duration_s": 60}}})
    plant = cfg.for_station("PLANT-1").water_quality
    assert plant.effective()["free_chlorine"].model_dump() == {"low": 0.3, "high": 2.0, "hysteresis": 0.02}
    assert cfg.for_station("NET-9").water_quality.effective()["free_chlorine"].low == 0.05  # network end
    assert plant.effective()["turbidity"].high == 1.0 and plant.hysteresis == 0.05
    engine = AlarmEngine(store, cfg)
    for station in ("PLANT-1", "NET-9"):  # 0.2 mg/L: too low leaving a plant, fine at the network end
        feed(engine, "free_chlorine", [0.2, 0.2, 0.2, 0.31, 0.33], station=station)
    rows = [(a["station"], (a["raised_ms"] - T0) // MIN, (a["cleared_ms"] - T0) // MIN) for a in store.alarms()]
    assert rows == [("PLANT-1", 1, 4)]  # 60 s at the plant; cleared at 0.33 >= 0.3 + 0.02, not at 0.31


def test_a_rule_switched_off_for_a_station_raises_nothing_there(store):
    engine = AlarmEngine(store, AlarmsConfig(overrides={"ST-1": {"water_quality": {"enabled": False}}}))
    feed(engine, "turbidity", [3.0] * 10)
    feed(engine, "turbidity", [3.0] * 10, station="ST-2")
    assert [a["station"] for a in store.alarms()] == ["ST-2"]


@pytest.mark.parametrize("section, match", [
    ({"limits": {"ph": {"low": 9, "high": 8}}}, r"limits.ph: low \(9\) must be below high \(8\)"),
    ({"limits": {"ph": {"hysteresis": 1.0}}}, r"limits.ph: the hysteresis margins leave no value"),
    ({"min_duration_s": -1}, r"greater than or equal to 0"),
    ({"limits": {"Turbidity": {"high": 1}}}, r"should match pattern"),
    ({"limits": {"turbidity": {"hgih": 1}}}, r"Extra inputs are not permitted"),
])
def test_bad_settings_are_refused_at_load(section, match):
    with pytest.raises(ValidationError, match=match):
        AlarmsConfig(water_quality=section)


def test_a_bad_override_combination_is_refused_naming_the_station():
    with pytest.raises(ValidationError, match=r"(?s)overrides.ST-1.water_quality.*low \(2.5\) must be below high"):
        AlarmsConfig(overrides={"ST-1": {"water_quality": {"limits": {"free_chlorine": {"low": 2.5}}}}})

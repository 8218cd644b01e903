"""The data alarms of issue 8 (data stopped, consecutive zeros, spikes, sudden volume change) on
hand-built series, through the real engine and a real SQLite store, with a controllable clock."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import os
import re
import textwrap
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from watertel.cloud.alarms.config import AlarmsConfig
from watertel.cloud.alarms.engine import AlarmEngine
from watertel.cloud.config import load_cloud_config
from watertel.cloud.registry import load_registry
from watertel.cloud.store.sqlite import SqliteStore
from watertel.config import ConfigError
from watertel.envelope import Envelope
from watertel.readings import Quality, Reading

from tests.support.paths import ROOT

SH = ZoneInfo("Asia/Shanghai")
MIN, HOUR, DAY = 60_000, 3_600_000, 86_400_000
SEQ = itertools.count(1)
REGISTRY = """\
provinces:
  - {id: zj, name: 浙江省, cities: [{id: hz, name: 杭州市, counties: [{id: xh, name: 西湖区}]}]}
stations:
  - {id: ST-1, region: xh, interval_minutes: 5, commissioned: 2026-10-01}
  - {id: ST-2, region: xh, interval_minutes: 5, commissioned: 2026-10-01}
  - id: ST-M
    region: xh
    interval_minutes: 5
    commissioned: 2026-10-01
    maintenance: [{start: "2026-11-02T08:00", end: "2026-11-02T12:00"}]
  - {id: ST-OLD, region: xh, interval_minutes: 5, commissioned: 2026-10-01, decommissioned: 2026-11-01}
  - {id: ST-NEW, region: xh, interval_minutes: 60, commissioned: 2026-11-02}
"""


def local(day: int, hour: float = 0) -> int:
    """Unix ms of a local (Asia/Shanghai) time in November 2026."""
    return int(dt.datetime(2026, 11, day, tzinfo=SH).timestamp() * 1000 + hour * HOUR)


def iso(t_ms: int) -> str:
    return dt.datetime.fromtimestamp(t_ms / 1000, SH).isoformat(timespec="seconds")


class Clock:
    def __init__(self, t_ms: int) -> None:
        self.t_ms = t_ms

    def __call__(self) -> float:
        return self.t_ms / 1000


@pytest.fixture
def store(tmp_path):
    opened = SqliteStore(tmp_path / "w.db")
    yield opened
    opened.close()


def make_engine(store, tmp_path, cfg: dict | None = None, start: int = 0):
    path = tmp_path / "registry.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    clock = Clock(start)
    return AlarmEngine(store, AlarmsConfig.model_validate(cfg or {}), load_registry(path), SH, clock), clock


def ingest(store, engine, *readings: Reading) -> int:
    """Store readings as one envelope (the back-end's own insert, as at ingest), then run the rules
    on the new ones, as the ingest handler does."""
    env = Envelope("gw-1", "k1", next(SEQ), b"\0" * 32, int(engine.clock() * 1000), readings, os.urandom(32))
    with store._write():
        new = store._insert(env, int(engine.clock() * 1000))
    return engine.on_readings(new)


def r(point: str, t_ms: int, value: float, quality: Quality = Quality.OK, station: str = "ST-1") -> Reading:
    return Reading(station, point, t_ms, value, {"flow": "m3/h", "total": "m3"}.get(point, "-"), quality)


def alarms(store, type_: str) -> list[dict]:
    return [a for a in reversed(store.alarms()) if a["type"] == type_]


# --- consecutive zeros ---------------------------------------------------------------------------
def test_consecutive_zeros_open_once_at_the_twelfth_zero_and_clear_on_flow(store, tmp_path):
    engine, clock = make_engine(store, tmp_path)
    t0 = local(2, 8)
    ingest(store, engine, r("flow", t0 - 5 * MIN, 120.0))
    for i in range(11):
        ingest(store, engine, r("flow", t0 + i * 5 * MIN, 0.0))
    assert alarms(store, "consecutive_zeros") == []
    ingest(store, engine, r("flow", t0 + 11 * 5 * MIN, 1e-9))  # within epsilon: a zero
    ingest(store, engine, r("flow", t0 + 12 * 5 * MIN, math.nan, Quality.TIMEOUT))
    for i in range(13, 30):  # more zeros, a failed read between: still the one alarm
        ingest(store, engine, r("flow", t0 + i * 5 * MIN, 0.0))
    (alarm,) = alarms(store, "consecutive_zeros")
    assert (alarm["station"], alarm["point"], alarm["severity"], alarm["state"]) == ("ST-1", "flow", "yellow", "raised")
    assert alarm["raised_ms"] == t0 + 11 * 5 * MIN
    assert alarm["message"] == f"flow reported zero 12 times in a row since {iso(t0)}"
    ingest(store, engine, r("flow", t0 + 30 * 5 * MIN, 85.0))
    (alarm,) = alarms(store, "consecutive_zeros")
    assert alarm["state"] == "cleared" and alarm["cleared_ms"] == t0 + 30 * 5 * MIN


def test_zeros_in_one_batch_and_a_late_backlog_count_once_each(store, tmp_path):
    engine, _ = make_engine(store, tmp_path)
    t0 = local(2, 8)
    assert ingest(store, engine, *(r("flow", t0 + i * MIN, 0.0) for i in range(12))) == 1
    # a backlog from before arrives afterwards: older than what was seen, it neither clears nor counts
    ingest(store, engine, r("flow", t0 - 10 * MIN, 50.0))
    assert [a["state"] for a in alarms(store, "consecutive_zeros")] == ["raised"]


def test_a_station_override_changes_only_the_keys_it_names(store, tmp_path):
    cfg = {"consecutive_zeros": {"epsilon": 0.5},
           "overrides": {"ST-2": {"consecutive_zeros": {"reports": 3}}, "ST-1": {"spike": {"max_flow": 10}}}}
    engine, _ = make_engine(store, tmp_path, cfg)
    assert engine.cfg.for_station("ST-2").consecutive_zeros.epsilon == 0.5  # the default kept
    t0 = local(2, 8)
    for i in range(3):
        ingest(store, engine, r("flow", t0 + i * MIN, 0.2, station="ST-1"), r("flow", t0 + i * MIN, 0.2, station="ST-2"))
    assert [a["station"] for a in alarms(store, "consecutive_zeros")] == ["ST-2"]
    ingest(store, engine, r("flow", t0 + 3 * MIN, 11.0, station="ST-1"), r("flow", t0 + 3 * MIN, 11.0, station="ST-2"))
    assert [a["station"] for a in alarms(store, "spike")] == ["ST-1"]  # max_flow only for ST-1


def test_a_rule_switched_off_for_a_station_raises_nothing_there(store, tmp_path):
    engine, _ = make_engine(store, tmp_path, {"overrides": {"ST-1": {"consecutive_zeros": {"enabled": False}}}})
    for i in range(20):
        ingest(store, engine, r("flow", local(2, 8) + i * MIN, 0.0))
    assert alarms(store, "consecutive_zeros") == []


# --- spikes ------------------------------------------------------------------------------------
def test_flow_above_max_flow_opens_one_spike_with_the_value_and_clears(store, tmp_path):
    engine, _ = make_engine(store, tmp_path, {"spike": {"max_flow": 800}})
    t0 = local(2, 8)
    ingest(store, engine, r("flow", t0, 500.0))
    ingest(store, engine, r("flow", t0 + MIN, 9123.5))
    ingest(store, engine, r("flow", t0 + 2 * MIN, 8000.0))
    (alarm,) = alarms(store, "spike")
    assert (alarm["point"], alarm["severity"], alarm["raised_ms"]) == ("flow", "orange", t0 + MIN)
    assert alarm["message"] == "flow 9123.5 m3/h above max_flow 800"
    ingest(store, engine, r("flow", t0 + 3 * MIN, 640.0))
    assert [(a["state"], a["cleared_ms"]) for a in alarms(store, "spike")] == [("cleared", t0 + 3 * MIN)]


def test_flow_flagged_out_of_range_by_the_gateway_is_a_spike_without_configuration(store, tmp_path):
    engine, _ = make_engine(store, tmp_path)
    t0 = local(2, 8)
    ingest(store, engine, r("flow", t0, 65535.0, Quality.OUT_OF_RANGE))
    ingest(store, engine, r("flow", t0 + MIN, -3.0, Quality.OUT_OF_RANGE))  # below the range: not a spike, no clear
    (alarm,) = alarms(store, "spike")
    assert alarm["state"] == "raised" and "65535 m3/h above the meter's range" in alarm["message"]
    ingest(store, engine, r("flow", t0 + 2 * MIN, 300.0))
    assert alarms(store, "spike")[0]["state"] == "cleared"


def test_a_totaliser_jump_beyond_max_flow_times_elapsed_time_is_a_spike(store, tmp_path):
    # max 120 m3/h, every 5 minutes: at most 120 x 1/12 h x 1.5 = 15 m3 per step
    engine, _ = make_engine(store, tmp_path, {"spike": {"max_flow": 120}})
    t0, total = local(2, 8), 1000.0
    for i in range(4):
        ingest(store, engine, r("total", t0 + i * 5 * MIN, total := total + 9.0))
    ingest(store, engine, r("total", t0 + 4 * 5 * MIN, total := total + 15.0))  # exactly the limit: fine
    assert alarms(store, "spike") == []
    ingest(store, engine, r("total", t0 + 5 * 5 * MIN, total := total + 4000.0))
    ingest(store, engine, r("total", t0 + 6 * 5 * MIN, total := total + 3000.0))  # still jumping: same alarm
    (alarm,) = alarms(store, "spike")
    assert alarm["point"] == "total" and alarm["severity"] == "orange"
    assert re.fullmatch(r"total jumped 4000 m3 to 5051 in 5 min \(more than 15 = max_flow 120 x 0\.0833 h x 1\.5\)",
                        alarm["message"]), alarm["message"]
    ingest(store, engine, r("total", t0 + 7 * 5 * MIN, total := total + 10.0))
    assert alarms(store, "spike")[0]["state"] == "cleared"
    # a rollover (flagged by the gateway) or a reset is not a jump
    ingest(store, engine, r("total", t0 + 8 * 5 * MIN, 3.0, Quality.TOTAL_ROLLOVER))
    ingest(store, engine, r("total", t0 + 9 * 5 * MIN, 90_000.0, Quality.TOTAL_RESET))
    assert len(alarms(store, "spike")) == 1


def test_without_max_flow_totaliser_steps_are_not_judged(store, tmp_path):
    engine, _ = make_engine(store, tmp_path)
    ingest(store, engine, r("total", local(2, 8), 10.0))
    ingest(store, engine, r("total", local(2, 8) + MIN, 1e9))
    assert alarms(store, "spike") == []


# --- data stopped ------------------------------------------------------------------------------
def test_data_stopped_after_three_intervals_says_since_when_and_clears_when_data_comes(store, tmp_path):
    t0 = local(2, 14)
    engine, clock = make_engine(store, tmp_path, start=t0)
    everyone = ("ST-1", "ST-2", "ST-M", "ST-NEW")
    ingest(store, engine, *(r("flow", t0, 5.0, station=s) for s in everyone))
    clock.t_ms = t0 + 15 * MIN  # three intervals: not yet
    assert engine.check_data_stopped() == []
    ingest(store, engine, *(r("flow", t0 + 15 * MIN, 5.0, station=s) for s in everyone if s != "ST-1"))
    clock.t_ms = t0 + 15 * MIN + 1
    assert engine.check_data_stopped() == ["ST-1"]
    for minutes in (20, 30, 60):  # checked again and again: one alarm
        clock.t_ms = t0 + minutes * MIN
        ingest(store, engine, *(r("flow", clock.t_ms, 5.0, station=s) for s in everyone if s != "ST-1"))
        engine.check_data_stopped()
    (alarm,) = alarms(store, "data_stopped")
    assert (alarm["station"], alarm["point"], alarm["severity"]) == ("ST-1", "*", "orange")
    assert alarm["raised_ms"] == t0 + 15 * MIN + 1
    assert alarm["message"] == (f"no data since {iso(t0)} (last sample), expected every 5 min, 3 intervals missed")
    # a backlog from during the outage arrives: the newest sample is still old, the alarm stays
    ingest(store, engine, r("flow", t0 + 5 * MIN, 5.0))
    engine.check_data_stopped()
    assert alarms(store, "data_stopped")[0]["state"] == "raised"
    clock.t_ms = t0 + 61 * MIN
    ingest(store, engine, r("flow", t0 + 60 * MIN, 5.0))  # fresh data: cleared at once
    (alarm,) = alarms(store, "data_stopped")
    assert alarm["state"] == "cleared" and alarm["cleared_ms"] == t0 + 61 * MIN
    assert engine.check_data_stopped() == [] and len(alarms(store, "data_stopped")) == 1


def test_data_stopped_skips_maintenance_and_stations_out_of_service(store, tmp_path):
    engine, clock = make_engine(store, tmp_path, start=local(2, 11))
    # 11:00: ST-M (never reported) is in maintenance from 08:00 to 12:00, ST-OLD was decommissioned
    # yesterday; ST-NEW, hourly from today 00:00, never reported: stopped since 03:00
    ingest(store, engine, *(r("flow", local(2, 11), 1.0, station=s) for s in ("ST-1", "ST-2")))
    assert engine.check_data_stopped() == ["ST-NEW"]
    clock.t_ms = local(2, 12) + 15 * MIN  # back from maintenance 15 minutes ago: still its 3 intervals
    ingest(store, engine, *(r("flow", clock.t_ms, 1.0, station=s) for s in ("ST-1", "ST-2")))
    assert engine.check_data_stopped() == ["ST-NEW"]
    clock.t_ms = local(2, 12) + 16 * MIN
    ingest(store, engine, *(r("flow", clock.t_ms, 1.0, station=s) for s in ("ST-1", "ST-2")))
    assert engine.check_data_stopped() == ["ST-M", "ST-NEW"]
    messages = {a["station"]: a["message"] for a in alarms(store, "data_stopped")}
    assert messages == {
        "ST-NEW": f"no data since {iso(local(2))} (start of service), expected every 60 min",
        "ST-M": f"no data since {iso(local(2, 12))} (start of service), expected every 5 min",
    }


def test_data_stopped_interval_count_is_overridable_and_the_store_is_asked_before_raising(store, tmp_path):
    t0 = local(2, 14)
    engine, clock = make_engine(store, tmp_path, {"data_stopped": {"intervals": 2},
                                                  "overrides": {"ST-2": {"data_stopped": {"intervals": 6}}}}, start=t0)
    ingest(store, engine, *(r("flow", t0, 5.0, station=s) for s in ("ST-1", "ST-2", "ST-M", "ST-NEW")))
    # another ingest worker stored ST-M's and ST-NEW's newer data: this engine never saw it
    other, _ = make_engine(store, tmp_path, start=t0)
    ingest(store, other, *(r("flow", t0 + 10 * MIN, 5.0, station=s) for s in ("ST-M", "ST-NEW")))
    clock.t_ms = t0 + 11 * MIN
    assert engine.check_data_stopped() == ["ST-1"]
    clock.t_ms = t0 + 31 * MIN
    assert engine.check_data_stopped() == ["ST-1", "ST-2", "ST-M"]


def test_without_a_registry_data_stopped_is_not_checked(store):
    assert AlarmEngine(store).check_data_stopped() == []


# --- sudden volume change ----------------------------------------------------------------------
def test_a_day_volume_far_from_the_median_of_the_last_days_opens_once_and_clears(store, tmp_path):
    engine, _ = make_engine(store, tmp_path)
    total = 5000.0
    volumes = {d: 1000.0 for d in range(1, 13)} | {9: 2100.0, 10: 2200.0}  # two days far above
    for day in range(1, 13):
        for hour in (0, 6, 12, 18):  # four steps a day, the one at 00:00 counts for the new day
            if day > 1 or hour:
                total += volumes[day] / 4
            ingest(store, engine, r("total", local(day, hour), total))
    (alarm,) = alarms(store, "volume_change")
    assert (alarm["point"], alarm["severity"], alarm["raised_ms"]) == ("total", "yellow", local(10))
    assert alarm["message"] == "day volume 2100 m3 on 2026-11-09 is +110% from the median 1000 m3 of the 7 days before"
    assert alarm["state"] == "cleared" and alarm["cleared_ms"] == local(12)  # day 11 judged normal


def test_volume_change_needs_whole_days_of_baseline(store, tmp_path):
    engine, _ = make_engine(store, tmp_path)
    total = 0.0
    for day, volume in ((1, 1000.0), (2, 1000.0), (3, 1000.0), (4, 9000.0), (5, 10.0)):
        for hour in (0, 12):
            ingest(store, engine, r("total", local(day, hour), total := total + volume / 2))
    # day 1 began unseen; days 2 and 3 are the baseline (fewer than min_days 3): nothing judged
    assert alarms(store, "volume_change") == []


# --- configuration -------------------------------------------------------------------------------
def write_config(tmp_path, alarms_yaml: str) -> Path:
    path = tmp_path / "cloud.yaml"
    path.write_text("data_dir: data\nalarms:\n" + textwrap.indent(textwrap.dedent(alarms_yaml), "  "), encoding="utf-8")
    return path


def test_the_alarms_section_loads_with_defaults_and_overrides(tmp_path):
    cfg = load_cloud_config(write_config(tmp_path, """\
        spike: {max_flow: 800}
        overrides:
          ST-0001: {spike: {max_flow: 1200}, data_stopped: {intervals: 6}}
        """)).alarms
    assert cfg.for_station("ST-0001").spike.max_flow == 1200 and cfg.for_station("ST-0001").spike.jump_factor == 1.5
    assert cfg.for_station("ST-0001").data_stopped.intervals == 6
    assert cfg.for_station("ST-0002").spike.max_flow == 800 and cfg.for_station("ST-0002").data_stopped.intervals == 3
    defaults = load_cloud_config(write_config(tmp_path, "{}\n")).alarms
    assert (defaults.data_stopped.intervals, defaults.consecutive_zeros.reports, defaults.spike.jump_factor,
            defaults.volume_change.baseline_days, defaults.volume_change.max_deviation) == (3, 12, 1.5, 7, 0.5)


@pytest.mark.parametrize("alarms_yaml, expected", [
    ("spike: {max_flw: 800}\n", r"cloud.yaml:3: alarms.spike.max_flw: unknown key"),
    ("consecutive_zeros: {reports: 1}\n", r"cloud.yaml:3: alarms.consecutive_zeros.reports: .*got 1 \(use a number >= 2\)"),
    ("overrides:\n  ST-1: {spike: {max_flow: -5}}\n",
     r"cloud.yaml:4: alarms.overrides.ST-1.spike.max_flow: .*got -5 \(use a number > 0\)"),
    ("overrides:\n  ST-1: {data_stoped: {intervals: 5}}\n", r"cloud.yaml:4: alarms.overrides.ST-1.data_stoped: unknown key"),
    ("overrides:\n  ST-1: {volume_change: {min_days: 9}}\n",
     r"alarms: overrides.ST-1.volume_change: min_days \(9\) must not exceed baseline_days \(7\)"),
    ("check_every_s: 0\n", r"alarms.check_every_s: .*\(use a number > 0\)"),
])
def test_a_bad_alarms_section_is_refused_naming_the_key(tmp_path, alarms_yaml, expected):
    with pytest.raises(ConfigError) as caught:
        load_cloud_config(write_config(tmp_path, alarms_yaml))
    assert re.search(expected, str(caught.value)), str(caught.value)


def test_the_commented_example_in_cloud_example_yaml_is_valid():
    text = (ROOT / "deploy" / "cloud.example.yaml").read_text(encoding="utf-8")
    block = text[text.index("\n# alarms:") + 1:].split("\n\n")[0]
    import yaml

    data = yaml.safe_load("\n".join(line[2:] for line in block.splitlines() if line.startswith("# ")))
    cfg = AlarmsConfig.model_validate(data["alarms"])
    assert cfg.model_dump(exclude={"overrides"}) == AlarmsConfig().model_dump(exclude={"overrides"})  # the defaults shown
    assert cfg.for_station("ST-0001").spike.max_flow == 1200 and cfg.for_station("ST-0001-WQ").data_stopped.intervals == 2


def test_data_arriving_during_maintenance_still_clears_an_open_data_stopped(store, tmp_path):
    engine, clock = make_engine(store, tmp_path, start=local(2, 7))
    ingest(store, engine, r("flow", local(2, 6), 1.0, station="ST-M"))
    assert "ST-M" in engine.check_data_stopped()
    clock.t_ms = local(2, 9)  # in maintenance now: not judged, the alarm stays
    assert "ST-M" not in engine.check_data_stopped()
    assert [a["state"] for a in alarms(store, "data_stopped") if a["station"] == "ST-M"] == ["raised"]
    ingest(store, engine, r("flow", local(2, 9), 1.0, station="ST-M"))  # the crew's test reading
    assert [a["state"] for a in alarms(store, "data_stopped") if a["station"] == "ST-M"] == ["cleared"]


def test_the_service_timer_runs_the_data_stopped_check(store, tmp_path):
    import asyncio

    from watertel.cloud.service import every

    engine, _ = make_engine(store, tmp_path, start=local(2, 14))  # nobody reported: all in service stopped

    async def run() -> None:
        task = asyncio.create_task(every(0.01, engine.check_data_stopped, "data stopped check"))
        for _ in range(200):
            await asyncio.sleep(0.01)
            if alarms(store, "data_stopped"):
                break
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert sorted(a["station"] for a in alarms(store, "data_stopped")) == ["ST-1", "ST-2", "ST-M", "ST-NEW"]

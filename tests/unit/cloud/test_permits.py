"""Over-permit / over-plan (issue 8) and the rates report's over-permit list (issue 7): withdrawal
hand-computed from counter readings stored as ingest stores them in a real SQLite store, the
tiers and projection through the alarm engine, and the registry's permit checks.

This file holds the tests that need no server and start no process; the others are in
tests/integration/cloud/test_permits.py."""

from __future__ import annotations

import datetime as dt
import math
import re
from zoneinfo import ZoneInfo

import pytest

from watertel.cloud.alarms.config import AlarmsConfig
from watertel.cloud.alarms.engine import AlarmEngine
from watertel.cloud.permits.withdrawal import load_status
from watertel.cloud.quality.config import RatesConfig
from watertel.cloud.quality.period import parse_period
from watertel.cloud.quality.report import build_report
from watertel.cloud.registry import load_registry
from watertel.cloud.store.sqlite import SqliteStore
from watertel.config import ConfigError
from watertel.readings import Quality

from tests.support.paths import ROOT
from tests.support.permits import REPORT_PERMITS, at, fill, put, registry

SH = ZoneInfo("Asia/Shanghai")
MIN, HOUR, DAY = 60_000, 3_600_000, 86_400_000


@pytest.fixture
def store(tmp_path):
    opened = SqliteStore(tmp_path / "w.db")
    yield opened
    opened.close()


class Clock:
    def __init__(self, t_ms: int) -> None:
        self.t_ms = t_ms

    def __call__(self) -> float:
        return self.t_ms / 1000


def alarms(store, type_: str) -> list[dict]:
    return [a for a in reversed(store.alarms()) if a["type"] == type_]


# --- withdrawal ----------------------------------------------------------------------------------
MIXED = """\
- id: P-1
  holder: 某食品公司
  permitted_m3: 10000
  meters:
    - {station: ST-1, wraps_at: 1000}
    - ST-2
    - {station: WELL-3, point: energy, coefficient: 2.5}
"""


def test_withdrawal_handles_rollover_replacement_gap_untrusted_and_energy(store, tmp_path):
    reg = registry(tmp_path, MIXED)
    put(store, ("ST-1", "total", at(12, 31, 23, 2025), 900.0),  # before the year: the starting value only
        ("ST-1", "flow", at(1, 1, 1), 9999.0))  # another point of the station: not volume
    put(store, ("ST-1", "total", at(1, 1, 1), 950.0),  # +50
        ("ST-1", "total", at(1, 1, 2), math.nan, Quality.TIMEOUT),  # untrusted: skipped
        ("ST-1", "total", at(1, 1, 3), 5000.0, Quality.OUT_OF_RANGE),  # untrusted: skipped
        ("ST-1", "total", at(1, 1, 4), 20.0, Quality.TOTAL_ROLLOVER))  # 1000 - 950 + 20 = +70
    put(store, ("ST-1", "total", at(1, 5, 10), 320.0),  # four days of gap: +300 still counts
        ("ST-1", "total", at(1, 5, 11), 5.0, Quality.TOTAL_RESET),  # new meter: nothing, start again from 5
        ("ST-1", "total", at(1, 5, 12), 45.0))  # +40
    put(store, ("ST-2", "total", at(1, 2, 0), 990.0),
        ("ST-2", "total", at(1, 2, 6), 10.0, Quality.TOTAL_ROLLOVER),  # wrap value unknown: skipped
        ("ST-2", "total", at(1, 2, 12), 30.0))  # +20
    put(store, ("WELL-3", "energy", at(1, 3), 1000.0), ("WELL-3", "energy", at(1, 4), 1100.0))  # 100 kWh × 2.5
    put(store, ("ST-1", "total", at(1, 6, 1), 99999.0))  # after the as-of time: not counted

    s = load_status(store, reg.permits[0], at(1, 6), SH)
    st1, st2, well = s.meters
    assert (st1.volume, st1.rollovers, st1.resets, st1.untrusted, st1.readings) == (460.0, 1, 1, 2, 6)
    assert st1.by_day == {dt.date(2026, 1, 1): 120.0, dt.date(2026, 1, 5): 340.0}
    assert (st2.volume, st2.rollovers_skipped) == (20.0, 1)
    assert well.volume == 250.0 and well.by_day == {dt.date(2026, 1, 4): 250.0}
    assert s.volume == 730.0 and s.share == 0.073 and (s.year, s.first, s.end) == (2026, dt.date(2026, 1, 1),
                                                                                    dt.date(2027, 1, 1))


def test_a_permit_year_starting_in_july_counts_from_then(store, tmp_path):
    reg = registry(tmp_path, """\
        - {id: P-7, holder: 灌区, permitted_m3: 1000, year_start: "07-01", meters: [ST-2]}
    """)
    put(store, ("ST-2", "total", at(6, 30, 12), 100.0), ("ST-2", "total", at(7, 1, 12), 130.0),
        ("ST-2", "total", at(7, 2, 12), 150.0))
    s = load_status(store, reg.permits[0], at(7, 3), SH)
    assert (s.year, s.first, s.volume) == (2026, dt.date(2026, 7, 1), 50.0)  # 30 + 20: the step into July counts
    s = load_status(store, reg.permits[0], at(7, 1), SH)
    assert (s.year, s.first, s.end, s.volume) == (2025, dt.date(2025, 7, 1), dt.date(2026, 7, 1), 0.0)


# --- projection --------------------------------------------------------------------------------
def daily_noon(store, station: str, first: int, days: int, start: float, per_day: float) -> float:
    value = start
    for k in range(days):
        put(store, (station, "total", first + k * DAY + 12 * HOUR, value))
        value += per_day
    return value - per_day


def test_projection_from_the_last_30_days_run_rate(store, tmp_path):
    reg = registry(tmp_path, "- {id: P-1, holder: 水厂, permitted_m3: 20000, meters: [ST-1]}\n")
    last = daily_noon(store, "ST-1", at(1, 1), 31, 0.0, 200.0)  # Jan 1..31 noon: 30 steps of 200
    daily_noon(store, "ST-1", at(2, 1), 30, last + 100, 100.0)  # Feb 1..Mar 2 noon: 30 steps of 100
    s = load_status(store, reg.permits[0], at(3, 3), SH)
    assert s.volume == 9000.0  # 6000 + 3000
    # window from Feb 1 00:00 (30 days before Mar 3): 3000 m3 / 30 days = 100 m3/day;
    # 11000 m3 left / 100 = 110 days after Mar 3 00:00 -> Jun 21
    assert s.projection.rate_m3_per_day == 100.0 and s.projection.method == "run_rate"
    assert s.projection.date == dt.date(2026, 6, 21) and s.projected_within_year
    s = load_status(store, reg.permits[0], at(3, 3), SH, window_days=60)
    # from Jan 2 (60 days before): 6000 + 3000 m3 / 60 days = 150 m3/day; 11000 / 150 = 73.3 days -> May 15
    assert s.projection.rate_m3_per_day == 150.0 and s.projection.date == dt.date(2026, 5, 15)


def test_projection_follows_last_years_profile_when_a_year_was_recorded(store, tmp_path):
    reg = registry(tmp_path, "- {id: P-1, holder: 水厂, permitted_m3: 20000, meters: [ST-1]}\n")
    # 2025: 10 m3/day until Jun 30 noon, 200 m3/day after (a summer peak), read daily at noon
    v = daily_noon(store, "ST-1", at(12, 30, 0, 2024), 183, 0.0, 10.0)  # Dec 30 2024 .. Jun 30 2025
    v = daily_noon(store, "ST-1", at(7, 1, 0, 2025), 184, v + 200, 200.0)  # Jul 1 .. Dec 31 2025
    daily_noon(store, "ST-1", at(1, 1), 90, v + 20, 20.0)  # 2026: 20 m3/day, twice last year's level
    s = load_status(store, reg.permits[0], at(4, 1), SH)
    assert s.volume == 20 * 90 and s.projection.rate_m3_per_day == 20.0
    # run rate: 18200 m3 left / 20 = 910 days: not this year. Profile: last year's days scaled x2:
    # Apr 1..Jun 30 (91 days) x 20 = 1820 -> 3620 m3; then 400/day: (20000 - 3620) / 400 = 40.95 -> the
    # 41st day of July on -> Aug 10
    assert s.projection.run_rate_date > dt.date(2026, 12, 31)
    assert (s.projection.method, s.projection.date) == ("last_year_profile", dt.date(2026, 8, 10))


# --- alarms --------------------------------------------------------------------------------------
def test_tiers_raise_once_each_and_escalate(store, tmp_path):
    reg = registry(tmp_path, "- {id: P-1, holder: 水厂, permitted_m3: 1000, meters: [ST-1]}\n")
    engine = AlarmEngine(store, AlarmsConfig(), reg, SH, Clock(at(1, 1)))
    put(store, ("ST-1", "total", at(1, 1, 1), 0.0))
    steps = [(700, []), (800, ["yellow"]), (850, ["yellow"]), (900, ["yellow", "orange"]),
             (950, ["yellow", "orange"]), (1000, ["yellow", "orange", "red"]), (1200, ["yellow", "orange", "red"])]
    for hour, (value, expected) in enumerate(steps, start=2):
        put(store, ("ST-1", "total", at(1, 1, hour), float(value)))
        engine.check_permits(at(1, 1, hour) + MIN)
        assert [a["severity"] for a in alarms(store, "over_permit")] == expected, value
    yellow, orange, red = alarms(store, "over_permit")
    assert yellow["state"] == orange["state"] == "cleared" and red["state"] == "raised"
    assert orange["raised_ms"] == yellow["cleared_ms"] == at(1, 1, 5) + MIN
    assert (red["station"], red["point"]) == ("P-1", "permit")
    assert red["message"].startswith("permit P-1 (水厂), permit year from 2026-01-01: 1000 of 1000 m3 (100.0%),"
                                     " over the 100% tier")
    assert red["message"].endswith("(was orange)")
    # the year ends: below every tier in the new one, the alarm clears
    engine.check_permits(at(1, 1, 1, 2027))
    assert alarms(store, "over_permit")[-1]["state"] == "cleared"


def test_projected_exceedance_warns_and_clears_once_over(store, tmp_path):
    reg = registry(tmp_path, "- {id: P-1, holder: 水厂, permitted_m3: 20000, meters: [ST-1]}\n")
    cfg = AlarmsConfig.model_validate({"over_permit": {"projected_severity": "orange"}})
    engine = AlarmEngine(store, cfg, reg, SH, Clock(at(3, 3)))
    last = daily_noon(store, "ST-1", at(1, 1), 31, 0.0, 200.0)
    daily_noon(store, "ST-1", at(2, 1), 30, last + 100, 100.0)
    (status,) = engine.check_permits()
    (alarm,) = alarms(store, "over_permit_projected")
    assert alarm["severity"] == "orange" and "projected to reach the permit on 2026-06-21 (run_rate" in alarm["message"]
    assert alarms(store, "over_permit") == []  # 45 %: no tier yet
    put(store, ("ST-1", "total", at(3, 3, 12), 20000.0))
    engine.check_permits(at(3, 4))
    assert alarms(store, "over_permit_projected")[0]["state"] == "cleared"  # over now: over_permit says it
    assert alarms(store, "over_permit")[0]["severity"] == "red"


def test_over_plan_follows_the_running_month(store, tmp_path):
    reg = registry(tmp_path, """\
        - id: P-1
          holder: 水厂
          permitted_m3: 13000
          meters: [ST-1]
          plan: {annual: 12000, monthly: [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000]}
    """)
    cfg = AlarmsConfig.model_validate({"over_permit": {"plan_tiers": [{"share": 0.8, "severity": "blue"},
                                                                       {"share": 1.0, "severity": "orange"}]}})
    engine = AlarmEngine(store, cfg, reg, SH, Clock(0))
    put(store, ("ST-1", "total", at(1, 1, 1), 0.0), ("ST-1", "total", at(1, 20), 850.0))
    engine.check_permits(at(1, 21))
    (alarm,) = alarms(store, "over_plan")
    assert alarm["severity"] == "blue" and "monthly 2026-01-01..2026-01-31: 850 of 1000 m3 (85.0%)" in alarm["message"]
    put(store, ("ST-1", "total", at(1, 25), 1100.0))
    engine.check_permits(at(1, 26))
    assert [a["severity"] for a in alarms(store, "over_plan")] == ["blue", "orange"]
    put(store, ("ST-1", "total", at(2, 2), 1150.0))  # February: 50 of 1000
    engine.check_permits(at(2, 3))
    assert [a["state"] for a in alarms(store, "over_plan")] == ["cleared", "cleared"]


def test_a_permit_override_switches_it_off(store, tmp_path):
    reg = registry(tmp_path, "- {id: P-1, holder: 水厂, permitted_m3: 10, meters: [ST-1]}\n")
    cfg = AlarmsConfig.model_validate({"overrides": {"P-1": {"over_permit": {"enabled": False}}}})
    put(store, ("ST-1", "total", at(1, 1, 1), 0.0), ("ST-1", "total", at(1, 1, 2), 50.0))
    assert AlarmEngine(store, cfg, reg, SH).check_permits(at(1, 2)) == []
    assert alarms(store, "over_permit") == []


def test_tiers_must_rise():
    with pytest.raises(ValueError, match="tiers: list shares in rising order"):
        AlarmsConfig.model_validate({"over_permit": {"tiers": [{"share": 0.9, "severity": "orange"},
                                                               {"share": 0.8, "severity": "yellow"}]}})


# --- registry ------------------------------------------------------------------------------------
@pytest.mark.parametrize("permit, expected", [
    ("{id: P-1, holder: h, permitted_m3: 10, meters: [ST-9]}",
     r"registry.yaml:8: permits.0.meters.0.station: 'ST-9' is not a station in this file"),
    ("{id: P-1, holder: h, permitted_m3: 10, meters: [{station: ST-1, point: energy}]}",
     r"registry.yaml:8: permits.0.meters.0.point: station ST-1 does not report 'energy' \(its points: flow, total\)"),
    ("{id: P-1, holder: h, permitted_m3: 10, meters: [ST-2, {station: ST-2, coefficient: 2}]}",
     r"registry.yaml:8: permits.0.meters.1: ST-2/total already counts towards permit P-1"),
    ("{id: P-1, holder: h, permitted_m3: 10, meters: [ST-2], plan: {annual: 11}}",
     r"registry.yaml:8: permits.0.plan.annual: the annual plan 11 m3 is above the permitted 10 m3"),
    ("{id: P-1, holder: h, permitted_m3: 100, meters: [ST-2], plan: {annual: 60, bimonthly: [10, 10, 10, 10, 10, 11]}}",
     r"registry.yaml:8: permits.0.plan.bimonthly: the bimonthly plans sum to 61 m3 but the annual plan is 60 m3"),
    ("{id: P-1, holder: h, permitted_m3: 100, meters: [ST-2], plan: {monthly: [1, 2]}}",
     r"registry.yaml:8: permits.0.plan.monthly: .*at least 12"),
    ("{id: P-1, holder: h, permitted_m3: 100, meters: [ST-2], year_start: 02-30}",
     r"registry.yaml:8: permits.0.year_start: must be MM-DD, got '02-30'"),
    ("{id: P-1, holder: h, permitted_m3: 100, meters: [ST-2], year_start: 03-31}",
     r"registry.yaml:8: permits.0.year_start: the day must be 1-28"),
    ("{id: P-1, holder: h, permitted_m3: 0, meters: [ST-2]}",
     r"registry.yaml:8: permits.0.permitted_m3: .*use a number > 0"),
    ("{id: P-1, holder: h, permitted_m3: 10, meters: [{station: WELL-3, point: energy, coefficient: -1}]}",
     r"registry.yaml:8: permits.0.meters.0.coefficient: .*use a number > 0"),
])
def test_bad_permits_are_refused_naming_file_line_and_key(tmp_path, permit, expected):
    with pytest.raises(ConfigError) as err:
        registry(tmp_path, f"- {permit}\n")
    assert any(re.search(expected, p) for p in err.value.problems), err.value.problems


def test_two_permits_cannot_share_an_id_or_a_meter(tmp_path):
    with pytest.raises(ConfigError) as err:
        registry(tmp_path, """\
            - {id: P-1, holder: a, permitted_m3: 10, meters: [ST-1]}
            - {id: P-1, holder: b, permitted_m3: 10, meters: [{station: ST-1, point: total}]}
        """)
    assert err.value.problems == [
        f"{tmp_path / 'registry.yaml'}:9: permits.1.id: permit id 'P-1' is used twice (give each permit its own id)",
        f"{tmp_path / 'registry.yaml'}:9: permits.1.meters.0: ST-1/total already counts towards permit P-1"
        " (a meter counts once)"]


def test_the_shipped_example_registry_has_permits():
    reg = load_registry(ROOT / "deploy" / "registry.example.yaml")
    assert reg.permits and all(p.meters for p in reg.permits)


def test_the_rates_report_lists_permits_over_a_tier(store, tmp_path):
    reg = registry(tmp_path, REPORT_PERMITS)
    fill(store)
    report = build_report(store, reg, parse_period("2026-01", SH), RatesConfig(), now=at(3, 1))
    (item,) = report.problems["over_permit"]
    assert {k: item[k] for k in ("permit", "holder", "region", "volume_m3", "permitted_m3", "share", "tier",
                                 "severity", "since")} == {
        "permit": "P-1", "holder": "某食品公司", "region": "zj/hz/xh", "volume_m3": 850.0, "permitted_m3": 1000.0,
        "share": 0.85, "tier": 0.8, "severity": "yellow", "since": "2026-01-11"}
    # as of Feb 1 00:00: 850 m3 in the window from Jan 2, i.e. 30 days -> 150 m3 left at 28.33/day = 5.29 days
    assert item["projection"] == {"date": "2026-02-06", "method": "run_rate", "rate_m3_per_day": 850 / 30,
                                  "within_year": True}
    tiers = AlarmsConfig.model_validate({"over_permit": {"tiers": [{"share": 0.5, "severity": "blue"}]}})
    report = build_report(store, reg, parse_period("2026-01", SH), RatesConfig(), now=at(3, 1), alarms=tiers)
    assert [(x["permit"], x["severity"]) for x in report.problems["over_permit"]] == [("P-1", "blue"), ("P-2", "blue")]


def test_no_projection_warning_from_the_first_days_of_a_permit_year(store, tmp_path):
    """A cold first week runs at four times the permit's pace: too little of the year to project from."""
    reg = registry(tmp_path, "- {id: P-1, holder: 水厂, permitted_m3: 36500, meters: [ST-1]}\n")
    engine = AlarmEngine(store, AlarmsConfig(), reg, SH, Clock(at(1, 1)))
    last = daily_noon(store, "ST-1", at(1, 1), 13, 0.0, 400.0)  # 400 m3/day against 100 allowed on average
    engine.check_permits(at(1, 13, 13))
    assert alarms(store, "over_permit_projected") == []  # 12 days in: under projection_min_days (14)
    daily_noon(store, "ST-1", at(1, 14), 3, last + 400, 400.0)
    engine.check_permits(at(1, 16, 13))
    assert [a["state"] for a in alarms(store, "over_permit_projected")] == ["raised"]  # 15 days: warned

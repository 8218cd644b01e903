"""The 三率 dashboard's drill-downs: a station's missing and late reports (slots.py) add up to its
rates report, and the 12-month trend (trend.py) is each month's report."""

from __future__ import annotations

import datetime as dt

import pytest

from watertel.cloud.quality.config import RatesConfig
from watertel.cloud.quality.period import parse_period
from watertel.cloud.quality.report import build_report
from watertel.cloud.quality.slots import as_json, station_slots
from watertel.cloud.quality.trend import month_periods, monthly_trend
from watertel.cloud.store.sqlite import SqliteStore
from watertel.readings import Quality

from tests.support.quality import CFG, HOUR, MIN, SH, local, put, registry


@pytest.fixture
def store(tmp_path):
    store = SqliteStore(tmp_path / "watertel.db")
    yield store
    store.close()


def hourly(tmp_path):
    """H: hourly, flow and level listed; W: hourly, any point; from 2026-10-01."""
    return registry(tmp_path, """\
        - {id: H, name: 小时站, region: xh, interval_minutes: 60, points: [flow, level], commissioned: 2026-10-01}
        - {id: W, region: yh, interval_minutes: 60, commissioned: 2026-10-01,
           maintenance: [{start: "2026-10-02T00:00", end: "2026-10-02T06:00", note: 换表}]}
    """)


def test_a_stations_missing_slots_come_as_runs_and_late_reports_with_their_delay(tmp_path, store):
    reg = hourly(tmp_path)
    for h in range(48):  # two days of H: flow every hour but 05:00-08:59 of day 1; level late on day 2
        t = local(1, h)
        if not 5 <= h < 9:
            put(store, t + MIN, ("H", t, "flow"))
        put(store, t + (90 * MIN if h >= 24 else MIN), ("H", t, "level"))
    put(store, local(2, 3) + HOUR, ("H", local(2, 3) + 10 * MIN, "flow"))  # a second reading in a slot: counted once
    period = parse_period("2026-10-01..2026-10-02", SH)
    found = station_slots(store, reg.stations[0], period, CFG)

    assert (found.expected, found.received, found.missing) == (96, 92, 4)
    assert [(g.point, g.start_ms, g.end_ms, g.slots) for g in found.gaps] == [("flow", local(1, 5), local(1, 9), 4)]
    assert found.late_count == 24 and found.on_time == 68
    first = found.late[0]
    assert (first.point, first.slot_ms, first.sample_ms, first.received_ms, first.delay_s) == (
        "level", local(2, 0), local(2, 0), local(2, 0) + 90 * MIN, 5400.0)
    report = build_report(store, reg, period, CFG, now=local(3, 12))
    h = next(s for s in report.stations if s.station == "H")
    assert (h.expected, h.received, h.on_time, h.late) == (found.expected, found.received, found.on_time, found.late_count)

    answer = as_json(found, limit=0)  # the totals stay whole when the lists are cut
    assert (answer["missing"], answer["late"], answer["gaps_total"], answer["gaps"]) == (4, 24, 1, [])


def test_a_station_without_listed_points_needs_one_report_a_slot_outside_maintenance(tmp_path, store):
    reg = hourly(tmp_path)
    for h in range(24, 48):  # day 2 only, from any point; 00:00-05:59 was maintenance
        if h not in (30, 31, 40):
            put(store, local(1, h) + MIN, ("W", local(1, h), "level" if h % 2 else "flow"))
    put(store, local(2, 12) + 2 * HOUR, ("W", local(2, 12) + MIN, "flow", Quality.OK))  # late, but 12:00 had a reading
    found = station_slots(store, reg.stations[1], parse_period("2026-10-02", SH), CFG)
    assert found.expected == 18 and found.received == 15 and found.missing == 3
    assert [(g.point, g.start_ms, g.slots) for g in found.gaps] == [("", local(2, 6), 2), ("", local(2, 16), 1)]
    assert found.late == []  # the slot of 12:00 had an on-time reading too
    report = build_report(store, reg, parse_period("2026-10-02", SH), CFG, now=local(3, 12))
    w = next(s for s in report.stations if s.station == "W")
    assert (w.expected, w.received) == (found.expected, found.received)


def test_days_whose_raw_readings_are_gone_are_named_not_called_missing(tmp_path, store):
    reg = hourly(tmp_path)
    for h in range(48):
        put(store, local(1, h) + MIN, ("W", local(1, h), "flow"))
    period = parse_period("2026-10-01..2026-10-02", SH)
    build_report(store, reg, period, CFG, now=local(3, 12))  # the day rollups are written
    store._rows("DELETE FROM readings WHERE t_ms < ?", (local(2),))  # retention took day 1's raw readings
    found = station_slots(store, reg.stations[1], period, CFG)
    assert found.raw_gone_days == [dt.date(2026, 10, 1)] and found.missing == 0 and found.expected == 18


def test_a_period_longer_than_a_year_is_refused(tmp_path, store):
    reg = hourly(tmp_path)
    with pytest.raises(ValueError, match="367 days, more than 366"):
        station_slots(store, reg.stations[0], parse_period("2026-01-01..2027-01-02", SH), CFG)


def test_the_trend_is_each_months_report_and_stops_at_yesterday(tmp_path, store):
    reg = registry(tmp_path, """\
        - {id: A, region: xh, interval_minutes: 1440, commissioned: 2026-08-01}
        - {id: B, region: hs, interval_minutes: 1440, commissioned: 2026-08-01}
    """)
    for month, days in ((8, 31), (9, 30), (10, 12)):
        for day in range(1, days + 1):
            t = local(day, 8, month=month)
            put(store, t + MIN, ("A", t))
            if month != 9 or day > 10:  # B misses ten days of September
                put(store, t + (2 * HOUR if month == 10 else MIN), ("B", t))  # late all October
    today = dt.date(2026, 10, 13)
    trend = monthly_trend(store, reg, None, today, 12, CFG, today)
    assert [m["period"] for m in trend] == ["2025-11", "2025-12", *(f"2026-{m:02d}" for m in range(1, 11))]
    assert [m["partial"] for m in trend] == [False] * 11 + [True]
    month = {m["period"]: m for m in trend}
    assert month["2026-10"]["last_day"] == "2026-10-12" and month["2026-10"]["expected"] == 24
    for m in trend[-4:]:
        label = f"{m['period']}-01..{m['last_day']}"
        overall = build_report(store, reg, parse_period(label, SH), CFG, now=local(13, 12)).overall
        assert (m["completeness"], m["upload_rate"], m["timeliness"], m["abnormal_rate"]) == (
            overall.completeness, overall.upload_rate, overall.timeliness, overall.abnormal_rate), label
    assert month["2026-09"]["upload_rate"] == pytest.approx(50 / 60)
    assert month["2026-09"]["below_target"] == "completeness upload_rate abnormal_rate"
    assert month["2026-10"]["timeliness"] == 0.5 and "timeliness" in month["2026-10"]["below_target"]
    assert trend[0]["stations"] == 0 and trend[0]["upload_rate"] is None and trend[0]["below_target"] == ""
    assert monthly_trend(store, reg, None, dt.date(2026, 12, 1), 3, CFG, today)[-1]["period"] == "2026-10"  # no future months
    hz = monthly_trend(store, reg, "hz", today, 3, CFG, today)
    assert [m["period"] for m in hz] == ["2026-08", "2026-09", "2026-10"] and hz[1]["upload_rate"] == 1.0


def test_month_periods_cross_the_year_boundary():
    labels = [p.label for p in month_periods(dt.date(2027, 2, 14), 4, RatesConfig())]
    assert labels == ["2026-11", "2026-12", "2027-01", "2027-02"]
    assert month_periods(dt.date(2027, 2, 14), 1, RatesConfig())[0].last == dt.date(2027, 2, 28)


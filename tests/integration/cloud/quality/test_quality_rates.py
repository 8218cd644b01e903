"""The four rates, hand-computed, on SQLite and on a real PostgreSQL (readings stored the way ingest
stores them, with chosen arrival times).

This file holds the tests that need a real server or run a command; the others are in
tests/unit/cloud/quality/test_quality_rates.py."""

from __future__ import annotations

import datetime as dt

from watertel.cloud.quality.config import RatesConfig
from watertel.cloud.quality.period import parse_period
from watertel.cloud.quality.report import build_report
from watertel.readings import Quality

from tests.support.quality import CFG, HOUR, MIN, local, on_time, put, registry


def report(store, reg, period: str, cfg: RatesConfig = CFG, **kw):
    return build_report(store, reg, parse_period(period, cfg.tz), cfg, **kw)


def test_upload_and_timeliness_with_duplicates_late_and_future_data(store, tmp_path):
    reg = registry(tmp_path, """\
        - {id: S, region: xh, interval_minutes: 360, points: [flow], commissioned: 2026-01-01}
        """)
    for day in range(1, 11):
        for hour in (0, 6, 12, 18):
            t = local(day, hour) + MIN
            if (day, hour) == (2, 6):
                continue  # missing
            if (day, hour) == (4, 0) or (day, hour) == (4, 6):
                put(store, t + 61 * MIN, ("S", t))  # late: counts as received, not on time
            elif (day, hour) == (4, 12):
                put(store, t + 60 * MIN, ("S", t))  # exactly 60 minutes: on time
            elif (day, hour) == (5, 12):
                put(store, t - 10 * MIN, ("S", t))  # sample 10 min after its arrival: clock ahead
            elif (day, hour) == (5, 18):
                put(store, t - 4 * MIN, ("S", t))  # 4 min ahead: within the 5 min tolerance
            elif (day, hour) == (6, 0):
                put(store, t + MIN, ("S", t, "flow", Quality.SENSOR_FAULT))
            else:
                put(store, t + MIN, ("S", t))
    t = local(3, 0) + MIN
    put(store, t + MIN, ("S", t))  # the same reading again: stored once
    put(store, t + 3 * MIN, ("S", t + 2 * MIN))  # another sample in the same slot: counted once
    put(store, t + MIN, ("S", t, "temperature"))  # a point the station is not expected to report
    put(store, local(1) - HOUR, ("S", local(1) - HOUR))  # before the period

    s = report(store, reg, "2026-10-01..2026-10-10").stations[0]
    assert (s.expected, s.received, s.on_time, s.late, s.future, s.flagged) == (40, 39, 36, 2, 1, 2)
    assert s.upload_rate == 39 / 40 and s.timeliness == 36 / 39
    assert s.missing_days == [dt.date(2026, 10, 2)]  # 3 of 4 = 75 % < 95 %
    assert s.flagged_days == [dt.date(2026, 10, 5), dt.date(2026, 10, 6)]  # 1 of 4 flagged > 5 %
    assert s.silent_days == [] and s.reporting_normally  # 97.5 % and no silent day
    assert s.abnormal  # 3 abnormal days of 10 >= 20 %


def test_commissioned_mid_month_maintenance_and_decommissioned_leave_the_denominator(store, tmp_path):
    reg = registry(tmp_path, """\
        - {id: MID, region: xh, interval_minutes: 1440, commissioned: 2026-10-11}
        - id: MAINT
          region: xh
          interval_minutes: 1440
          commissioned: 2026-01-01
          maintenance:
            - {start: "2026-10-05T00:00", end: "2026-10-08T00:00"}
            - {start: "2026-10-20T12:00:00+08:00", end: "2026-10-20T13:00:00+08:00"}
        - {id: DEC, region: yh, interval_minutes: 1440, commissioned: 2026-01-01, decommissioned: 2026-10-21}
        - {id: GONE, region: yh, interval_minutes: 1440, commissioned: 2026-01-01, decommissioned: 2026-09-01}
        """)
    for day in range(1, 32):
        on_time(store, "MID", local(day, 9))  # also before commissioning: not counted
        on_time(store, "DEC", local(day, 9))  # also after decommissioning: not counted
        if day not in (5, 6, 7, 25):
            on_time(store, "MAINT", local(day, 9))
    rep = report(store, reg, "2026-10")
    got = {s.station: (s.expected, s.received, s.service_days, s.reporting_normally) for s in rep.stations}
    assert got == {"MID": (21, 21, 21, True), "MAINT": (28, 27, 28, False), "DEC": (20, 20, 20, True),
                   "GONE": (0, 0, 0, False)}
    maint = rep.stations[1]
    assert maint.silent_days == [dt.date(2026, 10, 25)] and not maint.abnormal  # 1 of 28 days < 20 %
    total = rep.overall
    assert (total.stations, total.normal, total.expected, total.received) == (3, 2, 69, 68)  # GONE is not counted
    assert total.completeness == 2 / 3 and total.upload_rate == 68 / 69 and total.abnormal_rate == 0
    assert "GONE" not in {p["station"] for p in rep.problems["under_target"]}
    assert [p["station"] for p in rep.problems["under_target"]] == ["MAINT"]


def test_a_station_is_abnormal_from_20_percent_of_its_days(store, tmp_path):
    reg = registry(tmp_path, """\
        - {id: SIX, region: xh, interval_minutes: 1440, commissioned: 2026-01-01}
        - {id: FIVE, region: xh, interval_minutes: 1440, commissioned: 2026-01-01}
        - {id: BAD, region: yh, interval_minutes: 720, commissioned: 2026-01-01}
        """)
    for day in range(1, 31):
        if day not in (2, 4, 6, 8, 10, 12):
            on_time(store, "SIX", local(day, 1, month=11))
        if day not in (2, 4, 6, 8, 10):
            on_time(store, "FIVE", local(day, 1, month=11))
        on_time(store, "BAD", local(day, 1, month=11))  # every day: one normal report ...
        on_time(store, "BAD", local(day, 13, month=11), quality=Quality.OUT_OF_RANGE if day <= 6 else Quality.OK)
    rep = report(store, reg, "2026-11")
    six, five, bad = rep.stations
    assert (len(six.abnormal_days), six.service_days, six.abnormal) == (6, 30, True)  # 6/30 = 20 %: abnormal
    assert (len(five.abnormal_days), five.abnormal) == (5, False)
    assert bad.flagged == 6 and len(bad.flagged_days) == 6 and bad.missing_days == [] and bad.abnormal
    assert bad.upload_rate == 1.0 and bad.reporting_normally  # flagged data still arrived
    assert rep.overall.abnormal_rate == 2 / 3 and "abnormal_rate" in rep.overall.failing(CFG)
    listed = {p["station"]: p for p in rep.problems["abnormal_days"]}
    assert listed["SIX"]["missing"][:2] == ["2026-11-02", "2026-11-04"] and listed["BAD"]["flagged"][0] == "2026-11-01"


def test_regions_roll_up_from_station_counts(store, tmp_path):
    reg = registry(tmp_path, """\
        - {id: A, region: xh, interval_minutes: 1440, commissioned: 2026-01-01}
        - {id: B, region: yh, interval_minutes: 1440, commissioned: 2026-01-01}
        - {id: C, region: hs, interval_minutes: 1440, commissioned: 2026-01-01}
        """)
    for day in range(1, 11):
        t = local(day, 8)
        on_time(store, "A", t)
        if day not in (3, 4):
            on_time(store, "B", t)
        put(store, t + (2 * HOUR if day <= 5 else MIN), ("C", t))
    rep = report(store, reg, "2026-10-01..2026-10-10")
    rows = {r.region: (r.stations, r.normal, r.abnormal, r.expected, r.received, r.on_time) for r in rep.regions}
    assert rows == {"": (3, 2, 1, 30, 28, 23), "zj": (3, 2, 1, 30, 28, 23), "hz": (2, 1, 1, 20, 18, 18),
                    "xh": (1, 1, 0, 10, 10, 10), "yh": (1, 0, 1, 10, 8, 8), "empty": (0, 0, 0, 0, 0, 0),
                    "nb": (1, 1, 0, 10, 10, 5), "hs": (1, 1, 0, 10, 10, 5)}
    zj = rep.regions[1]
    assert (zj.completeness, zj.upload_rate, zj.timeliness, zj.abnormal_rate) == (2 / 3, 28 / 30, 23 / 28, 1 / 3)
    empty = next(r for r in rep.regions if r.region == "empty")
    assert (empty.completeness, empty.upload_rate, empty.timeliness, empty.abnormal_rate) == (None,) * 4
    assert [r.level for r in rep.regions] == ["all", "province", "city", "county", "county", "county", "city", "county"]
    hz = report(store, reg, "2026-10-01..2026-10-10", region="hz")
    assert [r.region for r in hz.regions] == ["hz", "xh", "yh", "empty"]
    assert (hz.overall.completeness, hz.overall.upload_rate, hz.overall.abnormal_rate) == (0.5, 0.9, 0.5)
    assert [s.station for s in hz.stations] == ["A", "B"]


def test_quarters_and_days_are_cut_at_local_midnight_1600_utc(store, tmp_path):
    reg = registry(tmp_path, """\
        - {id: Q, region: xh, interval_minutes: 1440, commissioned: 2026-01-01}
        """)
    utc = lambda *a: int(dt.datetime(*a, tzinfo=dt.timezone.utc).timestamp() * 1000)  # noqa: E731
    for t in (utc(2026, 9, 30, 15, 59), utc(2026, 9, 30, 16, 0), utc(2026, 12, 31, 15, 59), utc(2026, 12, 31, 16, 0)):
        on_time(store, "Q", t)
    q4 = report(store, reg, "2026-Q4")
    assert q4.period.start_ms == utc(2026, 9, 30, 16) and q4.period.end_ms == utc(2026, 12, 31, 16)
    assert (q4.stations[0].expected, q4.stations[0].received) == (92, 2)
    assert report(store, reg, "2026-q3").stations[0].received == 1
    assert report(store, reg, "2026-10-01").stations[0].received == 1
    in_utc = RatesConfig(timezone="UTC")
    assert report(store, reg, "2026-Q4", in_utc).stations[0].received == 1  # Dec 31 15:59Z and 16:00Z: one day


def test_stations_that_stopped_reporting_and_since_when(store, tmp_path):
    reg = registry(tmp_path, """\
        - {id: STOP, region: xh, interval_minutes: 60, commissioned: 2026-01-01}
        - {id: NEVER, region: xh, interval_minutes: 60, commissioned: 2026-10-11}
        - {id: LIVE, region: yh, interval_minutes: 60, commissioned: 2026-01-01}
        - {id: OLD, region: yh, interval_minutes: 60, commissioned: 2026-01-01, decommissioned: 2026-10-15}
        """)
    on_time(store, "STOP", local(20, 10))
    on_time(store, "LIVE", local(25, 10))
    on_time(store, "LIVE", local(31, 23))
    rep = report(store, reg, "2026-10", now=local(5, 0, month=11))
    stopped = {p["station"]: p for p in rep.problems["stopped"]}
    assert set(stopped) == {"STOP", "NEVER"}
    assert stopped["STOP"]["since"] == "2026-10-20T11:00:00+08:00" and stopped["STOP"]["hours"] == 11 * 24 + 13
    assert stopped["NEVER"]["since"] == "2026-10-11T00:00:00+08:00" and stopped["NEVER"]["last_sample"] is None
    midway = report(store, reg, "2026-10", now=local(25, 12))  # LIVE: 2 h since its last sample, under 3 intervals
    assert {p["station"] for p in midway.problems["stopped"]} == {"STOP", "NEVER"}

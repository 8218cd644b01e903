"""Day rollups of the rates (cloud/quality/rollups.py) give the figures the raw readings give, on
SQLite and on a real PostgreSQL: the hand-computed cases of test_quality_rates.py, late data after
a refresh, a registry change, raw retention, and the migration that adds the tables.

This file holds the tests that need a real server or run a command; the others are in
tests/unit/cloud/quality/test_quality_rollups.py."""

from __future__ import annotations

import datetime as dt

import pytest

from watertel.cloud.quality.config import RatesConfig
from watertel.cloud.quality.export import to_json
from watertel.cloud.quality.period import parse_period
from watertel.cloud.quality.report import build_report
from watertel.cloud.quality.rollups import ALL, claim, finish, refresh
from watertel.cloud.store import SqlStore
from watertel.cloud.store.schema import DIRTY_BUCKET_MS
from watertel.cloud.store.sqlite import SqliteStore
from watertel.readings import Quality

from tests.support.quality import (
    CFG, DAY, HOUR, local, marks, MIN, on_time, put, rate_days, REGIONS, registry, STATIONS,
)
from tests.support.cli import watertel
from tests.support.stores import UNDO_VERSION_7, UNDO_VERSION_9


def reports(store: SqlStore, reg, period: str, cfg: RatesConfig = CFG, **kw):
    """The report from the rollups, checked equal to the one recomputed from raw; the former."""
    p = parse_period(period, cfg.tz)
    rolled = build_report(store, reg, p, cfg, now=local(1, month=12), **kw)
    raw = build_report(store, reg, p, cfg, now=local(1, month=12), from_raw=True, **kw)
    assert _json(rolled) == _json(raw)
    return rolled


def _json(report) -> dict:
    out = to_json(report)
    out.pop("generated_ms")
    return out


def late_duplicate_future(store: SqlStore, tmp_path):
    """test_quality_rates' first case: 40 expected, 39 received, 36 on time, 2 late, 1 future, 2 flagged."""
    reg = registry(tmp_path, "- {id: S, region: xh, interval_minutes: 360, points: [flow], commissioned: 2026-01-01}\n")
    for day in range(1, 11):
        for hour in (0, 6, 12, 18):
            t = local(day, hour) + MIN
            if (day, hour) == (2, 6):
                continue
            delay = {(4, 0): 61 * MIN, (4, 6): 61 * MIN, (4, 12): 60 * MIN, (5, 12): -10 * MIN,
                     (5, 18): -4 * MIN}.get((day, hour), MIN)
            quality = Quality.SENSOR_FAULT if (day, hour) == (6, 0) else Quality.OK
            put(store, t + delay, ("S", t, "flow", quality))
    t = local(3, 0) + MIN
    put(store, t + MIN, ("S", t))
    put(store, t + 3 * MIN, ("S", t + 2 * MIN))
    put(store, t + MIN, ("S", t, "temperature"))
    put(store, local(1) - HOUR, ("S", local(1) - HOUR))
    return reg


def test_hand_computed_cases_come_out_the_same_from_the_rollups(store, tmp_path):
    reg = late_duplicate_future(store, tmp_path)
    s = reports(store, reg, "2026-10-01..2026-10-10").stations[0]
    assert (s.expected, s.received, s.on_time, s.late, s.future, s.flagged) == (40, 39, 36, 2, 1, 2)
    assert s.missing_days == [dt.date(2026, 10, 2)] and s.flagged_days == [dt.date(2026, 10, 5), dt.date(2026, 10, 6)]
    assert marks(store) == [] and len(rate_days(store, "S")) == 11  # refreshed: the days, and Sep 30 (marked too)
    for period in ("2026-10", "2026-10-04", "2026-10-02..2026-10-05", "2026-Q4", "2026-09-30"):
        reports(store, reg, period)


def test_commissioning_maintenance_decommissioning_and_abnormal_days(store, tmp_path):
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
        - {id: BAD, region: hs, interval_minutes: 720, commissioned: "2026-10-03T12:00"}
        """)
    for day in range(1, 32):
        on_time(store, "MID", local(day, 9))
        on_time(store, "DEC", local(day, 9))
        if day not in (5, 6, 7, 25):
            on_time(store, "MAINT", local(day, 9))
        on_time(store, "BAD", local(day, 1))
        on_time(store, "BAD", local(day, 13), quality=Quality.OUT_OF_RANGE if day <= 9 else Quality.OK)
    rep = reports(store, reg, "2026-10")
    got = {s.station: (s.expected, s.received, s.service_days, s.reporting_normally) for s in rep.stations}
    assert got == {"MID": (21, 21, 21, True), "MAINT": (28, 27, 28, False), "DEC": (20, 20, 20, True),
                   "GONE": (0, 0, 0, False), "BAD": (57, 57, 29, True)}
    assert rep.stations[-1].abnormal and len(rep.stations[-1].flagged_days) == 7  # Oct 3 (only 13:00) … Oct 9
    assert rate_days(store, "GONE") == {} and len(rate_days(store, "MID")) == 21  # days out of service: no row
    for period in ("2026-10-03", "2026-10-20", "2026-10-10..2026-10-12", "2026-10-21"):
        reports(store, reg, period)


def test_intervals_that_do_not_divide_the_day_count_the_same_in_every_period(store, tmp_path):
    """The slot grid is fixed (not laid from each period's start), so day rollups add up to any period."""
    reg = registry(tmp_path, """\
        - {id: SEVEN, region: xh, interval_minutes: 7, commissioned: 2026-01-01}
        - {id: WEEKLY, region: xh, interval_minutes: 10080, commissioned: 2026-01-01}
        """)
    for t in range(local(1), local(8), 7 * MIN):
        if (t // (7 * MIN)) % 10:
            put(store, t + 3 * MIN, ("SEVEN", t + 3 * MIN))  # late in its slot: some slots run past midnight
    put(store, local(3, 5), ("WEEKLY", local(3, 5)))
    week = reports(store, reg, "2026-10-01..2026-10-07")
    days = [reports(store, reg, f"2026-10-0{d}") for d in range(1, 8)]
    for i in range(2):
        assert week.stations[i].expected == sum(d.stations[i].expected for d in days)
        assert week.stations[i].received == sum(d.stations[i].received for d in days)
    assert [d.stations[1].expected for d in days].count(1) == 1  # a weekly slot starts on one day of the seven


def test_late_data_after_a_refresh_updates_its_own_day(store, tmp_path):
    reg = registry(tmp_path, "- {id: S, region: xh, interval_minutes: 360, commissioned: 2026-01-01}\n")
    for day in (1, 2, 3):
        for hour in (1, 7, 13):
            on_time(store, "S", local(day, hour))
    before = reports(store, reg, "2026-10-01..2026-10-03").stations[0]
    assert (before.expected, before.received) == (12, 9)
    rows = rate_days(store, "S")
    put(store, local(5), ("S", local(2, 19)))  # day 2's fourth report, three days late
    assert marks(store) == [("S", local(2, 19) // DIRTY_BUCKET_MS)]
    after = reports(store, reg, "2026-10-01..2026-10-03").stations[0]
    assert (after.received, after.on_time, after.late) == (10, 9, 1)
    again = rate_days(store, "S")
    assert again[local(2)][1:3] == (4, 3) and {d: again[d] for d in (local(1), local(3))} == \
        {d: rows[d] for d in (local(1), local(3))}
    assert marks(store) == []


def test_a_mark_made_while_its_refresh_runs_is_kept_and_a_failed_refresh_is_redone(store, tmp_path):
    bucket = local(1, 1) // DIRTY_BUCKET_MS
    on_time(store, "S", local(1, 1))
    on_time(store, "T", local(1, 1))
    assert claim(store, "", ALL, 10) == [("S", bucket), ("T", bucket)] and marks(store) == []
    on_time(store, "S", local(1, 1) + 5 * MIN)  # same bucket, after the refresh read the raw rows
    assert marks(store) == [("S", bucket)]
    finish(store, [], [("T", bucket)])  # as if S's rows failed to be written: its claim stays
    reg = registry(tmp_path, "- {id: S, region: xh, interval_minutes: 5, commissioned: 2026-01-01}\n")
    on_time(store, "T", local(2, 1))
    assert refresh(store, reg.stations, CFG) == 2 and marks(store) == []  # T is not in the registry: its mark goes
    assert store._rows("SELECT count(*) FROM rollup_claimed") == [(0,)]
    assert rate_days(store, "S")[local(1)][1:3] == (2, 2) and rate_days(store, "T") == {}


def test_a_registry_change_makes_rows_stale_and_the_report_recomputes_them(store, tmp_path):
    first = registry(tmp_path, "- {id: S, region: xh, interval_minutes: 360, commissioned: 2026-01-01}\n")
    for day in range(1, 6):
        for hour in range(0, 24, 3):
            on_time(store, "S", local(day, hour + 1))
    assert reports(store, first, "2026-10-01..2026-10-05").stations[0].upload_rate == 1.0
    old = rate_days(store, "S")
    (tmp_path / "registry.yaml").unlink()
    second = registry(tmp_path, """\
        - id: S
          region: xh
          interval_minutes: 180
          commissioned: 2026-01-01
          maintenance: [{start: "2026-10-03T00:00", end: "2026-10-03T06:00"}]
        """)
    s = reports(store, second, "2026-10-01..2026-10-05").stations[0]
    assert (s.expected, s.received) == (38, 38)
    new = rate_days(store, "S")
    assert all(new[d][0] != old[d][0] for d in old) and new[local(3)][1] == 6 and new[local(1)][1] == 8
    assert new[local(1)][0] == new[local(2)][0] != new[local(3)][0]  # the basis is the day's service time


def test_after_raw_retention_the_rates_come_from_the_rollups(store, tmp_path):
    reg = late_duplicate_future(store, tmp_path)
    kept = _json(reports(store, reg, "2026-10"))
    store._execute("DELETE FROM readings WHERE t_ms < ?", (local(6),))  # what apply_retention does, by age
    assert _json(build_report(store, reg, parse_period("2026-10", CFG.tz), CFG, now=local(1, month=12))) == kept
    raw = build_report(store, reg, parse_period("2026-10", CFG.tz), CFG, now=local(1, month=12), from_raw=True)
    assert raw.stations[0].received == 20  # the raw readings of days 6-10 only

    # other settings make every row stale: days with raw rows are recomputed, the others kept as they were
    wider = RatesConfig(on_time_minutes=90)
    rep = build_report(store, reg, parse_period("2026-10", wider.tz), wider, now=local(1, month=12))
    s = rep.stations[0]
    assert (s.received, s.on_time) == (39, 36)  # day 4's late reports (61 min) kept as counted under 60 min
    stale = rep.problems["stale_rollups"]
    assert [(x["station"], x["days"], x["region"]) for x in stale] == \
        [("S", [f"2026-10-0{d}" for d in range(1, 6)], "zj/hz/xh")]
    assert "stale_rollups" in to_json(rep)["problems"]


def test_a_store_at_schema_3_is_migrated_to_the_rollup_tables(store, tmp_path):
    reg = registry(tmp_path, "- {id: S, region: xh, interval_minutes: 1440, commissioned: 2026-01-01}\n")
    on_time(store, "S", local(1, 8))
    store._execute("DROP TABLE rollup_dirty")  # what schema version 3 looked like
    store._execute("DROP TABLE rollup_claimed")
    store._execute("DROP TABLE rate_days")
    for sql in UNDO_VERSION_9 + UNDO_VERSION_7:
        store._execute(sql)
    if isinstance(store, SqliteStore):
        store.db.execute("PRAGMA user_version = 3")
        reopen = lambda migrate: SqliteStore(store.path, migrate)  # noqa: E731
    else:
        from watertel.cloud.store.postgres import PostgresStore

        store._execute("UPDATE schema_version SET version = 3")
        dsn = store.conn.info.dsn
        reopen = lambda migrate: PostgresStore(dsn, migrate)  # noqa: E731
    from watertel.cloud.store import StoreError

    with pytest.raises(StoreError, match="schema version 3, older than this watertel"):
        reopen(False)
    migrated = reopen(True)
    try:
        assert marks(migrated) == [] and rate_days(migrated, "S") == {}
        on_time(migrated, "S", local(2, 8))  # new readings are marked; older ones are counted on demand
        assert marks(migrated) == [("S", local(2, 8) // DIRTY_BUCKET_MS)]
        s = reports(migrated, reg, "2026-10-01..2026-10-02").stations[0]
        assert (s.expected, s.received) == (2, 2) and len(rate_days(migrated, "S")) == 2
    finally:
        migrated.close()


def test_a_day_is_one_local_day_of_rows_in_asia_shanghai(store, tmp_path):
    reg = registry(tmp_path, "- {id: Q, region: xh, interval_minutes: 1440, commissioned: 2026-01-01}\n")
    utc = lambda *a: int(dt.datetime(*a, tzinfo=dt.timezone.utc).timestamp() * 1000)  # noqa: E731
    for t in (utc(2026, 9, 30, 15, 59), utc(2026, 9, 30, 16, 0), utc(2026, 12, 31, 15, 59), utc(2026, 12, 31, 16, 0)):
        on_time(store, "Q", t)
    q4 = reports(store, reg, "2026-Q4")
    assert (q4.stations[0].expected, q4.stations[0].received) == (92, 2)
    assert all(d % DAY == 16 * HOUR for d in rate_days(store, "Q"))  # keyed by local midnight
    in_utc = RatesConfig(timezone="UTC")
    assert reports(store, reg, "2026-Q4", in_utc).stations[0].received == 1  # other days: other rows
    assert len({basis for basis, *_ in rate_days(store, "Q").values()}) == 2


def test_marks_are_floor_buckets_on_both_back_ends(store):
    """The insert marks bucket t_ms // 15 min (floor, also before 1970), as refresh maps them to days."""
    put(store, 0, ("S", -1), ("S", 0), ("S", DIRTY_BUCKET_MS - 1), ("S", 2 * DIRTY_BUCKET_MS))
    assert marks(store) == [("S", -1), ("S", 0), ("S", 2)]


def test_report_rates_from_raw_gives_the_figures_of_the_rollups(tmp_path):
    import json

    (tmp_path / "registry.yaml").write_text(REGIONS + STATIONS, encoding="utf-8")
    (tmp_path / "cloud.yaml").write_text("data_dir: data\nregistry_file: registry.yaml\n")
    store = SqliteStore(tmp_path / "data" / "watertel.db")
    for day in range(1, 11):
        put(store, local(day, 8) + (2 * HOUR if day > 6 else MIN), ("A", local(day, 8)), ("C", local(day, 9)))
    store.close()
    args = ("report", "rates", "--config", str(tmp_path / "cloud.yaml"), "--period", "2026-10")
    rolled, raw = watertel(*args), watertel(*args, "--from-raw")
    assert rolled.returncode == raw.returncode == 0, rolled.stderr + raw.stderr
    one, other = json.loads(rolled.stdout), json.loads(raw.stdout)
    assert one["overall"]["received"] == 15 and one["overall"]["on_time"] == 10  # C's first day: clock ahead
    assert {k: v for k, v in one.items() if k != "generated_ms"} == {k: v for k, v in other.items() if k != "generated_ms"}


def test_days_of_23_and_25_hours_in_a_zone_with_daylight_saving(store, tmp_path):
    berlin = RatesConfig(timezone="Europe/Berlin")
    reg = registry(tmp_path, """\
        - {id: H1, region: xh, interval_minutes: 60, commissioned: 2026-01-01}
        - {id: H2, region: yh, interval_minutes: 120, commissioned: 2026-01-01}
        - {id: M7, region: hs, interval_minutes: 7, commissioned: "2026-10-24T13:00", points: [flow, total]}
        """)
    start = int(dt.datetime(2026, 10, 23, tzinfo=berlin.tz).timestamp() * 1000)
    for t in range(start, start + 5 * DAY, 20 * MIN):
        put(store, t + (90 * MIN if t % (3 * HOUR) == 0 else MIN), ("H1", t), ("H2", t), ("M7", t), ("M7", t, "total"))
    for period in ("2026-10", "2026-10-25", "2026-10-24..2026-10-26", "2026-03-29", "2026-10-23"):
        reports(store, reg, period, berlin)
    day = reports(store, reg, "2026-10-25", berlin).stations  # 25 hours: 25 hourly slots
    assert day[0].expected == 25 and day[0].received == 25

"""Hour rollups of each point (cloud/quality/hourly.py, ``point_hours`` in cloud/store/hourly.py) on SQLite and a real
PostgreSQL: hand-computed hours and days, late data redoing its own hour (and a totaliser's next
step across midnight), the migration to schema 6, and GET /api/series?step=hour|day over real HTTP."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from watertel.cloud.quality.hourly import day_rollups, hour_rollups
from watertel.cloud.quality.rollups import refresh
from watertel.cloud.store.sqlite import SqliteStore
from watertel.readings import Quality

from tests.support.api import PASSWORD, Client, registry as api_registry, serve
from tests.support.hourly import hours, put
from tests.support.quality import CFG, DAY, HOUR, MIN, local, registry
from tests.support.stores import UNDO_VERSION_7, UNDO_VERSION_9

OK, FAULT, TIMEOUT, RESET = Quality.OK, Quality.SENSOR_FAULT, Quality.TIMEOUT, Quality.TOTAL_RESET


def figures(h: dict) -> tuple:
    """expected, received, on_time, abnormal, readings, n, min, max, mean, volume."""
    mean = h["value_sum"] / h["value_count"] if h["value_count"] else None
    return (*(h[k] for k in ("expected", "received", "on_time", "abnormal", "readings", "value_count", "value_min",
                             "value_max")), mean, h["volume"])


@pytest.fixture
def day_one(store, tmp_path):
    """Station S (15 min, flow and total) on 1 Oct 2026: hours 07-09 hold readings."""
    reg = registry(tmp_path, "- {id: S, region: xh, interval_minutes: 15, points: [flow, total], commissioned: 2026-01-01}\n")
    put(store, ("S", "flow", local(1, 8), 2.0), ("S", "flow", local(1, 8.5), 99.0, FAULT), ("S", "flow", local(1, 9), 4.0))
    put(store, ("S", "flow", local(1, 8.25), 6.0), delay=2 * HOUR)  # late
    put(store, *(("S", "total", local(1, 7.75 + i / 4), v) for i, v in enumerate([95.0, 100.0, 110.0, 125.0, 130.0])))
    put(store, ("S", "total", local(1, 9), 2.0, RESET), ("S", "total", local(1, 9.25), 7.0),
        ("S", "total", local(1, 9.5), math.nan, TIMEOUT), ("S", "total", local(1, 9.75), 9.0))
    assert refresh(store, reg.stations, CFG) > 0
    return reg


def test_hand_computed_hours_and_day(store, day_one):
    got = hours(store)
    assert len(got) == 48, "every hour of the local day, for each listed point (zero rows where nothing came)"
    assert figures(got["flow", local(1, 8)]) == (4, 3, 2, 1, 3, 2, 2.0, 6.0, 4.0, None)
    assert figures(got["flow", local(1, 9)]) == (4, 1, 1, 0, 1, 1, 4.0, 4.0, 4.0, None)
    assert figures(got["flow", local(1, 10)]) == (4, 0, 0, 0, 0, 0, None, None, None, None)
    assert figures(got["total", local(1, 7)]) == (4, 1, 1, 0, 1, 1, 95.0, 95.0, 95.0, 0.0)  # no step before it
    assert figures(got["total", local(1, 8)]) == (4, 4, 4, 0, 4, 4, 100.0, 130.0, 116.25, 35.0)  # 95 → 130
    # a reset counts nothing, the timeout is skipped (abnormal, not in min/max), then 7 → 9
    assert figures(got["total", local(1, 9)]) == (4, 4, 4, 1, 4, 3, 2.0, 9.0, 6.0, 7.0)

    flow, = day_rollups(store, "S", "flow", dt.date(2026, 10, 1), dt.date(2026, 10, 2), CFG.tz)
    assert (flow.t_ms, flow.expected, flow.received, flow.on_time, flow.abnormal) == (local(1), 96, 4, 3, 1)
    assert (flow.count, flow.min, flow.max, flow.mean, flow.volume) == (3, 2.0, 6.0, 4.0, None)
    total, = day_rollups(store, "S", "total", dt.date(2026, 10, 1), dt.date(2026, 10, 1), CFG.tz)
    assert (total.received, total.abnormal, total.volume) == (9, 1, 42.0)
    assert [h.t_ms for h in hour_rollups(store, "S", "flow", local(1, 8), local(1, 10))] == [local(1, 8), local(1, 9)]


def test_late_data_redoes_its_own_hour_and_the_totalisers_next_step(store, day_one):
    before = hours(store)
    put(store, ("S", "flow", local(1, 8.75), 10.0), delay=3 * HOUR)
    assert refresh(store, day_one.stations, CFG) == 1
    after = hours(store)
    assert figures(after["flow", local(1, 8)]) == (4, 4, 2, 1, 4, 3, 2.0, 10.0, 6.0, None)
    assert {k: v for k, v in after.items() if k != ("flow", local(1, 8))} == \
        {k: v for k, v in before.items() if k != ("flow", local(1, 8))}, "the other hours are as they were"

    put(store, ("S", "total", local(1, 23.75), 1000.0), ("S", "total", local(2), 1010.0))
    refresh(store, day_one.stations, CFG)
    assert hours(store)["total", local(2)]["volume"] == 10.0
    put(store, ("S", "total", local(1, 23.75) + 5 * MIN, 1008.0), delay=HOUR)  # late, on the day before
    refresh(store, day_one.stations, CFG)
    now = hours(store)
    assert now["total", local(2)]["volume"] == 2.0, "the step after the late reading is redone, on the next day"
    assert now["total", local(1, 23)]["volume"] == 991.0 + 8.0  # 9 at 09:45, then 1000, then 1008


def test_hours_follow_the_station_service_time(store, tmp_path):
    reg = registry(tmp_path, "- {id: M, region: xh, interval_minutes: 60, commissioned: \"2026-10-01T12:00\"}\n")
    put(store, ("M", "level", local(1, 6), 3.0), ("M", "level", local(1, 13), 4.0))
    refresh(store, reg.stations, CFG)
    got = hours(store, "M")
    assert got["level", local(1, 6)]["expected"] == 0 and got["level", local(1, 6)]["value_max"] == 3.0
    assert sum(h["expected"] for h in got.values()) == 12, "no points listed: the point reporting is expected"


def test_a_store_at_schema_5_is_migrated_to_the_hour_rollups(store, tmp_path):
    reg = registry(tmp_path, "- {id: S, region: xh, interval_minutes: 60, commissioned: 2026-01-01}\n")
    put(store, ("S", "flow", local(1, 8), 1.0))
    store._execute("DROP TABLE point_hours")  # what schema version 5 looked like
    for sql in UNDO_VERSION_9 + UNDO_VERSION_7:
        store._execute(sql)
    if isinstance(store, SqliteStore):
        store.db.execute("PRAGMA user_version = 5")
        reopen = lambda migrate: SqliteStore(store.path, migrate)  # noqa: E731
    else:
        from watertel.cloud.store.postgres import PostgresStore

        store._execute("UPDATE schema_version SET version = 5")
        dsn = store.conn.info.dsn
        reopen = lambda migrate: PostgresStore(dsn, migrate)  # noqa: E731
    from watertel.cloud.store import StoreError

    with pytest.raises(StoreError, match="schema version 5, older than this watertel"):
        reopen(False)
    migrated = reopen(True)
    try:
        refresh(migrated, reg.stations, CFG)  # the mark made before the upgrade is still there
        assert figures(hours(migrated)["flow", local(1, 8)])[:6] == (1, 1, 1, 0, 1, 1)
    finally:
        migrated.close()


# --- GET /api/series?step= over real HTTP ----------------------------------------------------------


def test_series_serves_hours_and_days_and_falls_back_to_them_when_raw_is_gone(tmp_path):
    from watertel.cloud.api.app import create_app
    from watertel.cloud.api.auth import hash_password
    from watertel.cloud.config import ApiConfig
    from watertel.cloud.users import UserEntry

    store = SqliteStore(tmp_path / "watertel.db")
    reg = api_registry()  # ST-XH: every 5 minutes from 2024-01-01
    t = 1_717_200_000_000  # 2024-06-01 08:00 in Asia/Shanghai
    put(store, *(("ST-XH", "flow", t + i * 5 * MIN, float(i % 12)) for i in range(48 * 12)))
    refresh(store, reg.stations, CFG)
    app = create_app(store, ApiConfig(users=[UserEntry(username="viewer", password_hash=hash_password(PASSWORD))]),
                     registry=reg)
    base, server, thread = serve(app)
    try:
        viewer = Client(base)
        assert viewer.login("viewer")[0] == 200
        query = f"/api/series?station=ST-XH&point=flow&from={t}&to={t + 2 * DAY}"
        status, body, _ = viewer.call("GET", query + "&step=hour")
        assert status == 200 and body["mode"] == "hour" and body["bucket_ms"] == HOUR and len(body["points"]) == 48
        assert body["points"][0] == {"t_ms": t, "expected": 12, "received": 12, "on_time": 12, "abnormal": 0,
                                     "n": 12, "min": 0.0, "max": 11.0, "mean": 5.5, "volume": None}

        status, body, _ = viewer.call("GET", query + "&step=day")  # local days 1-3 June: 16 h, 24 h, 8 h of data
        assert status == 200 and body["mode"] == "day" and body["tz"] == "Asia/Shanghai"
        assert [(p["t_ms"], p["n"], p["expected"]) for p in body["points"]] == \
            [(t - 8 * HOUR, 192, 288), (t + 16 * HOUR, 288, 288), (t + 40 * HOUR, 96, 288)]

        assert viewer.call("GET", query)[1]["mode"] == "raw"  # 576 readings, none aged out
        # a range from mid-hour: the hour it starts in has readings before it, none aged out
        mid = f"/api/series?station=ST-XH&point=flow&from={t + 57 * MIN}&to={t + 2 * DAY}"
        assert viewer.call("GET", mid)[1]["mode"] == "raw"
        assert store.delete_readings_before(t + DAY, limit=10**6) == 288  # the first day's raw aged out
        status, body, _ = viewer.call("GET", query)
        assert status == 200 and body["mode"] == "hour" and body["count"] == 288 and len(body["points"]) == 48
        assert body["points"][0]["n"] == 12 and body["unit"] == "m3"
        assert viewer.call("GET", mid)[1]["mode"] == "hour"
        status, body, _ = viewer.call("GET", query + "&max_points=10")
        assert body["mode"] == "day" and len(body["points"]) == 3
        assert viewer.call("GET", f"/api/series?station=ST-XH&point=flow&from={t + DAY}&to={t + 2 * DAY}")[1]["mode"] == "raw"

        status, body, _ = viewer.call("GET", f"/api/series?station=ST-XH&point=flow&from={t}&to={t + 3650 * DAY}&step=hour")
        assert status == 422 and "step=day" in body["detail"]
        assert viewer.call("GET", query + "&step=week")[0] == 422
    finally:
        server.should_exit = True
        thread.join(10)
        store.close()

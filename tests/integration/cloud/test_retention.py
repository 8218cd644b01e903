"""Retention (cloud/service.py apply_retention, RetentionConfig) on SQLite and a real PostgreSQL:
raw readings by age with per-point overrides, hour rollups by age, exactly what it should and
nothing else; the rollups of hours whose raw data is gone stay as they were when a later refresh
redoes their day; and the config keys' checks.

This file holds the tests that need a real server or run a command; the others are in
tests/unit/cloud/test_retention.py."""

from __future__ import annotations

import asyncio

import pytest

from watertel.cloud.quality.rollups import refresh
from watertel.cloud.service import apply_retention

from tests.support.hourly import hours, put
from tests.support.quality import CFG, DAY, HOUR, local, registry
from tests.support.stores import BACK_ENDS, store_on

NOW = local(15, month=12, year=2027)  # local midnight, so whole-day ages are whole hours


AGES = [500, 430, 410, 401, 100, 91, 89, 1]  # days, for every point


POINTS = ("flow", "turbidity", "total")


def raw(store) -> set[tuple[str, int]]:
    return {(p, t) for p, t in store._rows("SELECT point, t_ms FROM readings")}



@pytest.fixture(params=BACK_ENDS)
def store(request, tmp_path):
    opened = store_on(request, tmp_path / "w.db")
    yield opened
    opened.close()

def test_retention_removes_exactly_what_it_should_and_nothing_else(store, tmp_path):
    reg = registry(tmp_path, "- {id: S, region: xh, interval_minutes: 60, points: [flow, turbidity, total],"
                             " commissioned: 2025-01-01}\n")
    put(store, *(("S", p, NOW - age * DAY, float(age)) for p in POINTS for age in AGES))
    put(store, ("S", "flow", NOW - 400 * DAY, 400.0), ("S", "flow", NOW - 400 * DAY - 1, 400.1))  # the edge
    refresh(store, reg.stations, CFG)
    before_raw, before_hours = raw(store), hours(store)
    assert len(before_hours) == 9 * 24 * 3, "every hour of the 9 local days with readings, for each point"

    # raw 400 days, turbidity 90, total 420 (kept longer: PostgreSQL must not drop its month, Oct 2026,
    # although that month ended before the 400-day cutoff); hour rollups 450 days
    gone = asyncio.run(apply_retention(store, raw_days=400, pause_s=0, by_point={"turbidity": 90, "total": 420},
                                       hourly_days=450, now_ms=NOW))
    kept = {"flow": [400, 100, 91, 89, 1], "turbidity": [89, 1], "total": [410, 401, 100, 91, 89, 1]}
    assert raw(store) == {(p, NOW - age * DAY) for p, ages in kept.items() for age in ages}
    assert gone == len(before_raw) - len(raw(store)) == 13
    cut = NOW - 450 * DAY
    assert hours(store) == {k: v for k, v in before_hours.items() if k[1] >= cut}
    assert len(before_hours) - len(hours(store)) == 72, "the day 500 days back, whole"

    # late readings on days whose raw data has (partly) gone: their days are redone from raw, but the
    # hours that lost their raw readings keep the figures they had
    late = [("S", "flow", NOW - 401 * DAY + 2 * HOUR, 7.0), ("S", "turbidity", NOW - 91 * DAY + 2 * HOUR, 0.5)]
    put(store, *late, delay=NOW - late[0][2])
    assert refresh(store, reg.stations, CFG) == 2
    after = hours(store)
    new = {("flow", late[0][2]), ("turbidity", late[1][2])}
    assert {k: v for k, v in after.items() if k not in new} == \
        {k: v for k, v in before_hours.items() if k[1] >= cut and k not in new}
    assert after["flow", NOW - 401 * DAY]["readings"] == 1 and after["flow", NOW - 401 * DAY]["value_max"] == 401.0
    assert after["turbidity", NOW - 91 * DAY]["value_count"] == 1
    assert all(after[k]["readings"] == 1 and after[k]["value_count"] == 1 for k in new)

    # a second run finds nothing more to do
    assert asyncio.run(apply_retention(store, raw_days=400, pause_s=0, by_point={"turbidity": 90, "total": 420},
                                       hourly_days=450, now_ms=NOW + HOUR - 1)) == 2  # the two late readings
    assert len(hours(store)) == len(after)

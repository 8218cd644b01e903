"""The four rates, hand-computed, on SQLite and on a real PostgreSQL (readings stored the way ingest
stores them, with chosen arrival times).

This file holds the tests that need no server and start no process; the others are in
tests/integration/cloud/quality/test_quality_rates.py."""

from __future__ import annotations

import datetime as dt

import pytest

from watertel.cloud.quality.period import PeriodError, parse_period

from tests.support.quality import CFG, DAY, HOUR, MIN, SH, local, registry


def test_periods_are_read_in_every_documented_form():
    assert parse_period("2026-02", SH).days[-1] == dt.date(2026, 2, 28)
    assert len(parse_period("2026-Q1", SH).days) == 90 and len(parse_period("2026-10-01..2026-10-03", SH).days) == 3
    for bad in ("2026-13", "2026-Q5", "October", "2026-10-05..2026-10-01", "2026-02-30"):
        with pytest.raises(PeriodError, match="period"):
            parse_period(bad, SH)


def test_rows_of_stations_outside_the_selection_count_for_nothing(tmp_path):
    """Large selections are filtered after the query (no 10,000-parameter statement): same result."""
    from watertel.cloud.quality.rates import compute

    st = registry(tmp_path, "- {id: S, region: xh, interval_minutes: 1440, commissioned: 2026-01-01}\n").stations
    t = local(1, 8)
    batches = [[("OTHER", "flow", t, t, 0), ("S", "flow", t, t + MIN, 0)], [("OTHER", "flow", t + DAY, t + DAY, 0)], []]
    (s,) = compute(st, iter(batches), parse_period("2026-10-01..2026-10-02", SH), CFG)
    assert (s.expected, s.received, s.on_time, s.silent_days) == (2, 1, 1, [dt.date(2026, 10, 2)])


def test_rows_in_any_order_and_longer_foreign_ids_are_grouped_right(tmp_path):
    """Rows interleaved across batches (a CSV export) group as rows in key order do; an id that
    starts with a registered one is another station, not that one cut short."""
    from watertel.cloud.quality.rates import compute

    st = registry(tmp_path, """\
        - {id: S, region: xh, interval_minutes: 1440, commissioned: 2026-01-01, points: [flow]}
        - {id: T, region: xh, interval_minutes: 1440, commissioned: 2026-01-01}
        """).stations
    d1, d2 = local(1, 8), local(2, 8)
    batches = [[("T", "x", d2, d2, 0), ("S", "flow", d1, d1, 0), ("SX", "flow", d2, d2, 0)],
               [("S", "flowmeter", d2, d2, 0), ("T", "x", d1, d1 + 2 * HOUR, 0), ("S", "flow", d2, d2 + 2 * HOUR, 0)]]
    s, t = compute(st, iter(batches), parse_period("2026-10-01..2026-10-02", SH), CFG)
    assert (s.station, s.expected, s.received, s.on_time) == ("S", 2, 2, 1)
    assert (t.station, t.expected, t.received, t.on_time) == ("T", 2, 2, 1)

"""Benchmark (not a test): a monthly rates report recomputed from raw readings.

Run: .venv/bin/python bench/bench_rates.py [--stations 4000] [--days 30] [--interval 5] [--runs 3]
     [--store N]

``--stations`` stations at a ``--interval``-minute interval over ``--days`` days (4,000 × 5 min ×
30 days = 34.56 million readings), about 1 % of the slots dropped, 2 % late and 0.5 % flagged,
are handed to the rates computation as the store hands them (batches of row tuples), and the
time of `compute` (grouping, slotting, per-day counts, rules) is measured ``--runs`` times; the
median is quoted. Target (issue 7): ≤ 60 s from the raw readings.

``--store N`` also loads the first N stations into a SQLite store in a temporary folder and times
`build_report` end to end (rows fetched from SQLite included), and states the share of that
time spent fetching.

``--rollups`` times the report from the day rollups (issue 7: ≤ 2 s for 4,000 stations at 5 min):
``rate_days`` of a SQLite store is filled directly with one current row per station and day,
then `build_report` (refresh of the period's marks, reading the rows, the rules, the roll-up) is
timed ``--runs`` times (at least 3), after one day of raw readings of every station was stored with
its marks, as ingest leaves them, and the refresh that turned them into rows was timed. ``--runs 0
--rollups`` skips the raw-readings computation (and its 34 million generated rows).

Progress goes to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench_edge import say  # noqa: E402
from watertel.cloud.quality.config import RatesConfig  # noqa: E402
from watertel.cloud.quality.period import Period  # noqa: E402
from watertel.cloud.quality.rates import compute  # noqa: E402
from watertel.cloud.registry import Station  # noqa: E402

BATCH = 50_000  # as SqlStore.rate_rows fetches


def stations(n: int, interval: int) -> list[Station]:
    return [Station(id=f"ST-{i:05d}", region="county", interval_minutes=interval, commissioned=dt.date(2026, 1, 1))
            for i in range(n)]


def readings(sts: list[Station], period: Period, seed: int = 1) -> list[list[tuple]]:
    """Row batches (station, point, t_ms, received_ms, quality) with drops, delays and flags."""
    rng = np.random.default_rng(seed)
    batches, batch = [], []
    for st in sts:
        t = np.arange(period.start_ms, period.end_ms, st.interval_ms, dtype=np.int64)
        t = t[rng.random(len(t)) >= 0.01]
        delay = np.where(rng.random(len(t)) < 0.02, 2 * 3_600_000, 15_000)
        quality = np.where(rng.random(len(t)) < 0.005, 4, 0)
        batch += zip([st.id] * len(t), ["flow"] * len(t), t.tolist(), (t + delay).tolist(), quality.tolist())
        while len(batch) >= BATCH:
            batches.append(batch[:BATCH])
            batch = batch[BATCH:]
    return batches + ([batch] if batch else [])


def time_compute(sts: list[Station], batches: list[list[tuple]], period: Period, cfg: RatesConfig) -> tuple[float, int]:
    start = time.perf_counter()
    rates = compute(sts, iter(batches), period, cfg)
    return time.perf_counter() - start, sum(r.expected for r in rates)


def time_store(sts: list[Station], batches: list[list[tuple]], period: Period, cfg: RatesConfig) -> dict:
    """Load the rows of ``sts`` into SQLite, then time fetching alone and `build_report` end to end."""
    from watertel.cloud.quality.report import build_report
    from watertel.cloud.registry import County, City, Province, Registry, RegistryFile
    from watertel.cloud.store.sqlite import SqliteStore

    ids = {s.id for s in sts}
    with tempfile.TemporaryDirectory(prefix="bench-rates-") as tmp:
        store = SqliteStore(Path(tmp) / "watertel.db")
        rows = 0
        with store.db:
            store.db.execute("BEGIN")
            for batch in batches:
                chosen = [(s, p, t, 1.0, "m3/h", q, "gw", 0, r) for s, p, t, r, q in batch if s in ids]
                store.db.executemany("INSERT INTO readings VALUES (?,?,?,?,?,?,?,?,?)", chosen)
                rows += len(chosen)
        say(f"store: {rows:,} readings loaded")
        registry = Registry(RegistryFile(provinces=[Province(id="p", name="p", cities=[
            City(id="c", name="c", counties=[County(id="county", name="county")])])], stations=sts))
        start = time.perf_counter()
        fetched = sum(len(b) for b in store.rate_rows(period.start_ms, period.end_ms, [s.id for s in sts]))
        fetch_s = time.perf_counter() - start
        start = time.perf_counter()
        report = build_report(store, registry, period, cfg, from_raw=True)
        total_s = time.perf_counter() - start
        store.close()
    assert fetched == rows and report.overall.received == rows
    return {"stations": len(sts), "readings": rows, "report_s": round(total_s, 2), "fetch_s": round(fetch_s, 2),
            "fetch_share": round(fetch_s / total_s, 2), "readings_per_s": round(rows / total_s)}


def time_rollups(sts: list[Station], period: Period, cfg: RatesConfig, runs: int) -> dict:
    """A report read from ``rate_days`` (filled directly), and the refresh of one day from raw."""
    from watertel.cloud.quality.report import build_report
    from watertel.cloud.quality.rollups import Basis, refresh
    from watertel.cloud.quality.rates import service_intervals
    from watertel.cloud.registry import County, City, Province, Registry, RegistryFile
    from watertel.cloud.store.schema import DIRTY_BUCKET_MS
    from watertel.cloud.store.sqlite import SqliteStore

    registry = Registry(RegistryFile(provinces=[Province(id="p", name="p", cities=[
        City(id="c", name="c", counties=[County(id="county", name="county")])])], stations=sts))
    rng, basis, bounds = np.random.default_rng(2), Basis(cfg), period.day_bounds_ms()
    with tempfile.TemporaryDirectory(prefix="bench-rollups-") as tmp:
        store = SqliteStore(Path(tmp) / "watertel.db")
        rows = []
        for st in sts:
            per_day = (bounds[1] - bounds[0]) // st.interval_ms
            received = per_day - (rng.random(len(bounds) - 1) < 0.3) * rng.integers(1, 20, len(bounds) - 1)
            on_time = received - rng.integers(0, 6, len(bounds) - 1)
            rows += [(day, st.id, b, int(r), int(o), 0, int(r // 200)) for day, b, r, o in
                     zip(bounds, basis.days(st, service_intervals(st, period), bounds), received, on_time)]
        store.put_rate_days(rows)
        say(f"rollups: {len(rows):,} rate_days rows stored")
        day = Period("one day", period.last, period.last, cfg.tz)
        batches = readings(sts, day, seed=3)
        with store.db:
            store.db.execute("BEGIN")
            for batch in batches:
                store.db.executemany("INSERT INTO readings VALUES (?,?,?,?,?,?,?,?,?)",
                                     [(s, p, t, 1.0, "m3/h", q, "gw", 0, r) for s, p, t, r, q in batch])
            store.db.execute("INSERT OR IGNORE INTO rollup_dirty (station, bucket)"
                             f" SELECT DISTINCT station, t_ms / {DIRTY_BUCKET_MS} FROM readings")
        marks = store._rows("SELECT count(*) FROM rollup_dirty")[0][0]
        n = sum(len(b) for b in batches)
        say(f"rollups: one day, {n:,} readings and {marks:,} marks stored")
        start = time.perf_counter()
        cleared = refresh(store, sts, cfg)
        refresh_s = time.perf_counter() - start
        times = []
        for i in range(max(runs, 3)):
            start = time.perf_counter()
            report = build_report(store, registry, period, cfg)
            times.append(time.perf_counter() - start)
            say(f"rollups run {i + 1}: report {times[-1]:.2f} s")
        assert "stale_rollups" not in report.problems

        start = time.perf_counter()
        store.last_samples(period.end_ms)  # what a report read before: every reading kept, grouped
        last_s = time.perf_counter() - start
        check = build_report(store, registry, day, cfg, from_raw=True).overall
        got = store._rows("SELECT sum(received), sum(on_time) FROM rate_days WHERE day_ms = ?", (day.start_ms,))[0]
        store.close()
    assert cleared == marks and tuple(got) == (check.received, check.on_time)
    return {"stations": len(sts), "days": len(bounds) - 1, "rate_days_rows": len(rows),
            "report_s_median": round(statistics.median(times), 3), "report_s_runs": [round(t, 3) for t in times],
            "target_s": 2, "refresh_one_day_s": round(refresh_s, 2), "refresh_readings": n, "refresh_marks": marks,
            "refresh_readings_per_s": round(n / refresh_s), "last_samples_group_by_one_day_s": round(last_s, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stations", type=int, default=4000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--interval", type=int, default=5, help="minutes")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--store", type=int, default=0, help="also time a report from SQLite for this many stations")
    parser.add_argument("--rollups", action="store_true", help="also time a report from the day rollups (SQLite)")
    args = parser.parse_args()
    cfg = RatesConfig()
    period = Period(f"{args.days} days", dt.date(2026, 10, 1), dt.date(2026, 10, args.days), cfg.tz) \
        if args.days <= 31 else Period("range", dt.date(2026, 1, 1), dt.date(2026, 1, 1) + dt.timedelta(days=args.days - 1), cfg.tz)
    sts = stations(args.stations, args.interval)
    result = {"bench": "rates", "machine": platform.machine(), "cpus": __import__("os").cpu_count(),
              "stations": len(sts), "days": args.days, "interval_minutes": args.interval}
    if args.runs:
        start = time.perf_counter()
        batches = readings(sts, period)
        n = sum(len(b) for b in batches)
        say(f"{n:,} readings of {len(sts):,} stations generated in {time.perf_counter() - start:.1f} s")
        runs = []
        for i in range(args.runs):
            seconds, expected = time_compute(sts, batches, period, cfg)
            runs.append(seconds)
            say(f"run {i + 1}: compute {seconds:.1f} s ({n / seconds:,.0f} readings/s)")
        result |= {"expected": expected, "readings": n, "compute_s_median": round(statistics.median(runs), 2),
                   "compute_s_runs": [round(r, 2) for r in runs], "target_s": 60,
                   "readings_per_s": round(n / statistics.median(runs))}
        if args.store:
            result["sqlite"] = time_store(sts[:args.store], batches, period, cfg)
    if args.rollups:
        result["rollups"] = time_rollups(sts, period, cfg, args.runs)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""`watertel rates`: the same rates computed offline from two CSV files, for data from any platform.

A regulator can check another platform's figures, or ours, without a database. Both files are
CSV with a header line, read by ``cloud/csv_tables``: UTF-8 (with or without a BOM), or GB18030/GBK
as Excel on Chinese Windows saves it (said in a warning; any other encoding is refused with the
fix); columns are matched by name, others are ignored; every bad cell is reported as
``file:line: column: problem (fix)``.

Stations (one row per station)::

    station,region,interval_minutes,commissioned,decommissioned,name,points
    ST-0001,zj/hz/xh,5,2026-10-10,,三墩水厂取水口,
    ST-0002,zj/hz/xh,60,2026-01-01,2026-10-20,老井,flow;total

* ``region``: a slash-separated path, ``province/city/county`` (fewer levels are allowed); the
  report rolls up along it.
* ``commissioned`` (empty: in service before the period), ``decommissioned`` (empty: still in
  service): ISO dates (or Excel's 2026/10/10), local midnight in the report calendar, or
  date-times.
* ``name`` and ``points`` (``;``-separated; empty: one report per interval from any point) are optional.

Arrivals (one row per reading received)::

    station,sample_time,received_time,flag,point
    ST-0001,2026-10-10T00:05:00+08:00,2026-10-10T00:05:12+08:00,,flow

* ``sample_time`` and ``received_time``: ISO 8601 (or Excel's ``2026/10/10 8:05``); without an
  offset, local time in the calendar.
* ``flag``: empty or ``ok`` for a normal value; a watertel quality name that keeps the value
  (``total_rollover``, ``total_reset``, ``clock_unsynced``) also counts as normal; anything else
  marks the value abnormal.
* ``point`` is optional (needed only for stations that list their points).

The period is ``START/END`` (ISO dates, END excluded) or any form `report rates` takes.
"""

from __future__ import annotations

import datetime as dt
import functools
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from watertel.cloud.csv_tables import open_table
from watertel.cloud.csv_tables.cells import CellError, quality, time_ms
from watertel.cloud.csv_tables.stations import PathRegistry, path_stations
from watertel.cloud.quality.config import RatesConfig
from watertel.cloud.quality.period import Period, PeriodError, parse_period
from watertel.cloud.quality.report import RatesReport, assemble
from watertel.cloud.registry import Station
from watertel.errors import OperatorError

STATION_COLUMNS = ("station", "region", "interval_minutes", "commissioned", "decommissioned")
STATION_FIELDS = ("name", "interval_minutes", "points", "commissioned", "decommissioned")  # shared ones read here
ARRIVAL_COLUMNS = ("station", "sample_time", "received_time", "flag")
UNTRUSTED = -1  # a quality code no reading carries: the rates treat it as not trustworthy
BATCH = 100_000


def parse_range(text: str, tz: ZoneInfo) -> Period:
    """``START/END`` with END excluded (the issue's form), or any form `report rates` accepts."""
    if "/" not in text:
        return parse_period(text, tz)
    start, _, end = text.partition("/")
    try:
        first, stop = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except ValueError:
        raise PeriodError(f"period {text!r}: write START/END as ISO dates, e.g. 2026-10-01/2026-11-01") from None
    if stop <= first:
        raise PeriodError(f"period {text!r}: END (excluded) must be after START")
    return Period(text, first, stop - dt.timedelta(days=1), tz)


def load_stations(path: Path, period: Period) -> tuple[PathRegistry, list[Station]]:
    """The station table as a registry whose regions are the paths found in it; an empty
    ``commissioned`` cell means in service before the period."""
    with open_table(path, STATION_COLUMNS) as table:
        stations = [st for _, st in path_stations(table, STATION_FIELDS, period.first)]
    table.problems.raise_if_any()
    registry = PathRegistry.of(stations)
    return registry, stations


@functools.lru_cache(maxsize=256)  # a file has a handful of distinct flags, over millions of rows
def flag(text: str) -> int:
    """The quality code of a ``flag`` cell: ok (or empty), a quality that keeps the value, or UNTRUSTED
    for any other text (an abnormal value, whatever the exporting platform called it)."""
    try:
        found = quality(text)
    except CellError:
        return UNTRUSTED
    return int(found) if found.trusted_value else UNTRUSTED


def read_arrivals(path: Path, stations: set[str], tz: ZoneInfo, last: dict[str, int], before_ms: int,
                  progress: TextIO | None = None) -> Iterator[list[tuple]]:
    """Batches of (station, point, t_ms, received_ms, quality) rows; fills ``last`` on the way.

    Rows of stations not in the table are skipped and counted; an unreadable row stops the run
    with its line, because rates over a file half read would be wrong without saying so.
    """
    batch, unknown, total = [], 0, 0
    with open_table(path, ARRIVAL_COLUMNS) as table:
        for row in table:
            station = row["station"]
            if station not in stations:
                unknown += 1
                continue
            t_ms = row.parse("sample_time", time_ms, tz, required=True)
            received_ms = row.parse("received_time", time_ms, tz, required=True)
            if t_ms is None or received_ms is None:
                continue
            if t_ms < before_ms and t_ms > last.get(station, -1):
                last[station] = t_ms
            batch.append((station, row["point"], t_ms, received_ms, flag(row["flag"])))
            total += 1
            if len(batch) >= BATCH:
                table.problems.raise_if_any()
                yield batch
                batch = []
                if progress is not None:
                    print(f"read {total:,} arrivals", file=progress, flush=True)
    table.problems.raise_if_any()
    if batch:
        yield batch
    if progress is not None and unknown:
        print(f"skipped {unknown:,} arrivals of stations not in the station table", file=progress)


def offline_report(arrivals: Path, stations_csv: Path, period_text: str, cfg: RatesConfig,
                   region: str | None = None, progress: TextIO | None = sys.stderr) -> RatesReport:
    """The rates report of the two CSV files, computed exactly as the cloud computes it."""
    period = parse_range(period_text, cfg.tz)
    registry, stations = load_stations(stations_csv, period)
    if region is not None and region not in registry.names:
        raise OperatorError(f"region {region!r} is not in {stations_csv} (use a path such as"
                          f" {next(iter(registry.names), 'province/city/county')})")
    chosen = registry.stations_in(region)
    last: dict[str, int] = {}
    now = int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000)
    batches = read_arrivals(arrivals, {s.id for s in chosen}, cfg.tz, last, min(period.end_ms, now), progress)
    return assemble(registry, chosen, batches, last, period, cfg, region, now)  # rates read `last` once filled

"""`watertel rates`: the same rates computed offline from two CSV files, for data from any platform.

A regulator can check another platform's figures, or ours, without a database. Both files are
UTF-8 CSV with a header line; columns are matched by name, others are ignored.

Stations (one row per station)::

    station,region,interval_minutes,commissioned,decommissioned,name,points
    ST-0001,zj/hz/xh,5,2026-10-10,,三墩水厂取水口,
    ST-0002,zj/hz/xh,60,2026-01-01,2026-10-20,老井,flow;total

* ``region``: a slash-separated path, ``province/city/county`` (fewer levels are allowed); the
  report rolls up along it.
* ``commissioned`` (empty: in service before the period), ``decommissioned`` (empty: still in
  service): ISO dates, local midnight in the report calendar.
* ``name`` and ``points`` (``;``-separated; empty: one report per interval from any point) are optional.

Arrivals (one row per reading received)::

    station,sample_time,received_time,flag,point
    ST-0001,2026-10-10T00:05:00+08:00,2026-10-10T00:05:12+08:00,,flow

* ``sample_time`` and ``received_time``: ISO 8601; without an offset, local time in the calendar.
* ``flag``: empty or ``ok`` for a normal value; a watertel quality name that keeps the value
  (``total_rollover``, ``total_reset``, ``clock_unsynced``) also counts as normal; anything else
  marks the value abnormal.
* ``point`` is optional (needed only for stations that list their points).

The period is ``START/END`` (ISO dates, END excluded) or any form `report rates` takes.
"""

from __future__ import annotations

import csv
import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from watertel.cloud.quality.config import RatesConfig
from watertel.cloud.quality.period import Period, PeriodError, parse_period
from watertel.cloud.quality.report import RatesReport, assemble
from watertel.cloud.registry import Registry, RegistryFile, Station, to_ms
from watertel.config import ConfigError
from watertel.errors import OperatorError
from watertel.readings import Quality

STATION_COLUMNS = ("station", "region", "interval_minutes", "commissioned", "decommissioned")
ARRIVAL_COLUMNS = ("station", "sample_time", "received_time", "flag")
LEVELS = ("province", "city", "county")
UNTRUSTED = -1  # a quality code no reading carries: the rates treat it as not trustworthy
MAX_PROBLEMS = 20  # a broken export yields one line per row; the first ones say enough
BATCH = 100_000


class CsvProblems:
    """Collects ``file:line: column: problem (fix)`` lines; raised together as a ConfigError."""

    def __init__(self, path: Path) -> None:
        self.path, self.lines, self.count = path, [], 0

    def add(self, line: int, column: str, problem: str) -> None:
        self.count += 1
        if len(self.lines) < MAX_PROBLEMS:
            self.lines.append(f"{self.path}:{line}: {column}: {problem}")

    def raise_if_any(self) -> None:
        if self.count:
            more = [f"{self.path}: … and {self.count - len(self.lines)} more"] if self.count > len(self.lines) else []
            raise ConfigError(self.path, self.lines + more)


class PathRegistry(Registry):
    """A registry whose region ids are the CSV's paths themselves (``zj/hz/xh``)."""

    def path(self, region: str) -> str:
        return region


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


def _reader(handle: TextIO, path: Path, required: tuple[str, ...]) -> csv.DictReader:
    reader = csv.DictReader(handle)
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise ConfigError(path, [f"{path}:1: header: missing column(s) {', '.join(missing)}"
                                 f" (the header needs at least {','.join(required)})"])
    return reader


def load_stations(path: Path, period: Period) -> tuple[Registry, list[Station]]:
    """The station table as a registry whose regions are the paths found in it."""
    problems, stations, registry = CsvProblems(path), [], PathRegistry(RegistryFile())
    first_line: dict[str, int] = {}
    with open(path, newline="", encoding="utf-8-sig") as handle:
        for line, row in enumerate(_reader(handle, path, STATION_COLUMNS), start=2):
            station = _station(row, line, period, problems)
            if station is None:
                continue
            if station.id in first_line:
                problems.add(line, "station", f"{station.id!r} already on line {first_line[station.id]} (one row per station)")
                continue
            first_line[station.id] = line
            _add_path(registry, station.region)
            stations.append(station)
    problems.raise_if_any()
    registry.stations = stations
    return registry, stations


def _station(row: dict[str, str], line: int, period: Period, problems: CsvProblems) -> Station | None:
    """One row as a Station (region set to its path), or None with the problem recorded."""
    parts = [p.strip() for p in (row["region"] or "").split("/")]
    if not 1 <= len(parts) <= len(LEVELS) or not all(parts):
        problems.add(line, "region", f"{row['region']!r} is not a path like province/city/county")
        return None
    dates = {}
    for column, default in (("commissioned", period.first), ("decommissioned", None)):
        text = (row[column] or "").strip()
        try:
            dates[column] = dt.date.fromisoformat(text) if text else default
        except ValueError:
            problems.add(line, column, f"{text!r} is not a date (write YYYY-MM-DD, or leave it empty)")
            return None
    try:
        station = Station.model_validate({
            "id": (row["station"] or "").strip(), "name": (row.get("name") or "").strip(), "region": "x",
            "interval_minutes": (row["interval_minutes"] or "").strip(), **dates,
            "points": [p.strip() for p in (row.get("points") or "").split(";") if p.strip()]})
    except ValidationError as err:
        first = err.errors()[0]
        column = {"id": "station"}.get(str(first["loc"][0]), str(first["loc"][0])) if first["loc"] else "row"
        problems.add(line, column, f"{first['msg']} (got {first.get('input')!r})")
        return None
    return station.model_copy(update={"region": "/".join(parts)})


def _add_path(registry: Registry, path: str) -> None:
    parts = path.split("/")
    for depth in range(1, len(parts) + 1):
        region = "/".join(parts[:depth])
        if region not in registry.names:
            registry._add(region, parts[depth - 1], LEVELS[depth - 1], "/".join(parts[:depth - 1]) or None)


def _flag(value: str) -> int:
    text = value.strip().lower()
    if text in ("", "ok"):
        return Quality.OK
    known = Quality.__members__.get(text.upper())
    return int(known) if known is not None and known.trusted_value else UNTRUSTED


def _time_ms(value: str, tz: ZoneInfo) -> int:
    return to_ms(dt.datetime.fromisoformat(value.strip()), tz)


def read_arrivals(path: Path, stations: set[str], tz: ZoneInfo, last: dict[str, int], before_ms: int,
                  progress: TextIO | None = None) -> Iterator[list[tuple]]:
    """Batches of (station, point, t_ms, received_ms, quality) rows; fills ``last`` on the way.

    Rows of stations not in the table are skipped and counted; an unreadable row stops the run
    with its line, because rates over a file half read would be wrong without saying so.
    """
    problems, batch, unknown, total = CsvProblems(path), [], 0, 0
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = _reader(handle, path, ARRIVAL_COLUMNS)
        for line, row in enumerate(reader, start=2):
            station = (row["station"] or "").strip()
            if station not in stations:
                unknown += 1
                continue
            try:
                t_ms, received_ms = _time_ms(row["sample_time"] or "", tz), _time_ms(row["received_time"] or "", tz)
            except ValueError as err:
                problems.add(line, "sample_time/received_time", f"{err} (write ISO 8601, e.g. 2026-10-01T08:05:00+08:00)")
                continue
            if t_ms < before_ms and t_ms > last.get(station, -1):
                last[station] = t_ms
            batch.append((station, (row.get("point") or "").strip(), t_ms, received_ms, _flag(row["flag"] or "")))
            total += 1
            if len(batch) >= BATCH:
                problems.raise_if_any()
                yield batch
                batch = []
                if progress is not None:
                    print(f"read {total:,} arrivals", file=progress, flush=True)
    problems.raise_if_any()
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

"""Reading and checking the two CSV files of `watertel alarms backtest` (formats: ``backtest.py``).

The files are read by the cloud's one CSV reader (``cloud/csv_tables``: encoding, header, line
numbers, the shared station columns and cell parsers); what is backtest's own is here: the
permit and area columns of the station table, and the readings. Every problem is reported as
``file:line: column: problem (fix)``; a file with any bad row is refused whole, since alarms over
half a file would mislead without saying so.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from watertel.cloud.alarms.leak_config import Area
from watertel.cloud.csv_tables import Row, open_table
from watertel.cloud.csv_tables.cells import number, quality, time_ms
from watertel.cloud.csv_tables.stations import PathRegistry, path_stations
from watertel.cloud.permits import Meter, Permit
from watertel.cloud.registry import Registry, RegistryFile, Station

STATION_COLUMNS = ("station", "region", "kind", "interval_minutes")
STATION_FIELDS = ("name", "kind", "interval_minutes", "commissioned", "decommissioned")  # shared ones read here
READING_COLUMNS = ("station", "point", "sample_time", "value", "quality")
ROLES = {"inlet": "inlets", "outlet": "outlets", "consumer": "consumers"}
POINT = re.compile(r"^[a-z][a-z0-9_]*$")
UNITS = {"flow": "m3/h", "total": "m3", "pressure": "MPa", "free_chlorine": "mg/L", "total_chlorine": "mg/L",
         "turbidity": "NTU", "ph": "", "energy": "kWh"}
PROGRESS_EVERY = 100_000
STAGED = 10_000  # rows per insert into the staging table


@dataclass
class StationTable:
    """The station CSV: stations (commissioned once the readings' start is known), permits, areas."""

    path: Path
    rows: dict[str, Station] = field(default_factory=dict)  # commissioned date.min: from the first sample
    permits: list[Permit] = field(default_factory=list)
    areas: list[Area] = field(default_factory=list)

    def registry(self, first_ms: int) -> Registry:
        """A registry whose stations without a ``commissioned`` date start at ``first_ms``."""
        start = dt.datetime.fromtimestamp(first_ms / 1000, dt.timezone.utc)
        stations = [st if st.commissioned != dt.date.min else st.model_copy(update={"commissioned": start})
                    for st in self.rows.values()]
        return PathRegistry.of(stations, RegistryFile(permits=self.permits))


def load_station_table(path: Path, tz: ZoneInfo) -> StationTable:
    """The station table with its permits and metered areas; ConfigError listing every bad row."""
    table = StationTable(path)
    members: dict[str, dict[str, list[str]]] = {}
    first_line: dict[str, int] = {}
    with open_table(path, STATION_COLUMNS) as csv_table:
        for row, st in path_stations(csv_table, STATION_FIELDS, dt.date.min):
            table.rows[st.id] = st
            _permit(row, st.id, table.permits)
            _area(row, st.id, members, first_line)
    problems = csv_table.problems
    problems.raise_if_any()
    for area_id, roles in members.items():
        try:
            table.areas.append(Area.model_validate({"id": area_id, **roles}))
        except ValidationError as err:
            problems.add(first_line[area_id], "area",
                         f"area {area_id}: {err.errors()[0]['msg']} (every area needs an inlet; each station once)")
    problems.raise_if_any()
    return table


def _permit(row: Row, station: str, out: list[Permit]) -> None:
    """A permit of the station's own id when ``permit_m3`` is given, counting its ``total`` point."""
    volume, start = row["permit_m3"], row["permit_year_start"]
    if not volume:
        if start:
            row.problem("permit_year_start", "given without permit_m3 (fill in permit_m3 or clear it)")
        return
    permit = row.model(Permit, {"id": station, "holder": station, "permitted_m3": volume,
                                "year_start": start or "01-01", "meters": [Meter(station=station)]},
                       {"permitted_m3": "permit_m3", "year_start": "permit_year_start"})
    if permit is not None:
        out.append(permit)


def _area(row: Row, station: str, members: dict[str, dict[str, list[str]]], first_line: dict[str, int]) -> None:
    area, role = row["area"], row["area_role"].lower()
    if not area and not role:
        return
    if not area or role not in ROLES:
        row.problem("area" if not area else "area_role",
                    f"area {area!r} with area_role {role!r}: give both, the role one of {', '.join(ROLES)}")
        return
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", area):
        row.problem("area", f"{area!r}: use letters, digits and _ . - in area ids")
        return
    first_line.setdefault(area, row.line)
    members.setdefault(area, {}).setdefault(ROLES[role], []).append(station)


def stage_readings(path: Path, stations: set[str], tz: ZoneInfo, db: sqlite3.Connection,
                   progress: TextIO | None = None) -> tuple[int, int] | None:
    """Check every row and copy it into ``db`` (table ``rows``) for a replay in time order;
    return (first, last) sample time, or None when no row is of a known station."""
    db.execute("CREATE TABLE rows (t_ms INTEGER, station TEXT, point TEXT, value REAL, unit TEXT, quality INTEGER,"
               " line INTEGER)")
    batch, unknown, total = [], {}, 0
    with open_table(path, READING_COLUMNS) as table:
        for row in table:
            station = row["station"]
            if station not in stations:
                unknown[station] = unknown.get(station, 0) + 1
                continue
            found = _reading(row, tz)
            if found is not None:
                batch.append((found[0], station, *found[1:], row.line))
            total += 1
            if len(batch) >= STAGED:
                table.problems.raise_if_any()
                db.executemany("INSERT INTO rows VALUES (?,?,?,?,?,?,?)", batch)
                batch = []
            if progress is not None and total % PROGRESS_EVERY == 0:
                print(f"read {total:,} readings", file=progress, flush=True)
    table.problems.raise_if_any()
    db.executemany("INSERT INTO rows VALUES (?,?,?,?,?,?,?)", batch)
    db.execute("CREATE INDEX rows_time ON rows(t_ms, station, line)")
    if progress is not None and unknown:
        names = ", ".join(sorted(unknown)[:5]) + (" …" if len(unknown) > 5 else "")
        print(f"skipped {sum(unknown.values()):,} readings of stations not in the station table ({names})",
              file=progress)
    first, last = db.execute("SELECT min(t_ms), max(t_ms) FROM rows").fetchone()
    return None if first is None else (first, last)


def _reading(row: Row, tz: ZoneInfo) -> tuple | None:
    """(t_ms, point, value or None, unit, quality) or None with the problems recorded."""
    point = row["point"]
    if not POINT.match(point):
        row.problem("point", f"{point!r} is not a point name (lower case, e.g. flow, total, turbidity)")
    t_ms = row.parse("sample_time", time_ms, tz, required=True)
    flag = row.parse("quality", quality, required=True)
    value = row.parse("value", number)
    if row.bad or t_ms is None or flag is None:
        return None
    if flag.trusted_value and value is None:
        row.problem("value", f"{row['value']!r}: a {flag.name.lower()} reading needs a value"
                             " (or give the quality that says why none was read)")
        return None
    unit = row["unit"] or UNITS.get(point, "")
    return t_ms, point, value, unit, int(flag)

"""Reading and checking the two CSV files of `watertel alarms backtest` (formats: ``backtest.py``).

Every problem is reported as ``file:line: column: problem (fix)``, like `watertel rates`
(``cloud/quality/offline.py``, whose CSV helpers these reuse); a file with any bad row is refused
whole, since alarms over half a file would mislead without saying so.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from watertel.cloud.alarms.leak_config import Area
from watertel.cloud.permits import Meter, Permit
from watertel.cloud.quality.offline import LEVELS, CsvProblems, PathRegistry, _add_path, _reader, _time_ms
from watertel.cloud.registry import Registry, RegistryFile, Station
from watertel.readings import Quality

STATION_COLUMNS = ("station", "region", "kind", "interval_minutes")
READING_COLUMNS = ("station", "point", "sample_time", "value", "quality")
ROLES = {"inlet": "inlets", "outlet": "outlets", "consumer": "consumers"}
POINT = re.compile(r"^[a-z][a-z0-9_]*$")
UNITS = {"flow": "m3/h", "total": "m3", "pressure": "MPa", "free_chlorine": "mg/L", "total_chlorine": "mg/L",
         "turbidity": "NTU", "ph": "", "energy": "kWh"}
QUALITIES = ", ".join(q.name.lower() for q in Quality)
PROGRESS_EVERY = 100_000


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
        registry = PathRegistry(RegistryFile(permits=self.permits))
        for st in self.rows.values():
            _add_path(registry, st.region)
        registry.stations = [st if st.commissioned != dt.date.min else st.model_copy(update={"commissioned": start})
                             for st in self.rows.values()]
        return registry


def load_station_table(path: Path, tz: ZoneInfo) -> StationTable:
    problems, table = CsvProblems(path), StationTable(path)
    members: dict[str, dict[str, list[str]]] = {}
    first_line: dict[str, int] = {}
    with open(path, newline="", encoding="utf-8-sig") as handle:
        for line, row in enumerate(_reader(handle, path, STATION_COLUMNS), start=2):
            st = _station(row, line, problems)
            if st is None:
                continue
            if st.id in first_line:
                problems.add(line, "station", f"{st.id!r} already on line {first_line[st.id]} (one row per station)")
                continue
            first_line[st.id] = line
            table.rows[st.id] = st
            _permit(row, line, st.id, problems, table.permits)
            _area(row, line, st.id, problems, members, first_line)
    problems.raise_if_any()
    for area_id, roles in members.items():
        try:
            table.areas.append(Area.model_validate({"id": area_id, **roles}))
        except ValidationError as err:
            problems.add(first_line[f"area:{area_id}"], "area",
                         f"area {area_id}: {err.errors()[0]['msg']} (every area needs an inlet; each station once)")
    problems.raise_if_any()
    return table


def _station(row: dict[str, str], line: int, problems: CsvProblems) -> Station | None:
    parts = [p.strip() for p in (row["region"] or "").split("/")]
    if not 1 <= len(parts) <= len(LEVELS) or not all(parts):
        problems.add(line, "region", f"{row['region']!r} is not a path like province/city/county")
        return None
    dates = {}
    for column in ("commissioned", "decommissioned"):
        text = (row.get(column) or "").strip()
        try:
            dates[column] = dt.date.fromisoformat(text) if text else None
        except ValueError:
            problems.add(line, column, f"{text!r} is not a date (write YYYY-MM-DD, or leave it empty)")
            return None
    try:
        st = Station.model_validate({
            "id": (row["station"] or "").strip(), "name": (row.get("name") or "").strip(), "region": "x",
            "kind": (row["kind"] or "").strip() or "other", "interval_minutes": (row["interval_minutes"] or "").strip(),
            "commissioned": dates["commissioned"] or dt.date.min, "decommissioned": dates["decommissioned"]})
    except ValidationError as err:
        first = err.errors()[0]
        column = {"id": "station"}.get(str(first["loc"][0]), str(first["loc"][0])) if first["loc"] else "row"
        problems.add(line, column, f"{first['msg']} (got {first.get('input')!r})")
        return None
    return st.model_copy(update={"region": "/".join(parts)})


def _permit(row: dict[str, str], line: int, station: str, problems: CsvProblems, out: list[Permit]) -> None:
    volume, start = (row.get("permit_m3") or "").strip(), (row.get("permit_year_start") or "").strip()
    if not volume:
        if start:
            problems.add(line, "permit_year_start", "given without permit_m3 (fill in permit_m3 or clear it)")
        return
    try:
        out.append(Permit(id=station, holder=station, permitted_m3=volume, year_start=start or "01-01",
                          meters=[Meter(station=station)]))
    except ValidationError as err:
        first = err.errors()[0]
        column = {"permitted_m3": "permit_m3", "year_start": "permit_year_start"}.get(str(first["loc"][0]), "permit_m3")
        problems.add(line, column, f"{first['msg']} (got {first.get('input')!r})")


def _area(row: dict[str, str], line: int, station: str, problems: CsvProblems,
          members: dict[str, dict[str, list[str]]], first_line: dict[str, int]) -> None:
    area, role = (row.get("area") or "").strip(), (row.get("area_role") or "").strip().lower()
    if not area and not role:
        return
    if not area or role not in ROLES:
        column = "area" if not area else "area_role"
        problems.add(line, column, f"area {area!r} with area_role {role!r}: give both, the role one of"
                                   f" {', '.join(ROLES)}")
        return
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", area):
        problems.add(line, "area", f"{area!r}: use letters, digits and _ . - in area ids")
        return
    first_line.setdefault(f"area:{area}", line)
    members.setdefault(area, {}).setdefault(ROLES[role], []).append(station)


def stage_readings(path: Path, stations: set[str], tz: ZoneInfo, db: sqlite3.Connection,
                   progress: TextIO | None = None) -> tuple[int, int] | None:
    """Check every row and copy it into ``db`` (table ``rows``) for a replay in time order;
    return (first, last) sample time, or None when no row is of a known station."""
    db.execute("CREATE TABLE rows (t_ms INTEGER, station TEXT, point TEXT, value REAL, unit TEXT, quality INTEGER,"
               " line INTEGER)")
    problems, batch, unknown, total = CsvProblems(path), [], {}, 0
    with open(path, newline="", encoding="utf-8-sig") as handle:
        for line, row in enumerate(_reader(handle, path, READING_COLUMNS), start=2):
            station = (row["station"] or "").strip()
            if station not in stations:
                unknown[station] = unknown.get(station, 0) + 1
                continue
            found = _reading(row, line, tz, problems)
            if found is not None:
                batch.append((found[0], station, *found[1:], line))
            total += 1
            if len(batch) >= 10_000:
                problems.raise_if_any()
                db.executemany("INSERT INTO rows VALUES (?,?,?,?,?,?,?)", batch)
                batch = []
            if progress is not None and total % PROGRESS_EVERY == 0:
                print(f"read {total:,} readings", file=progress, flush=True)
    problems.raise_if_any()
    db.executemany("INSERT INTO rows VALUES (?,?,?,?,?,?,?)", batch)
    db.execute("CREATE INDEX rows_time ON rows(t_ms, station, line)")
    if progress is not None and unknown:
        names = ", ".join(sorted(unknown)[:5]) + (" …" if len(unknown) > 5 else "")
        print(f"skipped {sum(unknown.values()):,} readings of stations not in the station table ({names})",
              file=progress)
    first, last = db.execute("SELECT min(t_ms), max(t_ms) FROM rows").fetchone()
    return None if first is None else (first, last)


def _reading(row: dict[str, str], line: int, tz: ZoneInfo, problems: CsvProblems) -> tuple | None:
    """(t_ms, point, value or None, unit, quality) or None with the problem recorded."""
    point = (row["point"] or "").strip()
    if not POINT.match(point):
        problems.add(line, "point", f"{point!r} is not a point name (lower case, e.g. flow, total, turbidity)")
        return None
    try:
        t_ms = _time_ms(row["sample_time"] or "", tz)
    except ValueError as err:
        problems.add(line, "sample_time", f"{err} (write ISO 8601, e.g. 2026-10-01T08:05:00+08:00)")
        return None
    text = (row["quality"] or "").strip().lower()
    quality = Quality.OK if text in ("", "ok") else Quality.__members__.get(text.upper())
    if quality is None:
        problems.add(line, "quality", f"{text!r} is not a quality (use ok or one of {QUALITIES})")
        return None
    value_text = (row["value"] or "").strip()
    try:
        value = float(value_text) if value_text else math.nan
    except ValueError:
        problems.add(line, "value", f"{value_text!r} is not a number (write e.g. 12.5)")
        return None
    if quality.trusted_value and not math.isfinite(value):
        problems.add(line, "value", f"{value_text!r}: a {quality.name.lower()} reading needs a finite value"
                                    " (or give the quality that says why none was read)")
        return None
    unit = (row.get("unit") or "").strip() or UNITS.get(point, "")
    return t_ms, point, None if math.isnan(value) else value, unit, int(quality)

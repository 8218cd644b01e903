"""The station columns the three station tables share, parsed once.

=================  =======================  ======================  ===========================
column             registry CSV             `watertel rates`        `watertel alarms backtest`
=================  =======================  ======================  ===========================
station id         ``id``                   ``station``             ``station``
region             county id (+ its chain,  ``province/city/county`` path (``PathRegistry``)
                   in ``registry_csv.py``)
name               optional                 optional                optional
kind               optional                 —                       required column
interval           ``interval_minutes`` or  ``interval_minutes``    ``interval_minutes``
                   ``interval_seconds``
points             optional (``;``)         optional (``;``)        —
commissioned       required                 empty: before the       empty: from the first
                                            period                  sample
decommissioned     optional                 optional                optional
=================  =======================  ======================  ===========================

What is a table's own stays beside its user: the registry's region chain, maintenance windows,
permits, meters and plans (``cloud/registry_csv.py``); backtest's permit and area columns
(``cloud/alarms/backtest_csv.py``); the arrivals of the rates (``cloud/quality/offline.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from watertel.cloud.csv_tables.cells import LEVELS, items, moment, region_path
from watertel.cloud.csv_tables.reader import CsvTable, Row
from watertel.cloud.registry import Registry, RegistryFile, Station

SHARED = ("name", "kind", "interval_minutes", "interval_seconds", "points", "commissioned", "decommissioned")
PLACEHOLDER_REGION = "x"  # a Station's region must be an id; a path replaces it after validation


def station_fields(row: Row, id_column: str, columns: Iterable[str] = SHARED) -> dict[str, Any]:
    """The Station fields of the shared ``columns`` this row fills in (empty cells left out, so the
    model's defaults and "required" checks apply): points as a list, service dates parsed."""
    fields: dict[str, Any] = {"id": row[id_column]}
    for column in columns:
        if not row[column]:
            continue
        if column == "points":
            fields[column] = items(row[column])
        elif column in ("commissioned", "decommissioned"):
            if (value := row.parse(column, moment)) is not None:
                fields[column] = value
        else:
            fields[column] = row[column]
    return fields


class PathRegistry(Registry):
    """A registry whose region ids are the CSV's paths themselves (``zj/hz/xh``), as the offline
    commands write regions; the levels above a county are added as the paths arrive."""

    @classmethod
    def of(cls, stations: Iterable[Station], data: RegistryFile | None = None) -> PathRegistry:
        """A registry of ``stations`` (regions: their paths) and of ``data``'s permits."""
        registry = cls(data or RegistryFile())
        registry.stations = list(stations)
        for st in registry.stations:
            registry.add_path(st.region)
        return registry

    def path(self, region: str) -> str:
        return region

    def add_path(self, path: str) -> None:
        """Add ``a/b/c`` and the regions above it (``a``, ``a/b``) if not there yet."""
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            region = "/".join(parts[:depth])
            if region not in self.names:
                self._add(region, parts[depth - 1], LEVELS[depth - 1], "/".join(parts[:depth - 1]) or None)


def path_station(row: Row, columns: Iterable[str], commissioned: dt.date) -> Station | None:
    """The Station of a row with a ``station`` id and a region path (rates, backtest), or None with
    its problems recorded. ``commissioned``: the date an empty cell stands for."""
    path = row.parse("region", region_path, required=True)
    fields = station_fields(row, "station", columns)
    fields.setdefault("interval_minutes", row["interval_minutes"])  # an empty cell: its own message
    fields.setdefault("commissioned", commissioned)
    station = row.model(Station, {**fields, "region": PLACEHOLDER_REGION}, {"id": "station"})
    if station is None or row.bad or path is None:
        return None
    return station.model_copy(update={"region": path})


def path_stations(table: CsvTable, columns: Iterable[str], commissioned: dt.date) -> Iterator[tuple[Row, Station]]:
    """Each good row with its Station, one row per station id; bad rows are recorded and skipped."""
    first_line: dict[str, int] = {}
    for row in table:
        station = path_station(row, columns, commissioned)
        if station is None:
            continue
        if station.id in first_line:
            row.problem("station", f"{station.id!r} already on line {first_line[station.id]} (one row per station)")
            continue
        first_line[station.id] = row.line
        yield row, station

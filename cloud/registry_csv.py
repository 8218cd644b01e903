"""The station registry as CSV, one row per station (`watertel cloud export --format csv`, import).

Export writes UTF-8. Import reads with the cloud's one CSV reader (``cloud/csv_tables``): UTF-8
with or without Excel's BOM, or GB18030/GBK as Excel on Chinese Windows saves it (said in a
warning; another encoding is refused with the fix); every problem is ``file:line: column: problem
(fix)``. The columns (a column not listed is refused)::

    column              meaning (empty cell: not given)
    id, name            the station
    province, province_name, city, city_name, region, region_name
                        its region chain (``region`` is the county id); a region already in the
                        registry may leave the province/city/name columns empty
    kind                intake, well, plant, network, quality, pressure, pump, level, drainage, other
    interval_minutes    or interval_seconds (exactly one)
    points              point names separated by ";" (empty: any point)
    commissioned, decommissioned   a date (2026-10-10, or Excel's 2026/10/10) or a date-time
                        (2026-10-10T08:00+08:00)
    maintenance         windows separated by ";", each "START..END" and an optional note after a
                        space: "2026-10-12T08:00..2026-10-12T20:00 pump replaced"
    lat, lon            where the station is, WGS-84 degrees (both or neither)
    permit              the id of the permit this station's meter counts towards
    permit_holder, permit_m3, permit_year_start (MM-DD)
                        the permit; repeated on each of its stations' rows (empty cells are fine
                        there, different values are an error)
    meter_point, meter_coefficient, meter_wraps_at   this station's meter (point default: total)
    plan_annual, plan_monthly, plan_bimonthly        the permit's plan (lists separated by ";")

The CSV holds one meter per station: a station metering two points is exported with
``--format yaml`` only (the export says so). Regions no station lies in are not rows; a CSV
import keeps them from the current registry file, so user scopes and alarm routes naming them
stay valid.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from watertel.cloud.csv_tables import Row, open_table
from watertel.cloud.csv_tables.cells import SEP, items, number
from watertel.cloud.csv_tables.stations import SHARED, station_fields
from watertel.cloud.registry import Registry, RegistryFile
from watertel.errors import OperatorError

STATION_COLUMNS = ("id", "name", "kind", "interval_minutes", "interval_seconds", "points", "commissioned",
                   "decommissioned", "maintenance", "lat", "lon")
REGION_COLUMNS = ("province", "province_name", "city", "city_name", "region", "region_name")
PERMIT_COLUMNS = {"permit_holder": "holder", "permit_m3": "permitted_m3", "permit_year_start": "year_start"}
PLAN_COLUMNS = {"plan_annual": "annual", "plan_monthly": "monthly", "plan_bimonthly": "bimonthly"}
METER_COLUMNS = {"meter_point": "point", "meter_coefficient": "coefficient", "meter_wraps_at": "wraps_at"}
COLUMNS = ("id", "name", *REGION_COLUMNS, *STATION_COLUMNS[2:], "permit", *PERMIT_COLUMNS, *METER_COLUMNS,
           *PLAN_COLUMNS)
REQUIRED = ("id", "region", "commissioned")


# --- CSV out ---------------------------------------------------------------------------------------


def dump_csv(registry: Registry) -> str:
    """One row per station (columns: ``COLUMNS``); refuses what one row cannot hold."""
    meters: dict[str, list[tuple[Any, Any]]] = {}
    for p in registry.permits:
        for m in p.meters:
            meters.setdefault(m.station, []).append((p, m))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for s in registry.stations:
        county, city, province = registry.ancestry(s.region)
        row = {"id": s.id, "name": s.name, "province": province, "province_name": registry.names[province],
               "city": city, "city_name": registry.names[city], "region": county, "region_name": registry.names[county],
               "kind": s.kind.value, "interval_minutes": s.interval_minutes or "", "interval_seconds": s.interval_seconds or "",
               "points": SEP.join(s.points), "commissioned": s.commissioned.isoformat(),
               "decommissioned": s.decommissioned.isoformat() if s.decommissioned else "",
               "maintenance": SEP.join(_window(s.id, w) for w in s.maintenance),
               "lat": _num(s.location.lat) if s.location else "", "lon": _num(s.location.lon) if s.location else ""}
        mine = meters.get(s.id, [])
        if len(mine) > 1:
            raise OperatorError(f"station {s.id} has {len(mine)} meters ({', '.join(m.label for _, m in mine)}):"
                                " a CSV row holds one (export with --format yaml)")
        if mine:
            row |= _permit_cells(*mine[0])
        writer.writerow(row)
    return out.getvalue()


def _window(station: str, w: Any) -> str:
    if SEP in w.note:
        raise OperatorError(f"station {station}: a maintenance note contains {SEP!r} ({w.note!r}), which the CSV"
                            " uses between windows (export with --format yaml)")
    return f"{w.start.isoformat()}..{w.end.isoformat()}" + (f" {w.note}" if w.note else "")


def _permit_cells(permit: Any, meter: Any) -> dict[str, Any]:
    plan = permit.plan
    return {"permit": permit.id, "permit_holder": permit.holder, "permit_m3": _num(permit.permitted_m3),
            "permit_year_start": permit.year_start, "meter_point": meter.point,
            "meter_coefficient": _num(meter.coefficient), "meter_wraps_at": _num(meter.wraps_at),
            "plan_annual": _num(plan.annual) if plan else "",
            "plan_monthly": SEP.join(map(_num, plan.monthly)) if plan and plan.monthly else "",
            "plan_bimonthly": SEP.join(map(_num, plan.bimonthly)) if plan and plan.bimonthly else ""}


def _num(value: float | None) -> str:
    """Exactly the number (``:g`` would round 99999999 to 1e+08): whole ones without ``.0``."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))


# --- CSV in ----------------------------------------------------------------------------------------


def parse_csv(path: Path, base: RegistryFile) -> tuple[dict, dict[str, Any]]:
    """The registry data of a station CSV (unvalidated), and the line each entry came from (for
    messages): ``{"stations": [line, …], "permits": [(permit id, [lines], [meter lines]), …]}``.
    ``base``: the current registry, whose regions the CSV keeps and may leave out of its rows."""
    tree = _Tree(base)
    stations, permits, where = [], {}, {"stations": [], "permits": []}
    with open_table(path, REQUIRED, known=COLUMNS) as table:
        for row in table:
            tree.place(row)
            stations.append(_station(row))
            where["stations"].append(row.line)
            _collect_permit(row, permits)
    table.problems.raise_if_any()
    data = {"provinces": tree.provinces(), "stations": stations, "permits": []}
    for pid, permit in permits.items():
        data["permits"].append(permit["data"])
        where["permits"].append((pid, permit["rows"], permit["meter_rows"]))
    return data, where


def _station(row: Row) -> dict[str, Any]:
    """The station's fields: the shared columns, its county, its maintenance windows."""
    station = station_fields(row, "id", SHARED)
    station["region"] = row["region"]
    if row["maintenance"]:
        station["maintenance"] = []
        for part in items(row["maintenance"]):
            span, _, note = part.partition(" ")
            start, dots, end = span.partition("..")
            if not dots:
                row.problem("maintenance", f"{part!r} is not START..END (e.g. 2026-10-12T08:00..2026-10-12T20:00 note)")
                continue
            station["maintenance"].append({"start": start, "end": end, **({"note": note.strip()} if note.strip() else {})})
    if row["lat"] or row["lon"]:
        lat, lon = row.parse("lat", number, required=True), row.parse("lon", number, required=True)
        if lat is not None and lon is not None:
            station["location"] = {"lat": lat, "lon": lon}
    return station


def _collect_permit(row: Row, permits: dict[str, dict]) -> None:
    """Add this row's meter to its permit; the permit's own cells must agree across its rows."""
    pid = row["permit"]
    given = [c for c in (*PERMIT_COLUMNS, *METER_COLUMNS, *PLAN_COLUMNS) if row[c]]
    if not pid:
        for c in given:
            row.problem(c, "given without a permit id (fill the permit column or clear this cell)")
        return
    entry = permits.setdefault(pid, {"data": {"id": pid, "meters": []}, "rows": [], "meter_rows": [], "from": {}})
    entry["rows"].append(row.line)
    permit = entry["data"]
    for column, key in (*PERMIT_COLUMNS.items(), *PLAN_COLUMNS.items()):
        if not (value := row[column]):
            continue
        parsed = items(value) if key in ("monthly", "bimonthly") else value
        target = permit.setdefault("plan", {}) if column in PLAN_COLUMNS else permit
        if key in target and target[key] != parsed:
            row.problem(column, f"{value!r} differs from line {entry['from'][column]} for permit {pid}"
                                " (give the same value on every row of a permit, or leave it empty)")
            continue
        target[key] = parsed
        entry["from"].setdefault(column, row.line)
    meter = {"station": row["id"]}
    meter |= {key: row[column] for column, key in METER_COLUMNS.items() if row[column]}
    permit["meters"].append(meter)
    entry["meter_rows"].append(row.line)


class _Tree:
    """Provinces → cities → counties: the current registry's, with the CSV's rows added on top."""

    def __init__(self, base: RegistryFile) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}  # id → {level, name, parent, children}
        self.roots: list[str] = []
        for p in base.provinces:
            self._add(p.id, "province", p.name, None)
            for c in p.cities:
                self._add(c.id, "city", c.name, p.id)
                for k in c.counties:
                    self._add(k.id, "county", k.name, c.id)

    def _add(self, id_: str, level: str, name: str, parent: str | None) -> None:
        self.nodes[id_] = {"level": level, "name": name, "parent": parent, "children": []}
        (self.nodes[parent]["children"] if parent else self.roots).append(id_)

    def place(self, row: Row) -> None:
        """Put the row's region chain in the tree, or check it against what is there."""
        parent: str | None = None
        for level, column in (("province", "province"), ("city", "city"), ("county", "region")):
            id_, name = row[column], row[f"{column}_name"]
            if not id_:
                if level == "county" or name:
                    row.problem(column, "required: the id of the row's " + level)
                    return
                parent = None  # not given: the county must already be in the registry
                continue
            node = self.nodes.get(id_)
            if node is None:
                if not name:
                    row.problem(f"{column}_name", f"{level} {id_!r} is new: give its name")
                    return
                if parent is None and level != "province":
                    row.problem("province" if level == "city" else "city",
                                f"{level} {id_!r} is not in the registry: give the region chain above it")
                    return
                self._add(id_, level, name, parent)
            elif node["level"] != level:
                row.problem(column, f"{id_!r} is a {node['level']}, not a {level} (check the columns)")
                return
            elif parent is not None and node["parent"] != parent:
                row.problem(column, f"{level} {id_!r} lies under {node['parent']!r}, not {parent!r} (make the rows agree)")
                return
            elif name:
                node["name"] = name
            parent = id_

    def provinces(self) -> list[dict]:
        def node(id_: str, children: str | None) -> dict:
            out = {"id": id_, "name": self.nodes[id_]["name"]}
            if children:
                out[children] = [node(c, "counties" if children == "cities" else None) for c in self.nodes[id_]["children"]]
            return out
        return [node(p, "cities") for p in self.roots]


def rows_of_problems(path: Path, problems: list[str], where: dict[str, Any]) -> list[str]:
    """Validation messages keyed ``stations.3.interval_minutes`` turned into ``file:line: column:``;
    a permit's own problem is put on its first line and names the permit and all its lines."""
    prefix = re.escape(str(path))

    def station(m: re.Match) -> str:
        field = m.group(2) or ""
        column = field.split(".")[-1] if field.startswith("location.") else field.split(".")[0] or "(row)"
        return f"{path}:{where['stations'][int(m.group(1))]}: {column}:"

    def permit(m: re.Match) -> str:
        pid, lines, meter_lines = where["permits"][int(m.group(1))]
        rest = m.group(2) or ""
        if mm := re.match(r"meters\.(\d+)(?:\.(\w+))?", rest):
            column = {"station": "id"}.get(mm.group(2) or "", f"meter_{mm.group(2)}" if mm.group(2) else "permit")
            return f"{path}:{meter_lines[int(mm.group(1))]}: {column}:"
        names = {v: k for k, v in PERMIT_COLUMNS.items()} | {f"plan.{v}": k for k, v in PLAN_COLUMNS.items()} | {"id": "permit"}
        column = names.get(rest, names.get(".".join(rest.split(".")[:2]), "permit"))
        return f"{path}:{lines[0]}: {column}: permit {pid} (lines {', '.join(map(str, lines))}):"

    out = []
    for p in problems:
        p = re.sub(rf"^{prefix}: stations\.(\d+)(?:\.([\w.]+))?:", station, p)
        p = re.sub(rf"^{prefix}: permits\.(\d+)(?:\.([\w.]+))?:", permit, p)
        out.append(p)
    return out

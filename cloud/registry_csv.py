"""The station registry as CSV, one row per station (`watertel cloud export --format csv`, import).

UTF-8; a BOM from Excel is accepted::

    column              meaning (empty cell: not given)
    id, name            the station
    province, province_name, city, city_name, region, region_name
                        its region chain (``region`` is the county id); a region already in the
                        registry may leave the province/city/name columns empty
    kind                intake, well, plant, network, quality, pressure, pump, level, drainage, other
    interval_minutes    or interval_seconds (exactly one)
    points              point names separated by ";" (empty: any point)
    commissioned, decommissioned   a date (2026-10-10) or a date-time (2026-10-10T08:00+08:00)
    maintenance         windows separated by ";", each "START..END" and an optional note after a
                        space: "2026-10-12T08:00..2026-10-12T20:00 pump replaced"
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

from watertel.cloud.registry import Registry, RegistryFile
from watertel.config import ConfigError
from watertel.errors import OperatorError

STATION_COLUMNS = ("id", "name", "kind", "interval_minutes", "interval_seconds", "points", "commissioned",
                   "decommissioned", "maintenance")
REGION_COLUMNS = ("province", "province_name", "city", "city_name", "region", "region_name")
PERMIT_COLUMNS = {"permit_holder": "holder", "permit_m3": "permitted_m3", "permit_year_start": "year_start"}
PLAN_COLUMNS = {"plan_annual": "annual", "plan_monthly": "monthly", "plan_bimonthly": "bimonthly"}
METER_COLUMNS = {"meter_point": "point", "meter_coefficient": "coefficient", "meter_wraps_at": "wraps_at"}
COLUMNS = ("id", "name", *REGION_COLUMNS, *STATION_COLUMNS[2:], "permit", *PERMIT_COLUMNS, *METER_COLUMNS,
           *PLAN_COLUMNS)
SEP = ";"


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
               "maintenance": SEP.join(_window(s.id, w) for w in s.maintenance)}
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


class _Rows:
    """Problems of a CSV as ``file: row N: column: problem (fix)``."""

    def __init__(self, path: Path) -> None:
        self.path, self.problems = path, []

    def add(self, row: int | str, column: str, problem: str) -> None:
        self.problems.append(f"{self.path}: row {row}: {column}: {problem}")


def parse_csv(path: Path, base: RegistryFile) -> tuple[dict, dict[str, Any]]:
    """The registry data of a station CSV (unvalidated), and where each entry came from (for
    messages): ``{"stations": [row, …], "permits": [([rows], [meter rows]), …]}``. ``base``:
    the current registry, whose regions the CSV keeps and may leave out of its rows."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(path, [f"{path}: cannot read as UTF-8 text ({err})"]) from err
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    problems = [f"{path}: row 1: {c}: unknown column (the columns are: {', '.join(COLUMNS)})"
                for c in header if c not in COLUMNS]
    problems += [f"{path}: row 1: {c}: required column is missing (add it)"
                 for c in ("id", "region", "commissioned") if c not in header]
    if problems:
        raise ConfigError(path, problems)
    rows = _Rows(path)
    tree = _Tree(base)
    stations, permits, where = [], {}, {"stations": [], "permits": []}
    for n, raw in enumerate(reader, start=2):
        cells = {k: (v or "").strip() for k, v in raw.items() if k is not None}
        if None in raw:
            rows.add(n, "(end)", f"{len(raw[None])} more cells than columns (quote cells that contain commas)")
        if not any(cells.values()):
            continue
        tree.place(rows, n, cells)
        stations.append(_station(rows, n, cells))
        where["stations"].append(n)
        _collect_permit(rows, n, cells, permits)
    if rows.problems:
        raise ConfigError(path, rows.problems)
    data = {"provinces": tree.provinces(), "stations": stations, "permits": []}
    for permit in permits.values():
        data["permits"].append(permit["data"])
        where["permits"].append((permit["rows"], permit["meter_rows"]))
    return data, where


def _station(rows: _Rows, n: int, cells: dict[str, str]) -> dict[str, Any]:
    station: dict[str, Any] = {k: cells[k] for k in STATION_COLUMNS if cells.get(k)}
    station["region"] = cells.get("region", "")
    if "points" in station:
        station["points"] = _list(station["points"])
    if "maintenance" in station:
        station["maintenance"] = []
        for part in _list(cells["maintenance"]):
            span, _, note = part.partition(" ")
            start, dots, end = span.partition("..")
            if not dots:
                rows.add(n, "maintenance", f"{part!r} is not START..END (e.g. 2026-10-12T08:00..2026-10-12T20:00 note)")
                continue
            station["maintenance"].append({"start": start, "end": end, **({"note": note.strip()} if note.strip() else {})})
    return station


def _collect_permit(rows: _Rows, n: int, cells: dict[str, str], permits: dict[str, dict]) -> None:
    """Add this row's meter to its permit; the permit's own cells must agree across its rows."""
    pid = cells.get("permit", "")
    given = [c for c in (*PERMIT_COLUMNS, *METER_COLUMNS, *PLAN_COLUMNS) if cells.get(c)]
    if not pid:
        for c in given:
            rows.add(n, c, "given without a permit id (fill the permit column or clear this cell)")
        return
    entry = permits.setdefault(pid, {"data": {"id": pid, "meters": []}, "rows": [], "meter_rows": [], "from": {}})
    entry["rows"].append(n)
    permit = entry["data"]
    for column, key in (*PERMIT_COLUMNS.items(), *PLAN_COLUMNS.items()):
        if not (value := cells.get(column)):
            continue
        parsed = _list(value) if key in ("monthly", "bimonthly") else value
        target = permit.setdefault("plan", {}) if column in PLAN_COLUMNS else permit
        if key in target and target[key] != parsed:
            rows.add(n, column, f"{value!r} differs from row {entry['from'][column]} for permit {pid}"
                                " (give the same value on every row of a permit, or leave it empty)")
            continue
        target[key] = parsed
        entry["from"].setdefault(column, n)
    meter = {"station": cells.get("id", "")}
    meter |= {key: cells[column] for column, key in METER_COLUMNS.items() if cells.get(column)}
    permit["meters"].append(meter)
    entry["meter_rows"].append(n)


def _list(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(SEP) if part.strip()]


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

    def place(self, rows: _Rows, n: int, cells: dict[str, str]) -> None:
        """Put the row's region chain in the tree, or check it against what is there."""
        parent: str | None = None
        for level, column in (("province", "province"), ("city", "city"), ("county", "region")):
            id_, name = cells.get(column, ""), cells.get(f"{column}_name", "")
            if not id_:
                if level == "county" or cells.get(f"{column}_name"):
                    rows.add(n, column, "required: the id of the row's " + level)
                    return
                parent = None  # not given: the county must already be in the registry
                continue
            node = self.nodes.get(id_)
            if node is None:
                if not name:
                    rows.add(n, f"{column}_name", f"{level} {id_!r} is new: give its name")
                    return
                if parent is None and level != "province":
                    rows.add(n, "province" if level == "city" else "city",
                             f"{level} {id_!r} is not in the registry: give the region chain above it")
                    return
                self._add(id_, level, name, parent)
            elif node["level"] != level:
                rows.add(n, column, f"{id_!r} is a {node['level']}, not a {level} (check the columns)")
                return
            elif parent is not None and node["parent"] != parent:
                rows.add(n, column, f"{level} {id_!r} lies under {node['parent']!r}, not {parent!r} (make the rows agree)")
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
    """Validation messages keyed ``stations.3.interval_minutes`` turned into CSV rows and columns."""
    prefix = re.escape(str(path))

    def station(m: re.Match) -> str:
        column = (m.group(2) or "").split(".")[0] or "(row)"
        return f"{path}: row {where['stations'][int(m.group(1))]}: {column}:"

    def permit(m: re.Match) -> str:
        rows, meter_rows = where["permits"][int(m.group(1))]
        rest = m.group(2) or ""
        if mm := re.match(r"meters\.(\d+)(?:\.(\w+))?", rest):
            column = {"station": "id"}.get(mm.group(2) or "", f"meter_{mm.group(2)}" if mm.group(2) else "permit")
            return f"{path}: row {meter_rows[int(mm.group(1))]}: {column}:"
        names = {v: k for k, v in PERMIT_COLUMNS.items()} | {f"plan.{v}": k for k, v in PLAN_COLUMNS.items()} | {"id": "permit"}
        column = names.get(rest, names.get(".".join(rest.split(".")[:2]), "permit"))
        return f"{path}: row {', '.join(map(str, rows))}: {column}:"

    out = []
    for p in problems:
        p = re.sub(rf"^{prefix}: stations\.(\d+)(?:\.([\w.]+))?:", station, p)
        p = re.sub(rf"^{prefix}: permits\.(\d+)(?:\.([\w.]+))?:", permit, p)
        out.append(p)
    return out

"""The station registry: regions (province → city → county) and the stations in them.

The data-quality rates need to know what *should* have arrived, which the readings alone cannot
tell: each station's reporting interval, the points it reports, when it went into and out of
service and when it was under maintenance. That lives in one YAML file, named by
``registry_file`` in the cloud config and validated on load like every other config::

    provinces:
      - id: zj
        name: 浙江省
        cities:
          - id: zj-hz
            name: 杭州市
            counties:
              - {id: zj-hz-xh, name: 西湖区}
    stations:
      - id: ST-0001
        name: 三墩水厂取水口
        region: zj-hz-xh            # a county id
        kind: intake
        interval_minutes: 5         # or interval_seconds (a time-compressed run, e.g. `watertel sim fleet`)
        points: [flow, total]       # optional: each point is expected every interval (default: any point)
        commissioned: 2026-10-10    # in service from local midnight of that day (or a date-time: from then)
        decommissioned: 2027-03-01  # optional: out of service from local midnight of that day
        maintenance:                # optional: excluded from what is expected
          - {start: "2026-10-12T08:00", end: "2026-10-12T20:00", note: pump replaced}
        location: {lat: 30.312, lon: 120.085}   # optional: WGS-84 degrees (the console's map)

Dates and times without a UTC offset are in the report calendar's time zone (Asia/Shanghai by
default), so an operator writes local time as it is on the work order.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from pathlib import Path
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator

from watertel.cloud.permits import Permit, permit_problems
from watertel.config import ConfigError, Strict, parse_yaml, problem_at, validate
from watertel.ids import ID_PATTERN

ID = ID_PATTERN


class StationKind(str, Enum):
    """What a station measures; closed so a typo is an error, not a new kind."""

    INTAKE = "intake"  # 取水口 (intake metering point)
    WELL = "well"  # 水源井
    PLANT = "plant"  # 水厂 outlet
    NETWORK = "network"  # a point in the distribution network (DMA inlet, end of network)
    QUALITY = "quality"  # water-quality analyser
    PRESSURE = "pressure"
    PUMP = "pump"
    LEVEL = "level"
    DRAINAGE = "drainage"
    OTHER = "other"


class County(Strict):
    id: str = Field(pattern=ID)
    name: str = Field(min_length=1)


class City(Strict):
    id: str = Field(pattern=ID)
    name: str = Field(min_length=1)
    counties: list[County] = []


class Province(Strict):
    id: str = Field(pattern=ID)
    name: str = Field(min_length=1)
    cities: list[City] = []


class Maintenance(Strict):
    """A window in which the station is not expected to report (start inclusive, end exclusive)."""

    start: dt.datetime
    end: dt.datetime
    note: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Maintenance:
        if (self.start.tzinfo is None) != (self.end.tzinfo is None):
            raise ValueError("give start and end both with a UTC offset or both without (local time)")
        if self.end <= self.start:
            raise ValueError(f"end must be after start (got start {self.start.isoformat()}, end {self.end.isoformat()})")
        return self

    def bounds_ms(self, tz: ZoneInfo) -> tuple[int, int]:
        """The window in Unix milliseconds; naive times are local time in ``tz``."""
        return to_ms(self.start, tz), to_ms(self.end, tz)


class Location(Strict):
    """Where a station is, in WGS-84 degrees (what a GPS and 天地图's CGCS2000 agree on to a metre)."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Station(Strict):
    id: str = Field(pattern=ID)
    name: str = ""
    region: str = Field(pattern=ID)  # a county id
    kind: StationKind = StationKind.OTHER
    interval_minutes: int | None = Field(None, gt=0, le=7 * 1440)
    interval_seconds: int | None = Field(None, gt=0, le=7 * 86400)  # instead of minutes: a time-compressed run
    points: list[str] = []  # empty: one report per interval from any point
    commissioned: dt.date | dt.datetime  # a date: from its local midnight; a datetime: from that moment
    decommissioned: dt.date | dt.datetime | None = None
    maintenance: list[Maintenance] = []
    location: Location | None = None

    @field_validator("commissioned", "decommissioned", mode="before")
    @classmethod
    def _moment(cls, value: Any) -> Any:
        """Text with a time of day is a datetime: pydantic would read "…T00:00+08:00" as a bare date."""
        if isinstance(value, str) and len(value.strip()) > 10:
            try:
                return dt.datetime.fromisoformat(value.strip())
            except ValueError:
                return value  # pydantic reports it
        return value

    @model_validator(mode="after")
    def _life(self) -> Station:
        if (self.interval_minutes is None) == (self.interval_seconds is None):
            raise ValueError("give exactly one of interval_minutes and interval_seconds"
                             f" (got {'both' if self.interval_minutes else 'neither'})")
        if self.decommissioned is not None and not _after(self.decommissioned, self.commissioned):
            raise ValueError(f"decommissioned must be after commissioned ({self.commissioned}),"
                             f" got {self.decommissioned}")
        if len(set(self.points)) != len(self.points):
            raise ValueError(f"points must not repeat, got {self.points}")
        return self

    @property
    def interval_ms(self) -> int:
        return self.interval_seconds * 1000 if self.interval_seconds else self.interval_minutes * 60_000

    @property
    def minutes(self) -> float:
        """The interval in minutes for reports: whole for a real station, a fraction in a time-compressed run."""
        return self.interval_ms // 60_000 if self.interval_ms % 60_000 == 0 else self.interval_ms / 60_000

    @property
    def interval_text(self) -> str:
        return f"{self.interval_seconds} s" if self.interval_seconds else f"{self.interval_minutes} min"


def _after(later: dt.date, earlier: dt.date) -> bool:
    """``later > earlier`` for dates and datetimes mixed. A date is its midnight; when only one
    side carries a UTC offset the zone of the other is unknown here, so only an order wrong in
    every zone (UTC-12 … UTC+14) is refused."""
    a, b = (m if isinstance(m, dt.datetime) else dt.datetime.combine(m, dt.time()) for m in (later, earlier))
    if (a.tzinfo is None) == (b.tzinfo is None):
        return a > b
    slack = dt.timedelta(hours=14)  # the widest gap between a UTC offset and UTC
    a, b = (m if m.tzinfo else m.replace(tzinfo=dt.timezone.utc) for m in (a, b))
    return a + slack > b


class RegistryFile(Strict):
    provinces: list[Province] = []
    stations: list[Station] = []
    permits: list[Permit] = []  # water-withdrawal permits (cloud/permits/model.py)


def to_ms(moment: dt.datetime | dt.date, tz: ZoneInfo) -> int:
    """Unix milliseconds of a datetime (naive: local in ``tz``) or of a date's local midnight."""
    if not isinstance(moment, dt.datetime):
        moment = dt.datetime.combine(moment, dt.time())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return int(moment.timestamp() * 1000)


class Registry:
    """The validated registry with its region tree indexed for roll-ups."""

    def __init__(self, data: RegistryFile) -> None:
        self.provinces = data.provinces
        self.stations = data.stations
        self.permits = data.permits
        self.names: dict[str, str] = {}
        self.levels: dict[str, str] = {}
        self.parent: dict[str, str | None] = {}
        for p in data.provinces:
            self._add(p.id, p.name, "province", None)
            for c in p.cities:
                self._add(c.id, c.name, "city", p.id)
                for k in c.counties:
                    self._add(k.id, k.name, "county", c.id)

    def _add(self, id_: str, name: str, level: str, parent: str | None) -> None:
        self.names[id_], self.levels[id_], self.parent[id_] = name, level, parent

    def ancestry(self, region: str) -> list[str]:
        """The region and its ancestors, county first: ``[county, city, province]``."""
        chain: list[str] = []
        current: str | None = region
        while current is not None:
            chain.append(current)
            current = self.parent[current]
        return chain

    def path(self, region: str) -> str:
        """``province/city/county`` ids, as the offline CSV formats write a region."""
        return "/".join(reversed(self.ancestry(region)))

    def regions(self) -> list[str]:
        """Every region id, each province followed by its cities and each city by its counties."""
        return list(self.names)

    def stations_in(self, region: str | None) -> list[Station]:
        """The stations in a region (any level) or all of them (None)."""
        return [s for s in self.stations if region is None or region in self.ancestry(s.region)]


def _cross_problems(data: RegistryFile) -> Iterable[tuple[tuple[Any, ...], str]]:
    """Checks across entries (unique ids, stations in a county) as (location, problem)."""
    seen: dict[str, str] = {}
    counties: set[str] = set()
    for i, p in enumerate(data.provinces):
        places = [(("provinces", i, "id"), p.id)]
        for j, c in enumerate(p.cities):
            places.append((("provinces", i, "cities", j, "id"), c.id))
            for k, county in enumerate(c.counties):
                places.append((("provinces", i, "cities", j, "counties", k, "id"), county.id))
                counties.add(county.id)
        for loc, id_ in places:
            if id_ in seen:
                yield loc, f"region id {id_!r} is used twice (first at {seen[id_]}) (give each region its own id)"
            seen.setdefault(id_, ".".join(map(str, loc)))
    ids: set[str] = set()
    for i, s in enumerate(data.stations):
        if s.id in ids:
            yield ("stations", i, "id"), f"station id {s.id!r} is used twice (give each station its own id)"
        ids.add(s.id)
        if s.region not in counties:
            what = "a city or province" if s.region in seen else "not a region in this file"
            yield ("stations", i, "region"), f"{s.region!r} is {what} (use a county id)"
    yield from permit_problems(data.permits, {s.id: s.points for s in data.stations})


def load_registry(path: Path | str) -> Registry:
    """Load and validate a registry file; every problem is reported as ``file:line: key: problem``."""
    data, node = parse_yaml(path)
    return build_registry(path, data, node)


def build_registry(path: Path | str, data: Any, node: Any = None) -> Registry:
    """Validate registry data however it arrived (a YAML file, a CSV, an API body) with the same
    checks and messages as the file; ``node``: the YAML node tree, for line numbers."""
    model = validate(path, data, node, RegistryFile)
    problems = [problem_at(path, node, loc, problem) for loc, problem in _cross_problems(model)]
    if problems:
        raise ConfigError(path, problems)
    return Registry(model)

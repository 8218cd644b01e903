"""The live picture: latest values, stations with their status, and the time series of one point."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from watertel.cloud.registry import Location, StationKind
from watertel.readings import Quality

QualityName = Literal[tuple(q.name for q in Quality)]  # type: ignore[valid-type]  # watertel/readings.py


class LatestReading(BaseModel):
    """The newest reading of one station and point (a NaN value as null)."""

    station: str
    point: str
    t_ms: int
    value: float | None
    unit: str
    quality: QualityName


class PointValue(BaseModel):
    """A point of a station with its latest value; all null but ``point`` and ``unit`` before its first."""

    point: str
    value: float | None
    unit: str
    quality: QualityName | None
    t_ms: int | None


class RegionBrief(BaseModel):
    id: str
    name: str
    level: str = Field(description="province, city or county")


class StationLive(BaseModel):
    """A station with its status, last sample, open alarms and latest values (registry facts are
    empty or null for a station the registry does not know)."""

    station: str
    name: str
    kind: StationKind
    region: str | None
    regions: list[str] = Field(description="county, city, province")
    region_path: str
    interval_ms: int | None
    last_seen_ms: int | None
    status: Literal["online", "offline", "never"]
    open_alarms: int
    points: list[PointValue]
    location: Location | None = Field(description="WGS-84 degrees from the registry (null: not given)")
    maintenance: bool = Field(description="in one of its maintenance windows now")


class StationsPublic(BaseModel):
    now_ms: int
    regions: list[RegionBrief] = Field(description="the regions the stations lie in, provinces first")
    stations: list[StationLive]


# --- /api/series: one of four shapes, told apart by ``mode`` ------------------------------------
class RawPoint(BaseModel):
    t_ms: int
    value: float | None
    quality: QualityName


class Bucket(BaseModel):
    """Readings in [t_ms, t_ms + bucket_ms): how many, and their min, max and mean."""

    t_ms: int
    n: int
    min: float | None
    max: float | None
    mean: float | None


class Rollup(BaseModel):
    """One hour or local day of a point (cloud/quality/hourly.py): slots expected, received, on time
    and abnormal; n/min/max/mean of the trusted values and, for a totaliser, the volume."""

    t_ms: int
    expected: int
    received: int
    on_time: int
    abnormal: int
    n: int
    min: float | None
    max: float | None
    mean: float | None
    volume: float | None


class LimitLine(BaseModel):
    """A line to draw beside a series (cloud/api/series_limits.py)."""

    value: float
    side: Literal["low", "high"]
    source: Literal["gb5749", "alarm", "permit", "plan"] = Field(
        description="GB 5749-2022's default, a configured alarm threshold, a permit's or its plan's daily share")
    applies_to: Literal["value", "day_volume"] = Field(description="the readings, or a day's volume of a totaliser")


class SeriesBase(BaseModel):
    station: str
    point: str
    unit: str = Field(description="the unit of the newest reading in the range (else of any): empty if none")
    start: int = Field(alias="from", description="Unix ms, inclusive")
    end: int = Field(alias="to", description="Unix ms, exclusive")
    count: int = Field(description="raw readings in the range")
    limits: list[LimitLine] = Field(description="limit lines from the alarm settings and the permit")


class SeriesRaw(SeriesBase):
    mode: Literal["raw"]
    bucket_ms: None
    points: list[RawPoint]


class SeriesBuckets(SeriesBase):
    mode: Literal["buckets"]
    bucket_ms: int
    points: list[Bucket]


class SeriesHours(SeriesBase):
    mode: Literal["hour"]
    bucket_ms: int
    points: list[Rollup]


class SeriesDays(SeriesBase):
    mode: Literal["day"]
    bucket_ms: None
    tz: str = Field(description="the time zone of the days (the rates' calendar)")
    points: list[Rollup]


SeriesPublic = Annotated[SeriesRaw | SeriesBuckets | SeriesHours | SeriesDays, Field(discriminator="mode")]

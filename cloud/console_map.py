"""The console's station map: its settings (``api.map`` in the cloud config) and the operator's
region boundaries (a GeoJSON file), checked when the config loads.

Consoles run on intranets, so nothing here needs the internet. Without ``tiles`` the map is
plain: the boundaries of ``regions_geojson`` (if given) and the stations on a blank background.
With ``tiles`` (a tile server's URL template, e.g. 天地图 with its key, or a tile server on the
intranet) that is the base layer; ``overlay`` is drawn over it (天地图's labels are a layer of
their own)::

    api:
      map:
        tiles: "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=YOUR-KEY"
        overlay: "https://t{s}.tianditu.gov.cn/cva_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=cva&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=YOUR-KEY"
        subdomains: "01234567"
        attribution: "天地图 GS(2024)0650号"
        regions_geojson: regions.geojson   # optional; relative to this file

The GeoJSON is a FeatureCollection of Polygon / MultiPolygon (or LineString) features; a
feature whose ``properties.region`` names a registry region is shown to the users who see that
region, one without it only to users who see every region (as a station the registry does not
know). A tile key sits in the browser's requests anyway (天地图 issues browser keys for that):
it is no secret, and the API hands the URL to every logged-in user.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from watertel.config import Strict

MAX_GEOJSON_BYTES = 20_000_000  # a county-level province is ~5 MB simplified; more would stall a browser
GEOMETRIES = {"Polygon": 3, "MultiPolygon": 4, "LineString": 2, "MultiLineString": 3}  # type → nesting depth
REGION_KEY = "region"


class MapConfig(Strict):
    """``api.map``: the base layer (optional) and the region boundaries (optional)."""

    tiles: str | None = None  # URL template with {z}, {x}, {y} (and {s} with subdomains)
    overlay: str | None = None  # a second tile layer over the base (labels)
    subdomains: list[str] = []  # "01234567" (one per character) or a list
    attribution: str = ""  # shown in the map's corner, as text
    max_zoom: int = Field(18, ge=1, le=22)
    regions_geojson: Path | None = None

    @field_validator("subdomains", mode="before")
    @classmethod
    def _characters(cls, value: Any) -> Any:
        return list(value) if isinstance(value, str) else value

    @field_validator("tiles", "overlay")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.startswith(("http://", "https://", "/")):
            raise ValueError("a tile URL starts with http://, https:// or / (a tile server behind this console)")
        missing = [p for p in ("{z}", "{x}", "{y}") if p not in value]
        if missing:
            raise ValueError(f"a tile URL template needs {', '.join(missing)} (e.g. …/{{z}}/{{x}}/{{y}}.png)")
        return value

    @model_validator(mode="after")
    def _subdomains_used(self) -> MapConfig:
        if any(url and "{s}" in url for url in (self.tiles, self.overlay)) and not self.subdomains:
            raise ValueError("the tile URL has {s}: give subdomains (e.g. \"01234567\" for 天地图, \"abc\")")
        if self.overlay and not self.tiles:
            raise ValueError("overlay is drawn over tiles: give tiles too, or drop overlay")
        return self


class GeoJsonError(ValueError):
    """A regions file that cannot be drawn; the message names the feature and what is wrong."""


def load_regions(path: Path) -> dict:
    """The regions file as a FeatureCollection, checked so the browser can draw every feature."""
    try:
        size = path.stat().st_size
    except OSError as err:
        raise GeoJsonError(f"cannot read it ({err.strerror})") from None
    if size > MAX_GEOJSON_BYTES:
        raise GeoJsonError(f"{size:,} bytes, more than {MAX_GEOJSON_BYTES:,} (simplify it, e.g. mapshaper -simplify 10%)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise GeoJsonError(f"not JSON in UTF-8 ({err})") from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" or not isinstance(data.get("features"), list):
        raise GeoJsonError('not a GeoJSON FeatureCollection ({"type": "FeatureCollection", "features": [...]})')
    for i, feature in enumerate(data["features"]):
        if problem := _feature_problem(feature):
            raise GeoJsonError(f"features.{i}: {problem}")
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": f.get("properties") or {}, "geometry": f["geometry"]} for f in data["features"]]}


def region_ids(collection: dict) -> list[tuple[int, str]]:
    """(feature index, ``properties.region``) of the features that name a region."""
    return [(i, str(f["properties"][REGION_KEY])) for i, f in enumerate(collection["features"])
            if f["properties"].get(REGION_KEY) is not None]


def _feature_problem(feature: Any) -> str | None:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        return 'not a Feature ({"type": "Feature", "properties": {...}, "geometry": {...}})'
    if not isinstance(feature.get("properties") or {}, dict):
        return "properties: write a mapping"
    geometry = feature.get("geometry")
    if not isinstance(geometry, dict) or geometry.get("type") not in GEOMETRIES:
        return f"geometry: use one of {', '.join(GEOMETRIES)} (got {geometry.get('type') if isinstance(geometry, dict) else geometry!r})"
    if not _positions(geometry.get("coordinates"), GEOMETRIES[geometry["type"]]):
        return "geometry.coordinates: nested lists of [lon, lat] degrees expected (WGS-84, lon first)"
    return None


def _positions(value: Any, depth: int) -> bool:
    """Whether ``value`` nests ``depth`` - 1 levels of non-empty lists down to [lon, lat] positions."""
    if depth == 1:
        return (isinstance(value, list) and len(value) >= 2 and all(_finite(v) for v in value[:2])
                and -180 <= value[0] <= 180 and -90 <= value[1] <= 90)
    return isinstance(value, list) and len(value) > 0 and all(_positions(v, depth - 1) for v in value)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

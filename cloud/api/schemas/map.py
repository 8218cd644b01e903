"""The console's station map: its base layer settings and the region boundaries (GeoJSON)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class MapPublic(BaseModel):
    """``api.map`` as the browser needs it; ``tiles`` null: a plain map (boundaries, stations)."""

    tiles: str | None = Field(description="URL template of the base layer ({z}/{x}/{y}, {s}); null: none")
    overlay: str | None = Field(description="URL template of a layer drawn over the base (labels)")
    subdomains: list[str]
    attribution: str
    max_zoom: int
    regions: bool = Field(description="whether GET /api/map/regions has boundaries (api.map.regions_geojson)")


class RegionFeature(BaseModel):
    type: Literal["Feature"]
    properties: dict[str, Any] = Field(description="as in the file; ``region``: the registry region it outlines")
    geometry: dict[str, Any] = Field(description="Polygon, MultiPolygon, LineString or MultiLineString, [lon, lat]")


class RegionsGeoJson(BaseModel):
    """The operator's boundaries within your regions, as a GeoJSON FeatureCollection."""

    type: Literal["FeatureCollection"]
    features: list[RegionFeature]

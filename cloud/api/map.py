"""The station map's settings and region boundaries for the console: ``GET /api/map`` and
``GET /api/map/regions`` (cloud/console_map.py has the settings and the file's checks).

The boundaries are read once, when the API starts (the config load has checked them). Within
your regions like the station list: a feature naming a registry region (``properties.region``)
for users who see that region, one naming none only for users who see every region.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from watertel.cloud.api.deps import Principal, Reader, RegistryDep
from watertel.cloud.api.errors import Problem
from watertel.cloud.api.schemas import refusals
from watertel.cloud.api.schemas.map import MapPublic, RegionsGeoJson
from watertel.cloud.console_map import REGION_KEY, MapConfig
from watertel.cloud.registry import Registry

router = APIRouter(prefix="/api/map", tags=["stations"], responses=refusals(401, 403))


async def get_map(request: Request) -> MapConfig:
    return request.app.state.map


async def get_regions(request: Request) -> dict | None:
    """The regions file's FeatureCollection as loaded at start (None: none configured)."""
    return request.app.state.map_regions


MapDep = Annotated[MapConfig, Depends(get_map)]
RegionsDep = Annotated[dict | None, Depends(get_regions)]


@router.get("")
def settings(who: Reader, cfg: MapDep, regions: RegionsDep) -> MapPublic:
    """The base layer (null tiles: a plain map) and whether region boundaries are there."""
    return MapPublic(tiles=cfg.tiles, overlay=cfg.overlay, subdomains=cfg.subdomains, attribution=cfg.attribution,
                     max_zoom=cfg.max_zoom, regions=regions is not None)


@router.get("/regions", responses=refusals(404))
def boundaries(who: Reader, regions: RegionsDep, registry: RegistryDep) -> RegionsGeoJson:
    """The region boundaries within your regions (GeoJSON; 404 without ``api.map.regions_geojson``)."""
    if regions is None:
        raise Problem(404, "map.no_regions", "no region boundaries: set api.map.regions_geojson in the cloud config")
    return RegionsGeoJson.model_validate({"type": "FeatureCollection", "features": [
        f for f in regions["features"] if _visible(who, registry, f["properties"].get(REGION_KEY))]})


def _visible(who: Principal, registry: Registry | None, region: object) -> bool:
    if not isinstance(region, str) or registry is None or region not in registry.names:
        return not who.regions
    return who.sees(registry.ancestry(region))

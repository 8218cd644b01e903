"""The station map's test data: a registry whose stations have coordinates (Hangzhou and Ningbo,
WGS-84), the region boundaries an operator would supply (GeoJSON), and a cloud config naming them."""

from __future__ import annotations

import json
from pathlib import Path

REGISTRY = """\
provinces:
  - id: zj
    name: 浙江省
    cities:
      - id: zj-hz
        name: 杭州市
        counties: [{id: zj-hz-xh, name: 西湖区}, {id: zj-hz-bj, name: 滨江区}]
      - id: zj-nb
        name: 宁波市
        counties: [{id: zj-nb-hs, name: 海曙区}]
stations:
  - {id: ST-XH, name: 西湖水源井, kind: well, region: zj-hz-xh, interval_minutes: 5, points: [flow, total],
     commissioned: 2024-01-01, location: {lat: 30.259, lon: 120.130}}
  - {id: ST-BJ, name: 滨江泵站, kind: pump, region: zj-hz-bj, interval_minutes: 5, commissioned: 2024-01-01,
     location: {lat: 30.208, lon: 120.211},
     maintenance: [{start: "2024-01-01T00:00", end: "2099-01-01T00:00", note: 长期检修}]}
  - {id: ST-NB, name: 海曙水源井, kind: well, region: zj-nb-hs, interval_minutes: 5, points: [total, turbidity],
     commissioned: 2024-01-01, location: {lat: 29.874, lon: 121.550}}
  - {id: ST-NOWHERE, name: 无坐标站, kind: other, region: zj-nb-hs, interval_minutes: 60, commissioned: 2024-01-01}
permits:
  - {id: P-NB, holder: 宁波某厂, permitted_m3: 36500, meters: [ST-NB], plan: {annual: 29200}}
"""


def box(lon0: float, lat0: float, lon1: float, lat1: float) -> list:
    return [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]]


REGIONS = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"region": "zj-hz", "name": "杭州市"},
     "geometry": {"type": "Polygon", "coordinates": box(119.9, 30.0, 120.5, 30.5)}},
    {"type": "Feature", "properties": {"region": "zj-hz-xh", "name": "西湖区"},
     "geometry": {"type": "Polygon", "coordinates": box(120.0, 30.15, 120.17, 30.35)}},
    {"type": "Feature", "properties": {"region": "zj-nb", "name": "宁波市"},
     "geometry": {"type": "MultiPolygon", "coordinates": [box(121.3, 29.7, 121.8, 30.1)]}},
    {"type": "Feature", "properties": {"name": "钱塘江"},  # names no region: for users who see every region
     "geometry": {"type": "LineString", "coordinates": [[120.0, 30.2], [120.4, 30.3], [120.9, 30.35]]}},
]}


def write_files(folder: Path, regions: dict | None = REGIONS) -> Path:
    """registry.yaml and (unless None) regions.geojson in ``folder``; returns the GeoJSON's path."""
    (folder / "registry.yaml").write_text(REGISTRY, encoding="utf-8")
    path = folder / "regions.geojson"
    if regions is not None:
        path.write_text(json.dumps(regions, ensure_ascii=False), encoding="utf-8")
    return path

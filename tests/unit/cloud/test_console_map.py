"""The station map's settings (``api.map``) and the operator's region boundaries are checked when
the cloud config loads, with messages that name the key or the feature and the fix."""

from __future__ import annotations

import json

import pytest

from watertel.cloud.config import load_cloud_config
from watertel.cloud.console_map import GeoJsonError, MapConfig, load_regions
from watertel.config import ConfigError

from tests.support.maps import REGIONS, write_files

TIANDITU = ("https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec&STYLE=default"
            "&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=KEY")


def config(tmp_path, api_map: str) -> str:
    path = tmp_path / "cloud.yaml"
    path.write_text(f"data_dir: data\nregistry_file: registry.yaml\napi:\n  map:\n{api_map}", encoding="utf-8")
    return path


def test_tianditu_with_its_subdomains_and_a_regions_file_beside_the_config(tmp_path):
    write_files(tmp_path)
    cfg = load_cloud_config(config(tmp_path, f'    tiles: "{TIANDITU}"\n    subdomains: "01234567"\n'
                                              '    attribution: 天地图\n    regions_geojson: regions.geojson\n'))
    m = cfg.api.map
    assert m.subdomains == list("01234567") and m.tiles == TIANDITU and m.attribution == "天地图"
    assert m.regions_geojson == tmp_path / "regions.geojson"  # relative to the config's folder
    assert MapConfig().tiles is None and MapConfig().regions_geojson is None  # the default: a plain map


@pytest.mark.parametrize("given, problem", [
    ('    tiles: "ftp://tiles/{z}/{x}/{y}.png"\n', "api.map.tiles: a tile URL starts with http://, https:// or /"),
    ('    tiles: "https://tiles.example/{z}/{x}.png"\n', "api.map.tiles: a tile URL template needs {y}"),
    ('    tiles: "https://{s}.tiles.example/{z}/{x}/{y}.png"\n', "the tile URL has {s}: give subdomains"),
    ('    overlay: "https://tiles.example/{z}/{x}/{y}.png"\n', "overlay is drawn over tiles: give tiles too"),
    ("    max_zoom: 30\n", "api.map.max_zoom: Input should be less than or equal to 22"),
    ("    zoom: 3\n", "api.map.zoom: unknown key"),
])
def test_bad_map_settings_are_refused_naming_the_key(tmp_path, given, problem):
    write_files(tmp_path)
    with pytest.raises(ConfigError) as err:
        load_cloud_config(config(tmp_path, given))
    assert problem in str(err.value)


@pytest.mark.parametrize("content, problem", [
    ("{not json", "not JSON in UTF-8"),
    ('{"type": "Feature"}', "not a GeoJSON FeatureCollection"),
    ('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},'
     ' "geometry": {"type": "Point", "coordinates": [120, 30]}}]}', "features.0: geometry: use one of Polygon"),
    ('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},'
     ' "geometry": {"type": "Polygon", "coordinates": [[[30.2, 120.1], [30.3, 120.2], [30.2, 120.3]]]}}]}',
     "features.0: geometry.coordinates: nested lists of [lon, lat] degrees expected"),
    ('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"region": "zj-xx"},'
     ' "geometry": {"type": "LineString", "coordinates": [[120, 30], [121, 30]]}}]}',
     "features.0.properties.region: 'zj-xx' is not a region in registry.yaml"),
])
def test_a_regions_file_that_cannot_be_drawn_or_names_unknown_regions_is_refused(tmp_path, content, problem):
    write_files(tmp_path, regions=None)
    (tmp_path / "regions.geojson").write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_cloud_config(config(tmp_path, "    regions_geojson: regions.geojson\n"))
    assert f"api.map.regions_geojson: {tmp_path / 'regions.geojson'}: {problem}" in str(err.value)


def test_a_missing_regions_file_is_named(tmp_path):
    write_files(tmp_path, regions=None)
    with pytest.raises(ConfigError, match="regions.geojson: cannot read it"):
        load_cloud_config(config(tmp_path, "    regions_geojson: regions.geojson\n"))


def test_load_regions_keeps_what_draws_and_fills_missing_properties(tmp_path):
    path = tmp_path / "r.geojson"
    path.write_text(json.dumps({**REGIONS, "name": "extra keys at the top are dropped",
                                "features": [*REGIONS["features"], {"type": "Feature", "properties": None,
                                                                    "geometry": REGIONS["features"][0]["geometry"]}]}))
    loaded = load_regions(path)
    assert set(loaded) == {"type", "features"} and len(loaded["features"]) == 5
    assert loaded["features"][-1]["properties"] == {}
    with pytest.raises(GeoJsonError, match="bytes, more than"):
        path.write_bytes(b" " * 20_000_001)
        load_regions(path)

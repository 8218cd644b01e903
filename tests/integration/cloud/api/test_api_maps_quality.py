"""The station map's, the charts' and the 三率 dashboard's API over real HTTP (uvicorn on a free
port, a real SQLite store, a real registry file with coordinates and a real GeoJSON file):
``/api/map``, ``/api/map/regions``, the stations' location and maintenance, the series' limit
lines, ``/api/rates/trend``, ``/api/rates/slots`` and the permits' day volumes; who may ask,
what region-scoped users see, and what is refused."""

from __future__ import annotations

import calendar
import datetime as dt
import time

import pytest

from watertel.cloud.alarms.config import AlarmsConfig
from watertel.cloud.api.app import create_app
from watertel.cloud.api.reports import ReportsSetup
from watertel.cloud.config import ApiConfig
from watertel.cloud.console_map import MapConfig
from watertel.cloud.quality.config import RatesConfig
from watertel.cloud.registry import load_registry
from watertel.cloud.users import UserEntry
from watertel.readings import Quality, Reading

from tests.support.api import MIN, ROLES, Client, login, put, serve
from tests.support.maps import write_files
from tests.support.permits_fleet import fill, site

TILES = "https://tiles.example/{z}/{x}/{y}.png"
USERS = [(role, role, []) for role in ROLES] + [("hz-viewer", "viewer", ["zj-hz"]), ("nb-operator", "operator", ["zj-nb"])]


def running(tmp_path, store, password_hash, *, api_map: MapConfig | None = None, reports: bool = True,
            alarms: AlarmsConfig | None = None):
    geojson = write_files(tmp_path)
    registry = load_registry(tmp_path / "registry.yaml")
    users = [UserEntry(username=u, password_hash=password_hash, role=r, regions=g) for u, r, g in USERS]
    api_map = api_map if api_map is not None else MapConfig(tiles=TILES, attribution="© tiles", regions_geojson=geojson)
    setup = ReportsSetup(registry, RatesConfig(), tmp_path / "reports", alarms) if reports else None
    return serve(create_app(store, ApiConfig(users=users, map=api_map), setup, registry=registry,
                            registry_file=tmp_path / "registry.yaml"))


@pytest.fixture
def api(tmp_path, store, password_hash):
    alarms = AlarmsConfig.model_validate({"spike": {"max_flow": 120},
                                          "overrides": {"ST-XH": {"water_quality": {"limits": {"turbidity": {"high": 0.8}}}}}})
    base, server, thread = running(tmp_path, store, password_hash, alarms=alarms)
    yield base
    server.should_exit = True
    thread.join(10)


def get(base: str, user: str, path: str):
    status, body, _ = login(base, user).call("GET", path)
    return status, body


def test_the_map_settings_and_boundaries_within_the_users_regions(api):
    for role in ROLES:
        status, body = get(api, role, "/api/map")
        assert status == 200 and body == {"tiles": TILES, "overlay": None, "subdomains": [], "attribution": "© tiles",
                                          "max_zoom": 18, "regions": True}, role
    status, every = get(api, "viewer", "/api/map/regions")
    assert status == 200 and every["type"] == "FeatureCollection"
    assert [f["properties"]["name"] for f in every["features"]] == ["杭州市", "西湖区", "宁波市", "钱塘江"]
    assert every["features"][2]["geometry"]["type"] == "MultiPolygon"
    names = lambda user: [f["properties"]["name"] for f in get(api, user, "/api/map/regions")[1]["features"]]  # noqa: E731
    assert names("hz-viewer") == ["杭州市", "西湖区"]  # not Ningbo, not the river (names no region: unscoped users only)
    assert names("nb-operator") == ["宁波市"]
    assert Client(api).call("GET", "/api/map")[0] == 401 and Client(api).call("GET", "/api/map/regions")[0] == 401


def test_without_map_settings_the_map_is_plain_and_has_no_boundaries(tmp_path, store, password_hash):
    base, server, thread = running(tmp_path, store, password_hash, api_map=MapConfig())
    try:
        assert get(base, "viewer", "/api/map") == (200, {"tiles": None, "overlay": None, "subdomains": [],
                                                          "attribution": "", "max_zoom": 18, "regions": False})
        status, body = get(base, "viewer", "/api/map/regions")
        assert status == 404 and body["detail"] == "no region boundaries: set api.map.regions_geojson in the cloud config"
        assert body["code"] == "map.no_regions"
    finally:
        server.should_exit = True
        thread.join(10)


def test_stations_carry_their_location_and_maintenance_within_the_users_regions(api, store):
    put(store, Reading("ST-XH", "flow", int(time.time() * 1000) - MIN, 12.0, "m3/h", Quality.OK))
    status, body = get(api, "operator", "/api/stations")
    assert status == 200
    by_id = {s["station"]: s for s in body["stations"]}
    assert by_id["ST-XH"]["location"] == {"lat": 30.259, "lon": 120.13} and by_id["ST-XH"]["status"] == "online"
    assert by_id["ST-NOWHERE"]["location"] is None
    assert by_id["ST-BJ"]["maintenance"] is True and by_id["ST-XH"]["maintenance"] is False
    assert [s["station"] for s in get(api, "hz-viewer", "/api/stations")[1]["stations"]] == ["ST-XH", "ST-BJ"]


def test_an_admins_location_edit_is_kept_and_shows_on_the_map_at_once(api, tmp_path):
    admin = login(api, "admin")
    status, station, _ = admin.call("GET", "/api/registry/stations/ST-NB")
    assert station["location"] == {"lat": 29.874, "lon": 121.55}
    station["interval_minutes"] = 10  # an edit of another field keeps the location
    status, answer, _ = admin.call("PUT", "/api/registry/stations/ST-NB", station, {"X-CSRF-Token": admin.csrf})
    assert status == 200 and answer["location"] == {"lat": 29.874, "lon": 121.55}
    assert "lat: 29.874" in (tmp_path / "registry.yaml").read_text(encoding="utf-8")
    station["location"] = {"lat": 29.9, "lon": 121.6}
    assert admin.call("PUT", "/api/registry/stations/ST-NB", station, {"X-CSRF-Token": admin.csrf})[0] == 200
    shown = {s["station"]: s for s in get(api, "viewer", "/api/stations")[1]["stations"]}
    assert shown["ST-NB"]["location"] == {"lat": 29.9, "lon": 121.6}
    station["location"] = {"lat": 91, "lon": 121.6}
    status, answer, _ = admin.call("PUT", "/api/registry/stations/ST-NB", station, {"X-CSRF-Token": admin.csrf})
    assert status == 422 and any("station ST-NB: location.lat" in p for p in answer["detail"]), answer
    operator = login(api, "operator")  # a refused role
    assert operator.call("PUT", "/api/registry/stations/ST-NB", station, {"X-CSRF-Token": operator.csrf})[0] == 403


def test_a_series_carries_the_limit_lines_in_force(api, store):
    t = int(time.time() * 1000) - 10 * MIN
    put(store, Reading("ST-XH", "turbidity", t, 0.4, "NTU", Quality.OK), Reading("ST-XH", "flow", t, 50.0, "m3/h", Quality.OK),
        Reading("ST-NB", "turbidity", t, 0.5, "NTU", Quality.OK), Reading("ST-NB", "total", t, 1000.0, "m3", Quality.OK))

    def limits(station: str, point: str, user: str = "viewer") -> list[tuple]:
        status, body = get(api, user, f"/api/series?station={station}&point={point}")
        assert status == 200, body
        return [(x["source"], x["side"], round(x["value"], 6), x["applies_to"]) for x in body["limits"]]

    assert limits("ST-NB", "turbidity") == [("gb5749", "high", 1.0, "value")]
    assert limits("ST-XH", "turbidity") == [("alarm", "high", 0.8, "value")]  # the station's override
    assert limits("ST-XH", "flow") == [("alarm", "high", 120.0, "value")]  # spike.max_flow
    days = 366 if calendar.isleap(dt.datetime.now(RatesConfig().tz).year) else 365
    assert limits("ST-NB", "total", "nb-operator") == [("permit", "high", round(36500 / days, 6), "day_volume"),
                                                       ("plan", "high", round(29200 / days, 6), "day_volume")]
    assert limits("ST-XH", "ph") == [("gb5749", "low", 6.5, "value"), ("gb5749", "high", 8.5, "value")]
    status, body = get(api, "hz-viewer", "/api/series?station=ST-NB&point=total")
    assert status == 403 and "outside your regions" in body["detail"]


def test_the_rates_trend_and_slots_within_the_users_regions(api, store):
    now = int(time.time() * 1000)
    put(store, *(Reading("ST-XH", "flow", now - i * 5 * MIN, 1.0, "m3/h", Quality.OK) for i in range(1, 12)))
    status, trend = get(api, "admin", "/api/rates/trend?months=3")
    assert status == 200 and len(trend["months"]) in (2, 3)  # on a month's first day, this month is not listed yet
    assert trend["region"] is None and trend["targets"]["upload_rate"] == 0.95 and trend["timezone"] == "Asia/Shanghai"
    status, hz = get(api, "hz-viewer", "/api/rates/trend")
    assert status == 200 and hz["region"] == "zj-hz" and hz["name"] == "杭州市" and len(hz["months"]) in (11, 12)
    assert get(api, "hz-viewer", "/api/rates/trend?region=zj-nb")[0] == 403  # out of region
    assert get(api, "viewer", "/api/rates/trend?region=nowhere")[0] == 404
    assert get(api, "viewer", "/api/rates/trend?to=2026-13")[0] == 422
    assert get(api, "viewer", "/api/rates/trend?to=0000-01")[0] == 422  # no year 0 to step back from
    assert get(api, "viewer", "/api/rates/trend?months=0")[0] == 422

    today = dt.datetime.now(RatesConfig().tz).date().isoformat()
    status, slots = get(api, "operator", f"/api/rates/slots?station=ST-XH&period={today}")
    assert status == 200, slots
    assert slots["station"] == "ST-XH" and slots["points"] == ["flow", "total"] and slots["interval_ms"] == 5 * MIN
    assert slots["expected"] == slots["received"] + slots["missing"] and slots["received"] >= 10
    assert sum(g["slots"] for g in slots["gaps"]) == slots["missing"] and {g["point"] for g in slots["gaps"]} >= {"total"}
    status, body = get(api, "hz-viewer", f"/api/rates/slots?station=ST-NB&period={today}")  # out of region
    assert status == 403 and (body["code"], body["params"]) == ("station.outside", {"station": "ST-NB"})
    status, body = get(api, "viewer", f"/api/rates/slots?station=ST-NONE&period={today}")
    assert status == 404 and body["code"] == "station.unknown"
    status, body = get(api, "viewer", "/api/rates/slots?station=ST-XH&period=2026-13")
    assert status == 422 and "no month 13" in body["detail"] and body["code"] == "period.invalid"
    status, body = get(api, "viewer", "/api/rates/slots?station=ST-XH&period=2024-01-01..2025-06-01")
    assert status == 422 and (body["code"], body["params"]["max"]) == ("period.too_long", 366)
    assert get(api, "viewer", "/api/rates/slots?station=ST-XH&period=9999-12-31")[0] == 422  # its midnight after: no date
    assert Client(api).call("GET", f"/api/rates/slots?station=ST-XH&period={today}")[0] == 401


def test_the_rates_views_need_a_registry(tmp_path, store, password_hash):
    base, server, thread = running(tmp_path, store, password_hash)
    server.config.app.state.reports = ReportsSetup(None, RatesConfig(), tmp_path / "reports")
    try:
        status, body = get(base, "viewer", "/api/rates/trend")
        assert status == 409 and "registry_file" in body["detail"]
        assert (body["code"], body["params"]) == ("feature.off", {"feature": "registry", "setting": "registry_file"})
    finally:
        server.should_exit = True
        thread.join(10)


def test_permits_carry_their_day_volumes_for_the_running_total(tmp_path, store, password_hash):
    registry, expected = site()
    fill(store, expected["first"])
    users = [UserEntry(username="viewer", password_hash=password_hash, role="viewer")]
    base, server, thread = serve(create_app(store, ApiConfig(users=users), registry=registry))
    try:
        permit = {p["permit"]: p for p in get(base, "viewer", "/api/permits")[1]["permits"]}["P-XH"]
        days = permit["by_day"]
        assert days == sorted(days, key=lambda d: d["day"]) and days[0]["day"] > permit["first_day"]
        assert sum(d["volume_m3"] for d in days) == pytest.approx(permit["volume_m3"]) == pytest.approx(expected["volume"])
        assert {d["volume_m3"] for d in days} == {100.0}
    finally:
        server.should_exit = True
        thread.join(10)

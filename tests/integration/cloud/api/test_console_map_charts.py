"""The station map and the station's charts in a real Chromium (CJK font installed) against a real
uvicorn, a real SQLite store and a real registry file with coordinates, at 1366×900 and 390×844:
status colours, the plain map's boundaries without any tile request, a tile base layer,
the list grouped by region with search, trends that fill their axis in China time with units,
limit lines, alarm markers, readable ticks, zoom, CSV of what is shown and volume bars; every
page without overflow, console error, failed request or label drawn over another."""

from __future__ import annotations

import csv
import io
import struct
import time
import zlib

import pytest

from watertel.cloud.alarms.config import AlarmsConfig
from watertel.cloud.api.app import create_app
from watertel.cloud.api.reports import ReportsSetup
from watertel.cloud.config import ApiConfig
from watertel.cloud.console_map import MapConfig
from watertel.cloud.quality.config import RatesConfig
from watertel.cloud.quality.rollups import refresh
from watertel.cloud.registry import load_registry
from watertel.cloud.users import UserEntry
from watertel.readings import Quality, Reading

from tests.support.api import MIN, put, served
from tests.support.browser import chromium
from tests.support.maps import write_files
from tests.support.page_checks import SIZES, judged, open_page

HOUR = 60 * MIN
CHART = "section[data-point={}] .chart"


def png() -> bytes:
    """A 256×256 light-blue PNG, the tile a tile server would send."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + b"\xd6\xea\xf8" * 256 for _ in range(256))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 256, 256, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def fill(store, registry, now: int) -> dict:
    """ST-XH: two hours of flow and energy (a new station), three days of its totaliser; ST-NB:
    turbidity with an open red alarm, three days of its totaliser (90 m³ a day: its permit P-NB
    allows 100 a day, plans 80); ST-BJ: a reading, in maintenance; ST-NOWHERE: nothing."""
    first_flow = now - 2 * HOUR
    put(store, *(Reading("ST-XH", "flow", first_flow + i * 5 * MIN, 10 + (i * 7) % 9, "m3/h", Quality.OK) for i in range(24)),
        *(Reading("ST-XH", "energy", first_flow + i * 5 * MIN, 80012.3 + i * 0.31, "kWh", Quality.OK) for i in range(24)),
        *(Reading("ST-XH", "total", now - 72 * HOUR + i * HOUR, 5000.0 + 12.5 * i, "m3", Quality.OK) for i in range(72)),
        *(Reading("ST-NB", "turbidity", now - 6 * HOUR + i * 10 * MIN, 0.3 + (i % 4) * 0.1, "NTU", Quality.OK) for i in range(36)),
        *(Reading("ST-NB", "total", now - 72 * HOUR + i * HOUR, 100.0 + 3.75 * i, "m3", Quality.OK) for i in range(72)),
        Reading("ST-BJ", "flow", now - MIN, 3.0, "m3/h", Quality.OK))
    store.raise_alarm("ST-NB", "turbidity", "water_quality", "red", "turbidity 1.2 NTU above 1", now - 3 * HOUR)
    refresh(store, registry.stations, RatesConfig())  # the hour rollups behind the volume bars
    return {"first_flow": first_flow}


def console(tmp_path, store, password_hash, api_map: MapConfig | None = None):
    geojson = write_files(tmp_path)
    registry = load_registry(tmp_path / "registry.yaml")
    users = [UserEntry(username="operator", password_hash=password_hash, role="operator"),
             UserEntry(username="hz-viewer", password_hash=password_hash, role="viewer", regions=["zj-hz"])]
    api_map = api_map or MapConfig(regions_geojson=geojson)
    app = create_app(store, ApiConfig(users=users, map=api_map), ReportsSetup(registry, RatesConfig(), tmp_path / "reports",
                     AlarmsConfig()), registry=registry)
    app.state.events.poll_s = 0.25
    return app, registry


@pytest.fixture
def site(tmp_path, store, password_hash):
    app, registry = console(tmp_path, store, password_hash)
    facts = fill(store, registry, int(time.time() * 1000))
    with served(app) as base:
        yield base, facts


@pytest.fixture
def browser():
    with chromium() as browser:
        yield browser


# Pairs of visible region names on the map whose boxes overlap.
OVERLAPPING_LABELS = """(() => {
  const rs = [...document.querySelectorAll('.region-label')].filter(l => getComputedStyle(l).visibility !== 'hidden')
    .map(l => [l.textContent, l.getBoundingClientRect()]);
  const out = [];
  for (let i = 0; i < rs.length; i++) for (let j = i + 1; j < rs.length; j++) {
    const [a, p] = rs[i], [b, q] = rs[j];
    if (p.left < q.right && q.left < p.right && p.top < q.bottom && q.top < p.bottom) out.push(a + ' / ' + b);
  }
  return out;
})()"""


def external(page) -> list[str]:
    """Requests the page made to anywhere but the console itself, from now on."""
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if not r.url.startswith(("http://127.0.0.1", "data:", "blob:")) else None)
    return seen


@pytest.mark.server
@pytest.mark.parametrize("size", SIZES)
def test_the_plain_map_shows_status_colours_and_boundaries_without_the_internet(browser, site, size):
    base, _ = site
    context, page, watch = open_page(browser, base, "operator", SIZES[size])
    outside = external(page)
    page.goto(f"{base}/stations")
    page.wait_for_selector("#map[data-draw-ms]")
    box = "#map"
    assert page.get_attribute(box, "data-base") == "plain" and page.get_attribute(box, "data-regions") == "4"
    assert (page.get_attribute(box, "data-drawn"), page.get_attribute(box, "data-unplaced")) == ("3", "1")
    counts = {s: page.get_attribute(box, f"data-n-{s}") for s in ("online", "offline", "alarm", "maintenance", "never")}
    assert counts == {"online": "1", "offline": "0", "alarm": "1", "maintenance": "1", "never": "0"}
    assert sorted(page.eval_on_selector_all(".region-label", "ls => ls.map(l => l.textContent)")) == ["宁波市", "杭州市", "西湖区"]
    assert page.evaluate(OVERLAPPING_LABELS) == [], "region names printed over one another"
    assert "未配置底图" in page.text_content("#map-note") and page.query_selector(".leaflet-tile") is None
    legend = page.text_content("#legend")
    assert "在线 1" in legend and "告警 1" in legend and "维护中 1" in legend and "1 个站点未登记坐标" in legend
    # the list, grouped by county in the registry's order, with each group's counts
    heads = page.eval_on_selector_all("#stations tr.group-head", "rs => rs.map(r => r.textContent)")
    assert heads == ["浙江省 / 杭州市 / 西湖区 1 个站点，1 个在线", "浙江省 / 杭州市 / 滨江区 1 个站点，1 个在线",
                     "浙江省 / 宁波市 / 海曙区 2 个站点，1 个在线"]
    states = page.eval_on_selector_all("#stations tr[data-station]", "rs => rs.map(r => [r.dataset.station, r.dataset.state])")
    assert states == [["ST-XH", "online"], ["ST-BJ", "maintenance"], ["ST-NB", "alarm"], ["ST-NOWHERE", "never"]]
    judged(page, watch, "stations", size)
    page.fill("#search", "海曙")  # the search narrows the list and the map together
    page.wait_for_function("document.querySelector('#map').dataset.drawn === '1'")
    assert page.eval_on_selector_all("#stations tr[data-station]", "rs => rs.map(r => r.dataset.station)") == ["ST-NB", "ST-NOWHERE"]
    assert outside == [], f"the plain map asked the internet: {outside}"
    watch.clean()
    context.close()


@pytest.mark.server
def test_a_marker_opens_its_station_and_a_scoped_user_sees_only_their_regions(browser, site, store):
    base, _ = site
    context, page, watch = open_page(browser, base, "hz-viewer", SIZES["desktop"])
    page.goto(f"{base}/stations")
    page.wait_for_selector("#map[data-draw-ms]")
    assert page.get_attribute("#map", "data-drawn") == "2" and page.get_attribute("#map", "data-regions") == "2"
    assert (page.get_attribute("#map", "data-n-online"), page.get_attribute("#map", "data-n-alarm")) == ("1", "0")
    store.raise_alarm("ST-XH", "flow", "spike", "orange", "flow 99 m3/h", int(time.time() * 1000))
    page.wait_for_function("document.querySelector('#map').dataset.nAlarm === '1'")  # live: the marker turns red
    assert page.get_attribute("#map", "data-n-online") == "0"
    assert page.get_attribute("#stations tr[data-station=ST-XH]", "data-state") == "alarm"
    assert sorted(page.eval_on_selector_all(".region-label", "ls => ls.map(l => l.textContent)")) == ["杭州市", "西湖区"]
    xh = page.eval_on_selector("#map", "box => box.stationMap.pixelOf('ST-XH')")  # drawn on a canvas: clicked by place
    page.mouse.click(xh["x"], xh["y"])
    page.wait_for_selector(".leaflet-popup-content a[href='/station?id=ST-XH']")
    popup = page.text_content(".leaflet-popup-content")
    assert "西湖水源井" in popup and "告警 ·" in popup and "未关闭告警 1 条" in popup
    page.wait_for_selector("#map:not([data-moving])")  # the popup's auto-pan has ended (a click during it was lost)
    with page.expect_navigation(url=f"{base}/station?id=ST-XH"):  # waiting from before the click
        page.click(".leaflet-popup-content a")
    watch.clean()
    context.close()


@pytest.mark.server
def test_a_tile_base_layer_with_subdomains_and_an_overlay(browser, tmp_path, store, password_hash):
    api_map = MapConfig(tiles="https://t{s}.tiles.example/vec/{z}/{x}/{y}.png", overlay="https://t{s}.tiles.example/cva/{z}/{x}/{y}.png",
                        subdomains="01", attribution="天地图 <审图号>")
    app, registry = console(tmp_path, store, password_hash, api_map)
    fill(store, registry, int(time.time() * 1000))
    with served(app) as base:
        context, page, watch = open_page(browser, base, "operator", SIZES["desktop"])
        tiles: list[str] = []

        def tile(route):
            tiles.append(route.request.url)
            route.fulfill(body=png(), content_type="image/png")

        page.route("https://*.tiles.example/**", tile)
        page.goto(f"{base}/stations")
        page.wait_for_selector("#map[data-draw-ms]")
        page.wait_for_selector(".leaflet-tile-loaded")
        assert page.get_attribute("#map", "data-base") == "tiles" and page.text_content("#map-note") == ""
        assert {u.split("/")[2] for u in tiles} == {"t0.tiles.example", "t1.tiles.example"}
        assert any("/vec/" in u for u in tiles) and any("/cva/" in u for u in tiles)
        assert "天地图 <审图号>" in page.text_content(".leaflet-control-attribution")  # as text, not as markup
        watch.clean()
        context.close()


def chart(page, point: str, script: str):
    return page.eval_on_selector(CHART.format(point), f"box => {{ const c = echarts.getInstanceByDom(box); {script} }}")


@pytest.mark.server
@pytest.mark.parametrize("size", SIZES)
def test_a_stations_trends_fill_their_axis_with_units_limits_markers_and_readable_ticks(browser, site, size):
    base, facts = site
    context, page, watch = open_page(browser, base, "operator", SIZES[size])
    page.goto(f"{base}/station?id=ST-XH")
    for point in ("flow", "energy", "total"):
        page.wait_for_selector(f"{CHART.format(point)}[data-n]")
    page.wait_for_selector("section[data-volume=hour] .chart[data-n]")
    # a station that reported for two hours fills its 24-hour chart: the axis starts at its first reading
    assert int(page.get_attribute(CHART.format("flow"), "data-x0")) == facts["first_flow"]
    assert page.get_attribute(CHART.format("flow"), "data-n") == "24"
    assert chart(page, "flow", "return c.getOption().yAxis[0].name;") == "m³/h"
    assert chart(page, "flow", "return c.getOption().useUTC;") is True  # ticks in China time (instants shifted by 8 h)
    labels = chart(page, "energy", "return c.getModel().getComponent('yAxis', 0).axis.getViewLabels().map(l => l.formattedLabel);")
    assert len(labels) >= 3 and len(set(labels)) == len(labels), labels  # not "80000" on every tick
    assert all(80_010 <= float(label.replace(",", "")) <= 80_022 for label in labels), labels  # whole kWh, grouped
    times = chart(page, "flow", "return c.getModel().getComponent('xAxis', 0).axis.getViewLabels().map(l => l.formattedLabel);")
    assert all(":" in t or "-" in t for t in times) and len(times) >= 2
    bars = page.get_attribute("section[data-volume=hour] .chart", "data-n")
    assert 23 <= int(bars) <= 25, bars  # the last 24 hours' volumes from the totaliser's steps
    judged(page, watch, "station", size, charts="section.chart-box .chart")

    # CSV of what is shown: all 24 readings, then only those of the zoomed window
    with page.expect_download() as got:
        page.click("section[data-point=flow] button.csv")
    rows = list(csv.reader(io.StringIO(got.value.path().read_text(encoding="utf-8-sig"))))
    assert rows[0] == ["time", "value (m3/h)", "quality"] and len(rows) == 25
    assert all(r[0].endswith("+08:00") for r in rows[1:]) and rows[1][2] == "OK"
    chart(page, "flow", "c.dispatchAction({type: 'dataZoom', dataZoomIndex: 0, start: 50, end: 100}); return 0;")
    with page.expect_download() as got:
        page.click("section[data-point=flow] button.csv")
    zoomed = list(csv.reader(io.StringIO(got.value.path().read_text(encoding="utf-8-sig"))))
    assert 8 <= len(zoomed) - 1 <= 16 and zoomed[-1] == rows[-1]
    watch.clean()
    context.close()


@pytest.mark.server
def test_water_quality_draws_the_gb5749_limit_and_the_alarm_marker(browser, site):
    base, _ = site
    context, page, watch = open_page(browser, base, "operator", SIZES["desktop"])
    page.goto(f"{base}/station?id=ST-NB&range=24h")
    box = CHART.format("turbidity")
    page.wait_for_selector(f"{box}[data-n]")
    assert page.get_attribute(box, "data-limits") == "gb5749" and page.get_attribute(box, "data-markers") == "red"
    marks = chart(page, "turbidity", "return c.getOption().series.at(-1).markLine.data.map(d => d.yAxis ?? 'x');")
    assert marks == [1, "x"]  # the 1 NTU line, the alarm's time
    assert "GB 5749 上限 1.00 NTU" in page.inner_html(box)
    page.click("#lang")
    page.wait_for_function(f"document.querySelector('{box} svg') && document.querySelector('{box}').innerHTML.includes('GB 5749 max')")
    watch.clean()
    context.close()


@pytest.mark.server
def test_a_long_list_folds_by_region_and_the_map_draws_every_station(browser, tmp_path, store, password_hash):
    counties = [f"c{k}" for k in range(8)]
    stations = "".join(f"  - {{id: W{i:03d}, name: 井{i}, kind: well, region: {counties[i % 8]}, interval_minutes: 60,"
                       f" commissioned: 2024-01-01, location: {{lat: {27 + (i % 20) * 0.2}, lon: {118 + (i // 20) * 0.2}}}}}\n"
                       for i in range(320))
    (tmp_path / "registry.yaml").write_text(
        "provinces:\n  - id: p\n    name: 某省\n    cities:\n      - id: c\n        name: 某市\n        counties: ["
        + ", ".join(f"{{id: {c}, name: {c}县}}" for c in counties) + "]\nstations:\n" + stations, encoding="utf-8")
    users = [UserEntry(username="operator", password_hash=password_hash, role="operator")]
    app = create_app(store, ApiConfig(users=users), registry=load_registry(tmp_path / "registry.yaml"))
    with served(app) as base:
        context, page, watch = open_page(browser, base, "operator", SIZES["desktop"])
        page.goto(f"{base}/stations")
        page.wait_for_selector("#map[data-draw-ms]")
        assert page.get_attribute("#map", "data-drawn") == "320" and page.get_attribute("#map", "data-n-never") == "320"
        # 320 stations: the regions folded, each heading with its count and a button
        assert page.is_visible("#folded") and page.locator("#stations tr[data-station]").count() == 0
        assert page.locator("#stations tr.group-head").count() == 8
        page.click("#stations tbody[data-region=c3] button.group-toggle")
        page.wait_for_selector("#stations tbody[data-region=c3] tr[data-station]")
        assert page.locator("#stations tr[data-station]").count() == 40
        assert page.get_attribute("#stations tbody[data-region=c3] button.group-toggle", "aria-expanded") == "true"
        judged(page, watch, "stations-folded", "desktop")
        page.fill("#search", "井1")  # a search narrows it to a list shown whole: 井1, 井10–19, 井100–199
        page.wait_for_function("document.querySelectorAll('#stations tr[data-station]').length === 111")
        assert not page.is_visible("#folded")
        page.wait_for_function("document.querySelector('#map').dataset.drawn === '111'")
        watch.clean()
        context.close()


@pytest.mark.server
@pytest.mark.parametrize("size", SIZES)
def test_daily_volumes_against_the_permits_and_the_plans_daily_share(browser, site, size):
    base, _ = site
    context, page, watch = open_page(browser, base, "operator", SIZES[size])
    page.goto(f"{base}/station?id=ST-NB&range=7d")
    box = "section[data-volume=day] .chart"
    page.wait_for_selector(f"{box}[data-n] svg")
    assert 3 <= int(page.get_attribute(box, "data-n")) <= 4  # 72 hours of steps over three or four China days
    assert page.get_attribute(box, "data-limits") == "permit plan"
    html = page.inner_html(box)
    assert "许可日均 100.0 m³" in html and "计划日均 80.0 m³" in html, html[:400]
    days = page.eval_on_selector(box, "b => echarts.getInstanceByDom(b).getOption().series[0].data.map(d => d[1])")
    assert sum(days) == pytest.approx(71 * 3.75) and max(days) <= 90.0 + 1e-6
    judged(page, watch, "station-days", size, charts="section.chart-box .chart")
    context.close()


@pytest.mark.server
def test_in_english_on_a_phone_the_charts_keep_their_labels_apart(browser, site):
    base, _ = site
    context, page, watch = open_page(browser, base, "operator", SIZES["phone"], lang="en")
    page.goto(f"{base}/station?id=ST-NB&range=7d")
    page.wait_for_selector("section[data-volume=day] .chart[data-n] svg")
    assert page.get_attribute(CHART.format("turbidity"), "aria-label") == "China time (UTC+8)"
    judged(page, watch, "station-en", "phone", charts="section.chart-box .chart")
    context.close()

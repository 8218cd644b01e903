"""The console pages in a real Chromium against a real uvicorn and a real SQLite store: the live
alarm board (server-sent events), the station list and its filters, a station's trend chart,
and the data-quality dashboard in both languages."""

from __future__ import annotations

import time

import pytest

from watertel.cloud.api.app import create_app
from watertel.cloud.api.auth import hash_password
from watertel.cloud.api.reports import ReportsSetup
from watertel.cloud.config import ApiConfig
from watertel.cloud.users import UserEntry
from watertel.cloud.quality.config import RatesConfig
from watertel.cloud.registry import Registry, RegistryFile, load_registry
from watertel.cloud.store.sqlite import SqliteStore
from watertel.readings import Quality, Reading

from tests.support.api import MIN, put, serve
from tests.support.browser import chromium, new_page, rows
from tests.support.quality import HOUR, REGIONS, STATIONS, local, put as put_received

USER, PASSWORD = "operator", "correct horse battery"
T0 = 1_700_000_000_000


@pytest.fixture(scope="module")
def password_hash():
    return hash_password(PASSWORD)


@pytest.fixture
def store(tmp_path):
    store = SqliteStore(tmp_path / "watertel.db")
    yield store
    store.close()


def fleet() -> Registry:
    return Registry(RegistryFile.model_validate({
        "provinces": [{"id": "zj", "name": "浙江省", "cities": [
            {"id": "zj-hz", "name": "杭州市", "counties": [{"id": "zj-hz-xh", "name": "西湖区"}, {"id": "zj-hz-bj", "name": "滨江区"}]},
            {"id": "zj-nb", "name": "宁波市", "counties": [{"id": "zj-nb-hs", "name": "海曙区"}]}]}],
        "stations": [
            {"id": "ST-XH", "name": "西湖水源井", "kind": "well", "region": "zj-hz-xh", "interval_minutes": 5, "commissioned": "2024-01-01"},
            {"id": "ST-BJ", "name": "滨江泵站", "kind": "pump", "region": "zj-hz-bj", "interval_minutes": 5, "commissioned": "2024-01-01"},
            {"id": "ST-NB", "name": "海曙水源井", "kind": "well", "region": "zj-nb-hs", "interval_minutes": 5, "commissioned": "2024-01-01"}],
    }))


def running(store, password_hash, registry: Registry, reports: ReportsSetup | None = None):
    app = create_app(store, ApiConfig(users=[UserEntry(username=USER, password_hash=password_hash)]), reports,
                     registry=registry)
    app.state.events.poll_s = 0.25
    return serve(app)


@pytest.fixture
def base_url(store, password_hash):
    base, server, thread = running(store, password_hash, fleet())
    yield base
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def browser():
    with chromium() as browser:
        yield browser


# The points an ECharts trend drew (its main series, values present), and its min–max band (the
# filled "max" series stacked on "min", one value per bucket).
DRAWN = "box => echarts.getInstanceByDom(box).getOption().series.at(-1).data.filter(d => d[1] !== null).length"
BAND = ("box => { const s = echarts.getInstanceByDom(box).getOption().series.find(x => x.name === 'max');"
        " return s && s.areaStyle ? s.data.filter(d => d[1] !== null).length : 0; }")


def station_rows(page) -> list[str]:
    """The station rows of the grouped list (not the regions' heading rows), cells joined by " | "."""
    return page.eval_on_selector_all("#stations tbody tr[data-station]",
                                     "trs => trs.map(tr => [...tr.cells].map(td => td.textContent).join(' | '))")


def open_logged_in(browser, base_url: str, path: str):
    page = new_page(browser)
    page.goto(f"{base_url}/login")
    page.fill("input[name=username]", USER)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    page.goto(base_url + path)
    return page


@pytest.mark.server
def test_a_new_red_alarm_appears_live_above_a_yellow_one(browser, base_url, store):
    store.raise_alarm("ST-NB", "level", "low_level", "yellow", "level below 1 m", T0)
    page = open_logged_in(browser, base_url, "/alarms")
    page.wait_for_selector("#board tbody tr.row-yellow")
    page.wait_for_selector("#live[data-state=open]")  # subscribed: every change from now on arrives
    assert page.text_content("#live") == "实时" and page.text_content("#board th") == "级别"
    page.evaluate("window.notReloaded = true")

    store.raise_alarm("ST-XH", "pressure", "low_pressure", "red", "pressure below 0.2 MPa", int(time.time() * 1000))
    page.wait_for_selector("#board tbody tr.row-red", timeout=5_000)
    board = rows(page, "board")
    assert [r.split(" | ")[:5] for r in board] == [
        ["红色", "low_pressure", "ST-XH", "压力", "pressure below 0.2 MPa"],  # points by their names (issue 20, item 8)
        ["黄色", "low_level", "ST-NB", "水位", "level below 1 m"]]
    assert page.evaluate("window.notReloaded") is True
    assert page.text_content("#alarm-count") == "2" and page.is_visible("#red-banner")
    assert page.title().startswith("(1) ")
    animation = page.eval_on_selector("#board tbody tr.row-red td.sev-red", "td => getComputedStyle(td).animationName")
    assert animation == "pulse"  # the visual cue for red

    store.clear_alarm("ST-XH", "pressure", "low_pressure", int(time.time() * 1000))
    # cleared but not closed: it stays on the board, below the open ones, until a manager closes it (issue 20, item 2)
    page.wait_for_selector("#board tbody tr.row-state-cleared", timeout=5_000)
    board = rows(page, "board")
    assert [r.split(" | ")[1] for r in board] == ["low_level", "low_pressure"] and "已恢复，待关闭" in board[1]
    assert not page.is_visible("#red-banner") and page.evaluate("window.notReloaded") is True


@pytest.mark.server
def test_the_station_list_shows_status_and_filters_by_region_kind_and_text(browser, base_url, store):
    now = int(time.time() * 1000)
    put(store, Reading("ST-XH", "flow", T0, 1.0, "m3/h", Quality.OK), Reading("ST-BJ", "flow", now - MIN, 2.0, "m3/h", Quality.OK))
    page = open_logged_in(browser, base_url, "/stations")
    page.wait_for_selector("#stations tbody tr[data-station]")
    shown = lambda: [r.split(" | ")[:5] for r in station_rows(page)]  # noqa: E731
    assert shown() == [["ST-XH", "西湖水源井", "水源井", "浙江省 / 杭州市 / 西湖区", "离线"],
                       ["ST-BJ", "滨江泵站", "泵站", "浙江省 / 杭州市 / 滨江区", "在线"],
                       ["ST-NB", "海曙水源井", "水源井", "浙江省 / 宁波市 / 海曙区", "从未上报"]]
    page.select_option("#region", "zj-hz")  # a city: its counties' stations
    assert [r[0] for r in shown()] == ["ST-XH", "ST-BJ"] and page.text_content("#count") == "共 2 个站点"
    page.select_option("#region", "zj-nb-hs")
    assert [r[0] for r in shown()] == ["ST-NB"]
    page.select_option("#region", "")
    page.select_option("#kind", "pump")
    assert [r[0] for r in shown()] == ["ST-BJ"]
    page.select_option("#kind", "")
    page.fill("#search", "西湖")
    assert [r[0] for r in shown()] == ["ST-XH"]

    page.fill("#search", "")  # ST-NB reports while the page is open: online, without a reload
    put(store, Reading("ST-NB", "level", int(time.time() * 1000), 3.0, "m", Quality.OK))
    page.wait_for_function("document.querySelector('tr[data-station=\"ST-NB\"] .status').textContent === '在线'",
                           timeout=5_000)


@pytest.mark.server
def test_the_station_page_draws_each_point_from_the_series(browser, base_url, store):
    put(store, *(Reading("ST-XH", "flow", T0 + i * MIN, 10 + i % 7, "m3/h", Quality.OK) for i in range(50)))
    put(store, *(Reading("ST-XH", "level", T0 + i * 1000, float(i % 100), "m", Quality.OK) for i in range(2500)))
    page = open_logged_in(browser, base_url, f"/station?id=ST-XH&from={T0}&to={T0 + 50 * MIN}")
    flow = "section[data-point=flow] .chart[data-n]"
    page.wait_for_selector(f"{flow} svg")
    assert page.get_attribute(flow, "data-n") == "50"
    vertices = page.eval_on_selector(flow, DRAWN)
    assert vertices == 50
    api = page.request.get(f"{base_url}/api/series?station=ST-XH&point=flow&from={T0}&to={T0 + 50 * MIN}").json()
    assert api["mode"] == "raw" and api["count"] == 50
    # 2,500 level readings in the range: the server sends at most 2,000 min/mean/max buckets, drawn with a band
    level = int(page.get_attribute("section[data-point=level] .chart", "data-n"))
    band = page.eval_on_selector("section[data-point=level] .chart", BAND)
    assert 1000 < level <= 2000 and band == level and page.get_attribute("section[data-point=level] .chart", "data-mode") == "buckets"
    assert "西湖水源井" in page.text_content("#station-name") and "水源井" in page.text_content("#station-info")


@pytest.fixture
def quality_url(tmp_path, store, password_hash):
    """Ten days of three daily stations (as in test_quality_cli): overall 2 of 3 reporting normally,
    23 of 25 reports received, 18 of 23 on time, 1 of 3 stations abnormal; one stored monthly report."""
    (tmp_path / "registry.yaml").write_text(REGIONS + STATIONS, encoding="utf-8")
    for day in range(1, 11):
        t = local(day, 8)
        put_received(store, t + MIN, ("A", t))
        if day not in (3, 4):
            put_received(store, t + MIN, ("B", t))
        if day >= 6:
            put_received(store, t + 2 * HOUR, ("C", t))  # always late
    root = tmp_path / "reports"
    (root / "monthly").mkdir(parents=True)
    (root / "monthly" / "2026-10.csv").write_text("# regions\n")
    registry = load_registry(tmp_path / "registry.yaml")
    base, server, thread = running(store, password_hash, registry, ReportsSetup(registry, RatesConfig(), root))
    yield base
    server.should_exit = True
    thread.join(10)


@pytest.mark.server
def test_the_quality_page_shows_the_rates_drills_down_and_switches_language(browser, quality_url):
    page = open_logged_in(browser, quality_url, "/quality?period=2026-10-01..2026-10-10")
    page.wait_for_selector("#overall .card")
    rate = lambda name: page.text_content(f"#overall [data-rate={name}] .value")  # noqa: E731
    label = lambda name: page.text_content(f"#overall [data-rate={name}] .label")  # noqa: E731
    assert [rate(r) for r in ("completeness", "upload_rate", "timeliness", "abnormal_rate")] == [
        "66.7%", "92.0%", "78.3%", "33.3%"]  # 2/3, 23/25, 18/23, 1/3
    assert label("completeness") == "完整率" and page.text_content("#overall [data-rate=timeliness] .verdict") == "未达标"
    assert "≥ 95.0%" in page.text_content("#overall [data-rate=upload_rate] .target-line")
    assert [r.split(" | ")[1] for r in rows(page, "regions")] == ["浙江省", "杭州市", "西湖区", "余杭区", "空县", "宁波市", "海曙区"]
    assert {p.split(" ")[1] for p in page.eval_on_selector_all("#problems li[data-problem=under_target]",
                                                              "lis => lis.map(li => li.textContent)")} == {"B", "C"}
    link = page.get_attribute("#reports a[href$='.csv']", "href")
    assert link == "/api/reports/monthly/2026-10.csv" and page.request.get(quality_url + link).status == 200

    page.click("#lang")  # English, kept across a reload, then back
    assert label("completeness") == "Completeness" and page.text_content("#overall [data-rate=timeliness] .verdict") == "Below target"
    assert page.text_content("nav a[href='/stations']") == "Stations"
    page.reload()
    page.wait_for_selector("#overall .card")
    assert label("upload_rate") == "Upload rate"
    page.click("#lang")
    assert label("upload_rate") == "上传率" and page.text_content("nav a[href='/stations']") == "站点"

    page.click("#regions tr[data-region=hz]")  # drill down: Hangzhou's stations only
    page.wait_for_function("document.getElementById('scope-name').textContent === '杭州市'")
    assert [r.split(" | ")[0] for r in rows(page, "stations")] == ["A", "B"]
    assert rate("completeness") == "50.0%" and rate("upload_rate") == "90.0%"  # 1 of 2 normal; 18 of 20 received
    page.click("#up")
    page.wait_for_function("document.getElementById('scope-name').textContent === '浙江省'")

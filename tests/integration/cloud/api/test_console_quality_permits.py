"""The 三率 dashboard, the permits' chart and the admin form's coordinates in a real Chromium (CJK
font installed) against a real uvicorn, a real SQLite store and real registry files, at 1366×900
and 390×844: a month chosen with its picker, the 12-month trend against the targets, drill-down
from a station to its missing and late reports, downloads, the printed report; a permit year's
running total with tiers, plan and projection; latitude and longitude kept and edited by an admin."""

from __future__ import annotations

import pytest
import yaml

from watertel.cloud.api.app import create_app
from watertel.cloud.api.reports import ReportsSetup
from watertel.cloud.config import ApiConfig
from watertel.cloud.quality.config import RatesConfig
from watertel.cloud.registry import load_registry
from watertel.cloud.users import UserEntry

from tests.support.api import MIN, served
from tests.support.browser import chromium
from tests.support.maps import write_files
from tests.support.page_checks import SIZES, judged, open_page
from tests.support.permits_fleet import fill, site
from tests.support.quality import HOUR, REGIONS, STATIONS, local, put as put_received


@pytest.fixture
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def quality(tmp_path, store, password_hash):
    """Ten days of three daily stations (as in test_quality_cli): A every day on time, B missing
    days 3 and 4, C from day 6 and always two hours late; one stored monthly report."""
    (tmp_path / "registry.yaml").write_text(REGIONS + STATIONS, encoding="utf-8")
    for day in range(1, 11):
        t = local(day, 8)
        put_received(store, t + MIN, ("A", t))
        if day not in (3, 4):
            put_received(store, t + MIN, ("B", t))
        if day >= 6:
            put_received(store, t + 2 * HOUR, ("C", t))
    (tmp_path / "reports" / "monthly").mkdir(parents=True)
    (tmp_path / "reports" / "monthly" / "2026-10.csv").write_text("# regions\n")
    registry = load_registry(tmp_path / "registry.yaml")
    users = [UserEntry(username="operator", password_hash=password_hash, role="operator")]
    app = create_app(store, ApiConfig(users=users), ReportsSetup(registry, RatesConfig(), tmp_path / "reports"))
    with served(app) as base:
        yield base


@pytest.mark.server
@pytest.mark.parametrize("size", SIZES)
def test_the_quality_dashboard_trend_drill_down_and_downloads(browser, quality, size):
    context, page, watch = open_page(browser, quality, "operator", SIZES[size])
    page.goto(f"{quality}/quality?period=2026-10-01..2026-10-10")
    page.wait_for_selector("#trend[data-months] svg")
    assert page.input_value("#kind") == "custom" and page.is_visible("#period") and not page.is_visible("#when-month")
    assert [page.text_content(f"#overall [data-rate={r}] .value") for r in ("completeness", "upload_rate", "timeliness",
                                                                           "abnormal_rate")] == ["66.7%", "92.0%", "78.3%", "33.3%"]
    assert page.get_attribute("#trend", "data-months") == "12"  # 2025-11 … 2026-10
    # A and B are in service from January (nothing came before October: below target), none before
    assert page.get_attribute("#trend", "data-below").split() == [f"2026-{m:02d}" for m in range(1, 11)]
    assert page.eval_on_selector("#regions tr[data-region=hz] td[data-rate=upload_rate]", "td => td.className") == "rate below"
    assert page.eval_on_selector("#regions tr[data-region=xh] td[data-rate=upload_rate]", "td => td.className") == "rate met"
    assert page.text_content("#stations tr[data-station=B] td:nth-child(3)") == "浙江省 / 杭州市 / 余杭区"  # names, not ids
    judged(page, watch, "quality", size, charts="#trend")

    page.click("#stations tr[data-station=B] button.slots")  # drill down: B's missing days
    page.wait_for_selector("#slots-box:not([hidden]) #gaps tbody tr[data-from]")
    assert page.text_content("#slots-summary").startswith("应报 10 条，实报 8 条，缺报 2 条（1 段），迟报 0 条")
    gap = page.eval_on_selector("#gaps tbody tr", "tr => [...tr.cells].map(c => c.textContent)")
    assert gap == ["任一测点", "2026-10-03 00:00 (UTC+8)", "2026-10-05 00:00 (UTC+8)", "2", "2 天"]
    page.click("#stations tr[data-station=C] button.slots")  # C: five late reports, two hours each
    page.wait_for_function("document.querySelector('#slots-station').textContent.startsWith('C')")
    late = page.eval_on_selector_all("#late tbody tr", "trs => trs.map(tr => [...tr.cells].map(c => c.textContent))")
    assert len(late) == 5 and late[0] == ["任一测点", "2026-10-06 00:00 (UTC+8)", "2026-10-06 08:00:00 (UTC+8)",
                                          "2026-10-06 10:00:00 (UTC+8)", "2 小时"]
    assert overflowing(page) <= 0

    page.select_option("#kind", "month")  # the month picker, then the downloads of what is shown
    page.fill("#when-month", "2026-10")
    page.click("#period-form button[type=submit]")
    page.wait_for_url("**/quality?period=2026-10")
    page.wait_for_function("document.querySelector('#period-name').textContent === '2026-10-01 … 2026-10-31'")
    xlsx = page.get_attribute("#downloads a[href$='format=xlsx']", "href")
    answer = page.request.get(quality + xlsx)
    assert answer.status == 200 and answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    watch.clean()
    context.close()


@pytest.mark.server
def test_in_english_on_a_phone_the_trend_keeps_its_legend_whole(browser, quality):
    context, page, watch = open_page(browser, quality, "operator", SIZES["phone"], lang="en")
    page.goto(f"{quality}/quality?period=2026-10")
    page.wait_for_selector("#trend[data-months] svg")
    assert "Abnormal rate" in page.inner_html("#trend")
    judged(page, watch, "quality-en", "phone", charts="#trend")  # the legend wraps: no item cut by the edge
    context.close()


def overflowing(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


@pytest.mark.server
def test_the_monthly_report_prints_as_a_report(browser, quality, tmp_path):
    context, page, watch = open_page(browser, quality, "operator", SIZES["desktop"])
    page.goto(f"{quality}/quality?period=2026-10")
    page.wait_for_selector("#trend[data-months] svg")
    page.emulate_media(media="print")
    assert not page.is_visible("header") and not page.is_visible("#period-form") and not page.is_visible("#reports-box")
    assert page.is_visible("#print-head") and page.is_visible("#trend svg") and page.is_visible("#regions")
    assert page.text_content("#print-title") == "全部区域 监测数据质量月报（2026-10）"
    assert page.text_content("#print-meta").startswith("统计区间 2026-10-01 至 2026-10-31（北京时间）· 生成于 ")
    pdf = tmp_path / "report.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=True)
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 20_000
    watch.clean()
    context.close()


@pytest.fixture
def permits(tmp_path, store, password_hash):
    registry, expected = site()
    fill(store, expected["first"])
    users = [UserEntry(username="operator", password_hash=password_hash, role="operator")]
    with served(create_app(store, ApiConfig(users=users), registry=registry)) as base:
        yield base, expected


@pytest.mark.server
@pytest.mark.parametrize("size", SIZES)
def test_a_permit_years_running_total_against_tiers_plan_and_projection(browser, permits, size):
    base, expected = permits
    context, page, watch = open_page(browser, base, "operator", SIZES[size])
    page.goto(f"{base}/permits")
    box = "#permit-chart"
    page.wait_for_selector(f"{box}[data-permit] svg")
    api = {p["permit"]: p for p in page.request.get(f"{base}/api/permits").json()["permits"]}
    assert page.get_attribute(box, "data-permit") == "P-XH"  # the permit nearest its limit first
    assert page.get_attribute(box, "data-days") == str(len(api["P-XH"]["by_day"]))
    assert float(page.get_attribute(box, "data-total")) == pytest.approx(expected["volume"])
    assert page.get_attribute(box, "data-projection") == "yes" and page.get_attribute(box, "data-plan-steps") == "13"
    assert page.get_attribute(box, "data-tiers") == "4"  # permitted, 80 %, 90 %, the annual plan (100 % is the permit)
    assert page.get_attribute("#permits tr[data-permit=P-XH]", "class") == "row-yellow"
    assert "许可水量" in page.inner_html(box) and "黄色" in page.inner_html(box)
    judged(page, watch, "permits", size, charts=box)
    page.click("#permits tr[data-permit=P-NB] td.share")
    page.wait_for_function(f"document.querySelector('{box}').dataset.permit === 'P-NB'")
    assert page.get_attribute("#permits tr[data-permit=P-NB]", "aria-selected") == "true"
    assert page.text_content("#chart-title") == "P-NB 海曙纸业"
    watch.clean()
    context.close()


@pytest.mark.server
def test_an_admin_keeps_and_edits_a_stations_coordinates(browser, tmp_path, store, password_hash):
    write_files(tmp_path)
    users = [UserEntry(username="admin", password_hash=password_hash, role="admin")]
    app = create_app(store, ApiConfig(users=users), registry_file=tmp_path / "registry.yaml")
    with served(app) as base:
        context, page, watch = open_page(browser, base, "admin", SIZES["desktop"])
        page.goto(f"{base}/admin")
        page.click("#stations tr[data-id=ST-NB] button.edit")
        assert (page.input_value("#edit input[name=lat]"), page.input_value("#edit input[name=lon]")) == ("29.874", "121.55")
        page.fill("#edit input[name=interval]", "10")  # another field changes: the place stays
        page.click("#save")
        page.wait_for_function("document.getElementById('saved').textContent.includes('ST-NB')")
        on_disk = lambda: {s["id"]: s for s in yaml.safe_load((tmp_path / "registry.yaml").read_text(encoding="utf-8"))["stations"]}  # noqa: E731
        assert on_disk()["ST-NB"]["location"] == {"lat": 29.874, "lon": 121.55} and on_disk()["ST-NB"]["interval_minutes"] == 10
        page.click("#stations tr[data-id=ST-NOWHERE] button.edit")  # a station without a place gets one
        assert page.input_value("#edit input[name=lat]") == ""
        page.fill("#edit input[name=lat]", "29.9")
        page.fill("#edit input[name=lon]", "121.61")
        page.click("#save")
        page.wait_for_function("document.getElementById('saved').textContent.includes('ST-NOWHERE')")
        assert on_disk()["ST-NOWHERE"]["location"] == {"lat": 29.9, "lon": 121.61}
        page.click("#stations tr[data-id=ST-NOWHERE] button.edit")
        page.fill("#edit input[name=lon]", "")  # half a place is refused, naming the key
        page.click("#save")
        page.wait_for_function("document.getElementById('form-error').textContent.length > 0")
        assert "location.lon" in page.text_content("#form-error")
        assert on_disk()["ST-NOWHERE"]["location"] == {"lat": 29.9, "lon": 121.61}
        # the admin page is the i18n part's: only its scripts must not fail here (its own refusals are its business)
        assert not [e for e in watch.errors if e.startswith("uncaught")]
        context.close()

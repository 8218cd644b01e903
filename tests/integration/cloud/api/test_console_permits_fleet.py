"""The permits and fleet pages, and the alarm board's cue for a live red alarm, in a real headless
Chromium against a real uvicorn, a real SQLite store and real fleet files."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

import pytest

from watertel.cloud.api.app import create_app
from watertel.cloud.api.gateway_status import FleetSetup
from watertel.cloud.config import ApiConfig
from watertel.cloud.users import UserEntry
from watertel.cloud.store.sqlite import SqliteStore

from tests.support.api import PASSWORD, serve
from tests.support.browser import AUDIO, chromium, new_page, rows
from tests.support.permits_fleet import fill, fleet_files, site


@pytest.fixture
def console(tmp_path, password_hash):
    """A running console with the permits and fleet of test_api_permits_fleet; (base URL, store)."""
    store = SqliteStore(tmp_path / "watertel.db")
    registry, expected = site()
    fill(store, expected["first"])
    fleet = FleetSetup(tmp_path / "fleet", fleet_files(tmp_path / "fleet"))
    users = [UserEntry(username="operator", password_hash=password_hash, role="operator")]
    app = create_app(store, ApiConfig(users=users), registry=registry, fleet=fleet)
    app.state.events.poll_s = 0.25
    base, server, thread = serve(app)
    yield base, store
    server.should_exit = True
    thread.join(10)
    store.close()


@pytest.fixture
def browser():
    with chromium(*AUDIO) as browser:
        yield browser


def logged_in(browser, base: str, path: str):
    page = new_page(browser)
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    page.goto(base + path)
    return page


def width_share(page, selector: str) -> float:
    """An element's left offset plus width as a share of its parent's width (a bar's fill or mark)."""
    return page.eval_on_selector(selector, "e => (e.offsetLeft + e.offsetWidth) / e.parentElement.clientWidth")


@pytest.mark.server
def test_the_permits_page_draws_withdrawal_against_the_permit_with_tiers_plan_and_projection(browser, console):
    base, _ = console
    page = logged_in(browser, base, "/permits")
    page.wait_for_selector("#permits tbody tr[data-permit=P-XH]")
    assert [r.split(" | ")[0] for r in rows(page, "permits")] == ["P-XH", "P-NB"]
    xh = "#permits tr[data-permit=P-XH]"
    assert page.text_content(f"{xh} td.share") == "85.0%"
    assert page.text_content(f"{xh} td.tier") == "黄色 ≥ 80.0%" and page.get_attribute(xh, "class") == "row-yellow"
    scale = 1.1  # the bar runs to 110 % of the permit
    assert width_share(page, f"{xh} .permit-bar .fill") == pytest.approx(0.85 / scale, abs=0.02)
    marks = page.eval_on_selector_all(f"{xh} .permit-bar .mark[data-share]", "ms => ms.map(m => m.dataset.share)")
    assert marks == ["0.8", "0.9", "1"]
    red = page.eval_on_selector(f"{xh} .mark.sev-red", "m => (m.offsetLeft + 1) / m.parentElement.clientWidth")
    assert red == pytest.approx(1 / scale, abs=0.02)
    assert page.is_visible(f"{xh} .mark.plan")
    api = page.request.get(f"{base}/api/permits").json()["permits"][0]
    assert api["projection_date"] in page.text_content(f"{xh} td.projection")
    assert "按近期速率" in page.text_content(f"{xh} td.projection")
    assert page.text_content(f"{xh} td.plans [data-plan=monthly]").endswith(f"{api['plans'][1]['share'] * 100:.1f}%")
    assert page.text_content("#permits tr[data-permit=P-NB] td.tier") == "未达告警线"

    page.click("#lang")
    assert page.text_content(f"{xh} td.tier") == "Yellow ≥ 80.0%"
    assert "at the recent rate" in page.text_content(f"{xh} td.projection")
    assert page.text_content("nav a[href='/permits']") == "Permits" and page.text_content("nav a[href='/fleet']") == "Gateways"


@pytest.mark.server
def test_the_fleet_page_highlights_stale_and_offline_gateways_and_sorts_by_last_contact(browser, console):
    base, _ = console
    page = logged_in(browser, base, "/fleet")
    page.wait_for_selector("#fleet tbody tr")
    order = lambda: [r.split(" | ")[0] for r in rows(page, "fleet")]  # noqa: E731
    assert order() == ["gw-both", "gw-nb", "gw-new", "gw-xh"]
    status = lambda gw: page.get_attribute(f"#fleet tr[data-gateway={gw}]", "class")  # noqa: E731
    assert [status(gw) for gw in order()] == ["fleet-offline", "fleet-stale", "fleet-never", "fleet-online"]
    background = lambda gw: page.eval_on_selector(  # noqa: E731
        f"#fleet tr[data-gateway={gw}] td", "td => getComputedStyle(td).backgroundColor")
    assert background("gw-xh") == "rgba(0, 0, 0, 0)" and background("gw-nb") != background("gw-xh")
    assert background("gw-both") not in (background("gw-xh"), background("gw-nb"))
    assert page.text_content("#attention") == "3 个需关注"
    xh = rows(page, "fleet")[3].split(" | ")
    assert xh[1:6] == ["在线", "0.1.0", "5f" * 6, "+1.5 秒（按状态报文估算）", "12 条读数 + 3 批待发"]
    assert rows(page, "fleet")[1].split(" | ")[4] == "-0.3 秒（对时测得）"
    contact = re.fullmatch(r"(\d{4}-\d\d-\d\d \d\d:\d\d) \(UTC\+8\) · (\d+) 秒前", xh[6])  # China time, zone shown
    assert contact, xh[6]
    shown = datetime.strptime(contact[1], "%Y-%m-%d %H:%M").replace(tzinfo=timezone(timedelta(hours=8)))
    assert abs(shown - datetime.now(timezone.utc)) < timedelta(minutes=2), "China time, whatever the browser's zone"
    assert rows(page, "fleet")[2].split(" | ")[6:] == ["从未联系", "ST-XH", "—"]

    page.click("#sort-contact")  # oldest contact first (never heard: oldest of all)
    assert order() == ["gw-new", "gw-nb", "gw-both", "gw-xh"]
    page.click("#sort-contact")
    assert order() == ["gw-xh", "gw-both", "gw-nb", "gw-new"]
    page.click("#sort-contact")
    assert order() == ["gw-both", "gw-nb", "gw-new", "gw-xh"]


@pytest.mark.server
def test_a_live_red_alarm_flashes_the_banner_and_beeps_unless_muted(browser, console):
    base, store = console
    page = logged_in(browser, base, "/alarms")
    page.wait_for_selector("#live[data-state=open]")
    assert page.text_content("#sound") == "声音提示：开"

    store.raise_alarm("ST-NB", "level", "low_level", "yellow", "level below 1 m", int(time.time() * 1000))
    page.wait_for_selector("#board tbody tr.row-yellow", timeout=5_000)
    assert page.get_attribute("#red-banner", "data-cues") is None  # no cue for yellow

    store.raise_alarm("ST-XH", "pressure", "low_pressure", "red", "pressure below 0.2 MPa", int(time.time() * 1000))
    page.wait_for_selector("#red-banner.flash", timeout=5_000)
    assert page.is_visible("#red-banner") and page.get_attribute("#red-banner", "data-cues") == "1"
    assert page.eval_on_selector("#red-banner", "b => getComputedStyle(b).animationName") == "flash"
    assert page.get_attribute("body", "data-beeps") == "1"  # two tones scheduled on a running AudioContext
    assert page.title().startswith("(1) ")

    page.click("#sound")  # muted, and remembered across a reload
    assert page.text_content("#sound") == "声音提示：关"
    page.reload()
    page.wait_for_selector("#live[data-state=open]")
    assert page.text_content("#sound") == "声音提示：关" and page.get_attribute("#sound", "aria-pressed") == "false"
    store.raise_alarm("ST-BJ", "flow", "no_flow", "red", "no flow", int(time.time() * 1000))
    page.wait_for_selector("#red-banner[data-cues='1'].flash", timeout=5_000)  # the visual cue still shows
    assert page.get_attribute("body", "data-beeps") is None and page.title().startswith("(2) ")

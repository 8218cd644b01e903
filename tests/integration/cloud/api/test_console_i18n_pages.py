"""The overview, fleet, admin and login pages in one language at a time, in a real headless
Chromium (set to UTC, as a server or a laptop may be) against a real uvicorn and a real SQLite
store: switching language changes every string a user reads (nothing left in the other language
but data: ids, numbers, times, station names); times are China time with the zone shown; an
alarm's message comes from its code in the user's language; one failing call shows its own error
in its own section and leaves the rest; the admin page says which setting enables what the
configuration leaves off, with those forms disabled, and still shows everything it can read."""

from __future__ import annotations

import re

import pytest

from watertel.cloud.api.app import create_app
from watertel.cloud.api.gateway_status import FleetSetup
from watertel.cloud.config import ApiConfig
from watertel.cloud.users import UserEntry
from watertel.readings import Quality, Reading

from tests.support.api import put, served, write_files
from tests.support.browser import artifacts, chromium, log_in, new_page, rows
from tests.support.permits_fleet import fleet_files

T0 = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC
CHINA_T0 = "2023-11-15 06:13 (UTC+8)"
DATA_NAMES = {"西湖一号", "滨江一号", "海曙一号"}  # station names from the registry: data, in one language
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
ENGLISH_WORDS = re.compile(r"[A-Za-z]{2,} [a-z]{2,}")  # "Log out", "verified envelopes": a sentence, not an id


@pytest.fixture
def console(store, password_hash, tmp_path):
    """Users, registry, gateways and notifications from files, a fleet, readings and coded alarms."""
    write_files(tmp_path, password_hash)
    put(store, Reading("ST-XH", "flow", T0, 12.5, "m3/h", Quality.OK),
        Reading("ST-XH", "turbidity", T0, 1.5, "NTU", Quality.OK),
        Reading("ST-NB", "running", T0, 1.0, "", Quality.OK),
        Reading("ST-NB", "pressure", T0, 0.3151, "MPa", Quality.TIMEOUT))
    store.raise_alarm("ST-XH", "turbidity", "water_quality", "red", "turbidity 1.5 NTU above 1", T0,
                      code="water_quality.above",
                      params={"point": "turbidity", "value": 1.5, "unit": "NTU", "limit": 1.0, "since_ms": T0})
    app = create_app(store, ApiConfig(users_file=tmp_path / "users.yaml"), registry_file=tmp_path / "registry.yaml",
                     gateways_file=tmp_path / "gateways.yaml",
                     fleet=FleetSetup(tmp_path / "fleet", fleet_files(tmp_path / "fleet")))
    with served(app) as base:
        yield base


@pytest.fixture
def bare(store, password_hash):
    """The API as `watertel demo` has it: users in cloud.yaml, no registry, gateways or notifications files."""
    users = [UserEntry(username="admin", password_hash=password_hash, role="admin")]
    with served(create_app(store, ApiConfig(users=users))) as base:
        yield base


@pytest.fixture
def browser():
    with chromium() as browser:
        yield browser


def utc_page(browser):
    page = new_page(browser, timezone_id="UTC", viewport={"width": 1366, "height": 900})
    page.problems = []  # console errors and failed requests: a page must have none
    page.on("console", lambda m: page.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: None if r.failure == "net::ERR_ABORTED" else  # left the page meanwhile
            page.problems.append(f"failed: {r.url} {r.failure}"))
    page.on("response", lambda r: page.problems.append(f"{r.status}: {r.url}") if r.status >= 400 else None)
    return page


def visible_texts(page) -> list[str]:
    """Every visible text node (trimmed), in document order, with its field's placeholder."""
    return page.evaluate("""() => {
      const out = [];
      const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let n = walk.nextNode(); n; n = walk.nextNode()) {
        const text = n.textContent.trim(), el = n.parentElement;
        if (el.closest("#lang")) continue;  // the toggle names the other language
        if (el.closest("body [lang]")) continue;  // marked as recorded text in its own language (the audit's record)
        if (text && el.getClientRects().length && getComputedStyle(el).visibility !== "hidden") out.push(text);
      }
      for (const f of document.querySelectorAll("input[placeholder]")) if (f.getClientRects().length) out.push(f.placeholder);
      return out;
    }""")


def data_only(text: str) -> str:
    for name in DATA_NAMES:
        text = text.replace(name, "")
    return text


def check_one_language(page, path: str) -> None:
    """Chinese first; after the toggle no Chinese is left but data, and every sentence changed."""
    zh = visible_texts(page)
    assert zh, path
    english_in_zh = [t for t in zh if ENGLISH_WORDS.search(t)]
    assert english_in_zh == [], f"{path}: English in the Chinese page"
    page.click("#lang")
    page.wait_for_function("document.documentElement.lang === 'en'")
    page.wait_for_timeout(300)  # sections re-render on langchange
    en = visible_texts(page)
    chinese_in_en = [t for t in en if CJK.search(data_only(t))]
    assert chinese_in_en == [], f"{path}: Chinese left in the English page"
    assert len(en) >= len(zh) * 0.8, f"{path}: strings vanished when switching language"
    page.click("#lang")
    page.wait_for_function("document.documentElement.lang === 'zh-CN'")
    page.wait_for_timeout(300)
    assert not [t for t in visible_texts(page) if ENGLISH_WORDS.search(t)], f"{path}: English left after switching back"


@pytest.mark.server
def test_the_overview_in_a_utc_browser_shows_china_time_and_says_each_alarm_in_the_users_language(browser, console):
    page = utc_page(browser)
    log_in(page, console, "operator")
    page.wait_for_selector("#latest tbody tr[data-point=turbidity]")
    page.wait_for_selector("#alarms tbody tr")
    assert page.evaluate("new Date(0).getTimezoneOffset()") == 0, "the browser runs in UTC"
    assert rows(page, "alarms") == [
        f"红色 | 水质超标 | ST-XH | 浊度 | 浊度 1.50 NTU，高于上限 1.00 NTU（自 {CHINA_T0} 起超标） | {CHINA_T0}"]
    assert sorted(rows(page, "latest")) == sorted([
        f"ST-XH | 瞬时流量 | 12.50 | m³/h | 正常 | {CHINA_T0}",
        f"ST-XH | 浊度 | 1.50 | NTU | 正常 | {CHINA_T0}",
        f"ST-NB | 运行 | 开 |  | 正常 | {CHINA_T0}",  # a boolean as 开/关, not 1.00000
        f"ST-NB | 压力 | 0.315 | MPa | 超时 | {CHINA_T0}"])

    page.click("#lang")
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert rows(page, "alarms") == [
        f"Red | Water quality | ST-XH | Turbidity | Turbidity 1.50 NTU, above the limit 1.00 NTU"
        f" (since {CHINA_T0}) | {CHINA_T0}"]
    assert f"ST-NB | Running | On |  | OK | {CHINA_T0}" in rows(page, "latest")
    assert page.text_content("#totals-box h2") == "Data received"
    assert page.problems == []


@pytest.mark.server
@pytest.mark.parametrize("path, ready", [("/", "#latest tbody tr"), ("/fleet", "#fleet tbody tr"),
                                         ("/admin", "#audit tbody tr")])
def test_switching_language_changes_every_visible_string(browser, console, path, ready):
    page = utc_page(browser)
    log_in(page, console, "admin")
    page.goto(console + path)
    page.wait_for_selector(ready)
    check_one_language(page, path)
    assert page.problems == []


@pytest.mark.server
def test_the_login_page_switches_language_before_anyone_logs_in(browser, console):
    page = utc_page(browser)
    page.goto(f"{console}/login")
    assert page.text_content("button[type=submit]") == "登录"
    check_one_language(page, "/login")
    page.click("#lang")
    page.reload()  # the choice is kept
    assert page.text_content("button[type=submit]") == "Log in" and page.evaluate("document.documentElement.lang") == "en"
    assert page.problems == []


@pytest.mark.server
def test_one_failing_call_shows_its_error_in_its_own_section_and_leaves_the_rest(browser, console):
    page = utc_page(browser)
    log_in(page, console, "operator")
    page.wait_for_selector("#latest tbody tr")
    page.route("**/api/alarms", lambda route: route.fulfill(
        status=503, content_type="application/json", body='{"detail": "store busy", "code": "http.503", "params": {}}'))
    page.wait_for_selector("#alarms-box .section-status.failed", timeout=8_000)
    status = page.text_content("#alarms-box .section-status.failed")
    assert status.startswith("本栏加载失败：") and "重试" in status
    assert len(rows(page, "latest")) == 4 and page.text_content("#totals [data-figure=readings] .value") == "4"
    assert len(rows(page, "alarms")) == 1, "the last alarms shown stay"
    assert page.locator(".section-status.failed").count() == 1, "only the alarms section failed"
    page.click("#lang")
    assert page.text_content("#alarms-box .section-status.failed span").startswith("This section could not load: ")

    page.unroute("**/api/alarms")
    page.click("#alarms-box .section-retry")
    page.wait_for_selector("#alarms-box .section-status.failed", state="detached")
    assert page.get_attribute("#alarms-box", "data-section-state") == "ok"


@pytest.mark.server
def test_the_admin_page_says_which_setting_enables_each_part_and_disables_its_forms(browser, bare):
    page = utc_page(browser)
    log_in(page, bare, "admin")
    page.goto(f"{bare}/admin")
    page.wait_for_selector("#users tbody tr")
    page.wait_for_selector("#audit tbody tr")  # the log-in: the audit still loads though other parts answer 409
    page.wait_for_selector("#stations-box .section-status.off")
    notes = {box: page.text_content(f"#{box} .section-status.off")
             for box in ("stations-box", "gateways-box", "users-box", "routes-box")}
    assert notes == {
        "stations-box": "站点登记未启用：在 cloud.yaml 中设置 registry_file 以启用",
        "gateways-box": "网关与密钥由 cloud.yaml 管理：设置 gateways_file 以在此管理",
        "users-box": "用户由 cloud.yaml 管理：设置 api.users_file 以在此管理",
        "routes-box": "通知路由与联系人由 cloud.yaml 管理：设置 notifications_file 以在此管理"}
    assert rows(page, "users") == ["admin | 管理员 | 全部区域 | "]
    login = page.locator("#audit tbody tr").last  # the action in the user's language, the record beneath it
    assert login.locator("td.action span").text_content() == "登录"
    assert login.locator("td.action small.record").text_content() == "login (cookie) (POST /api/login)"
    for form in ("#key-form", "#user-form", "#route-form", "#contact-form"):
        controls = page.locator(f"{form} input, {form} select, {form} textarea, {form} button")
        assert controls.count() > 0 and all(controls.nth(i).is_disabled() for i in range(controls.count())), form
    assert page.locator(".section-status.failed").count() == 0, "a part left off is not an error"

    page.click("#lang")
    assert page.text_content("#users-box .section-status.off") == \
        "Users: managed in cloud.yaml; set api.users_file to manage them here"
    assert page.text_content("#stations-box .section-status.off") == \
        "Station registry: not enabled; set registry_file in cloud.yaml to enable"
    assert page.problems == [], "a part left off is not even asked for"


@pytest.mark.server
@pytest.mark.parametrize("width, height", [(1366, 900), (390, 844)])
def test_the_pages_fit_the_screen_in_both_languages(browser, console, width, height):
    """No horizontal overflow on a desktop or a phone (tables read as cards there); screenshots in
    build/test-artifacts/screenshots/i18n-<page>-<lang>-<width>.png to look at."""
    page = utc_page(browser)
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{console}/login")
    page.screenshot(path=str(artifacts() / f"i18n-login-zh-{width}.png"), full_page=True)
    log_in(page, console, "admin")
    for path, name, ready in (("/", "overview", "#latest tbody tr"), ("/fleet", "fleet", "#fleet tbody tr"),
                              ("/admin", "admin", "#audit tbody tr")):
        page.goto(console + path)
        page.wait_for_selector(ready)
        for lang in ("zh", "en"):
            if lang == "en":
                page.click("#lang")
                page.wait_for_function("document.documentElement.lang === 'en'")
            page.wait_for_timeout(200)
            wide = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert wide <= 0, f"{path} {lang} at {width}px: {wide}px wider than the screen"
            page.screenshot(path=str(artifacts() / f"i18n-{name}-{lang}-{width}.png"), full_page=True)
        page.click("#lang")  # back to Chinese for the next page
        page.wait_for_function("document.documentElement.lang === 'zh-CN'")
    assert page.problems == []


@pytest.mark.server
def test_api_errors_are_said_in_the_users_language_from_their_code(browser, console):
    """What the API answers (code and params) as the pages say it, through common.js and i18n.js."""
    page = utc_page(browser)
    log_in(page, console, "operator")
    say = """async ([lang, status, body]) => {
      const {apiError} = await import("/static/common.js");
      const {errorText} = await import("/static/i18n.js");
      localStorage.setItem("watertel_lang", lang);
      return errorText(apiError({status, statusText: ""}, body));
    }"""
    role = {"detail": "assignee 'nobody' is not a user of role admin or crew or operator", "code": "assignee.role",
            "params": {"name": "nobody", "roles": ["admin", "crew", "operator"]}}
    assert page.evaluate(say, ["zh", 422, role]) == "nobody 不是管理员、维修班组或调度员用户"
    assert page.evaluate(say, ["en", 422, role]) == "nobody is not a user of role Admin, Crew or Operator"
    off = {"detail": "no station registry", "code": "feature.off", "params": {"feature": "registry", "setting": "registry_file"}}
    assert page.evaluate(say, ["zh", 409, off]) == "站点登记未启用：在 cloud.yaml 中设置 registry_file 以启用"
    wait = {"detail": "too many failed logins", "code": "auth.too_many", "params": {"wait_s": 300}}
    assert page.evaluate(say, ["zh", 429, wait]) == "登录失败次数过多，请 5 分钟后再试"  # a duration, not 300
    assert page.evaluate(say, ["en", 429, wait]) == "Too many failed logins: try again in 5 min"
    old = {"detail": "something an older server said"}  # no code: the sentence as it came
    assert page.evaluate(say, ["zh", 500, old]) == "something an older server said"
    # and a real answer of the running API, through the page's own getJson
    answer = page.evaluate("""async () => {
      const {getJson} = await import("/static/common.js");
      const {errorText} = await import("/static/i18n.js");
      localStorage.setItem("watertel_lang", "zh");
      try { await getJson("/api/admin/users"); return null; } catch (e) { return [e.code, errorText(e)]; }
    }""")
    assert answer == ["auth.role", "调度员角色无权进行此操作（需要：管理员）"]

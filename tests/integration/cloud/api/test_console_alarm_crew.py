"""The alarm and crew pages in real Chromium against a real uvicorn and store (issue 20, items 2
and 3): the operator's journey (an alarm on the board → its page → acknowledge → a work order to a
crew user of that region, due by the rule → the crew accepts on a phone, sees where to go, reports
with a photo → the operator sees the report and photo live → the manager closes), and a crew's
report taken offline that survives a reload and arrives once, even when the first answer is lost.

Every page is checked as its users see it, in Chinese with the CJK font: no horizontal overflow at
1366×900 and 390×844, no console error, no failed request; screenshots go to the artifacts folder
(tests/support/browser.py artifacts())."""

from __future__ import annotations

import re
import struct
import time
import zlib

import pytest

from watertel.cloud import audit
from watertel.cloud.api.app import create_app
from watertel.cloud.api.auth import hash_password
from watertel.cloud.config import ApiConfig
from watertel.cloud.registry import Registry, RegistryFile
from watertel.cloud.store.sqlite import SqliteStore
from watertel.cloud.users import UserEntry

from tests.support.api import PASSWORD, serve
from tests.support.browser import artifacts, browser_login, chromium

HOUR = 3_600_000
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
XH = {"lat": 30.2595, "lon": 120.1302}


def registry() -> Registry:
    return Registry(RegistryFile.model_validate({
        "provinces": [{"id": "zj", "name": "浙江", "cities": [
            {"id": "zj-hz", "name": "杭州", "counties": [{"id": "zj-hz-xh", "name": "西湖"}]},
            {"id": "zj-nb", "name": "宁波", "counties": [{"id": "zj-nb-hs", "name": "海曙"}]}]}],
        "stations": [{"id": "ST-XH", "name": "西湖一号", "kind": "well", "region": "zj-hz-xh", "interval_minutes": 5,
                      "commissioned": "2024-01-01", "location": XH},
                     {"id": "ST-NB", "name": "海曙一号", "kind": "well", "region": "zj-nb-hs", "interval_minutes": 5,
                      "commissioned": "2024-01-01"}]}))


def photo_png(width: int = 64, height: int = 48) -> bytes:
    """A real PNG the browser can decode (a colour gradient)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes(v for x in range(width) for v in (x * 4 % 256, y * 5 % 256, 128)) for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.fixture
def store(tmp_path):
    store = SqliteStore(tmp_path / "w.db")
    yield store
    store.close()


@pytest.fixture
def base(store):
    digest = hash_password(PASSWORD)
    users = [UserEntry(username=name, password_hash=digest, role=role, regions=regions) for name, role, regions in (
        ("admin", "admin", []), ("operator", "operator", []), ("crew", "crew", ["zj-hz"]),
        ("crew2", "crew", ["zj-hz"]), ("nb-crew", "crew", ["zj-nb"]))]
    url, server, thread = serve(create_app(store, ApiConfig(users=users), registry=registry()))
    yield url
    server.should_exit = True
    thread.join(10)


class Watched:
    """A page with its console errors and failed requests collected (none may happen)."""

    def __init__(self, browser, viewport: dict, name: str) -> None:
        self.context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai",
                                           has_touch=viewport is PHONE, is_mobile=viewport is PHONE)
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.name, self.viewport, self.problems, self.expect_offline = name, viewport, [], False
        self.page.on("console", lambda m: m.type == "error" and not self.expect_offline and self.problems.append(
            f"console: {m.text} at {m.location.get('url')} on {self.page.url}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: not self.expect_offline and "/api/events" not in r.url
                     and r.failure != "net::ERR_ABORTED"  # cancelled: the test went on to the next page
                     and self.problems.append(f"failed: {r.url} {r.failure}"))
        self.page.on("response", lambda r: r.status >= 400 and not self.expect_offline and self.problems.append(
            f"HTTP {r.status}: {r.url}"))

    def look(self, shot: str) -> None:
        """No horizontal overflow; a full-page screenshot for a person to look at."""
        self.page.wait_for_timeout(150)
        wide = self.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert wide[0] <= wide[1], f"{shot}: {wide[0]} px wide in a {wide[1]} px window"
        self.page.screenshot(path=str(artifacts() / f"{shot}-{self.viewport['width']}.png"), full_page=True)


def test_operator_sees_alarm_acknowledges_sends_a_work_order_crew_reports_with_a_photo_manager_closes(store, base):
    now = int(time.time() * 1000)
    store.raise_alarm("ST-XH", "*", "data_stopped", "orange", "no data for 3 intervals", now - 20 * 60_000,
                      code="data_stopped", params={"last_ms": now - 35 * 60_000, "interval_s": 300, "missed": 3})
    store.raise_alarm("ST-NB", "total", "spike", "red", "spike", now - 5 * 60_000)
    alarm_id = store.alarm_rows(stations=["ST-XH"])[0]["id"]
    with chromium() as browser:
        op = Watched(browser, DESKTOP, "operator")
        browser_login(op.page, base, "operator", "/alarms")
        op.page.wait_for_selector(f"#board tr[data-id='{alarm_id}']")
        row = op.page.inner_text(f"#board tr[data-id='{alarm_id}']")
        assert "数据停报" in row and "已缺报 3 次" in row and "西湖一号" not in row, row
        op.look("alarms")
        op.page.click(f"#board tr[data-id='{alarm_id}'] td:nth-child(6)")  # a plain cell: the row opens the alarm
        op.page.wait_for_url(f"{base}/alarm?id={alarm_id}")
        op.page.wait_for_selector("#do-ack")
        op.page.click("#do-ack")
        op.page.wait_for_selector("#timeline li[data-action='acknowledged']")
        assert op.page.eval_on_selector_all("#wo-assignee option", "os => os.map(o => o.value)") == ["", "crew", "crew2"], \
            "only crew users whose regions hold the station"
        assert "72" in op.page.inner_text("#wo-form small"), "the rule's deadline is the default"
        due_value = op.page.input_value("#wo-due")
        opened = int(time.time() * 1000)  # the form's default counts from when it opened: between now and this
        shown = {time.strftime("%Y-%m-%dT%H", time.gmtime((t + 72 * HOUR) / 1000 + 8 * 3600)) for t in (now, opened)}
        assert due_value[:13] in shown, (due_value, shown)
        op.page.select_option("#wo-assignee", "crew")
        op.page.click("#wo-create")
        op.page.wait_for_selector(".wo-card .wo-assigned")
        op.look("alarm")
        order = store.work_orders(alarm_ids=[alarm_id])[0]
        assert (order["assignee"], order["state"]) == ("crew", "assigned")
        assert now + 72 * HOUR - 60_000 < order["due_ms"] <= opened + 72 * HOUR, "due as the form said: 72 h, to the minute"

        crew = Watched(browser, PHONE, "crew")
        browser_login(crew.page, base, "crew", "/crew")
        card = f"article[data-id='{order['id']}']"
        crew.page.wait_for_selector(f"{card}[data-state='assigned']")
        links = crew.page.eval_on_selector_all(f"{card} .cr-map a", "as => as.map(a => a.href)")
        assert links[0].startswith(f"geo:{XH['lat']},{XH['lon']}"), links
        assert any("uri.amap.com" in h and f"{XH['lon']},{XH['lat']}" in h and "coordinate=wgs84" in h for h in links)
        assert any("api.map.baidu.com" in h and f"{XH['lat']},{XH['lon']}" in h and "coord_type=wgs84" in h for h in links)
        crew.look("crew")
        crew.page.click(f"{card} button.accept")
        crew.page.wait_for_selector(f"{card}[data-state='accepted'] textarea")
        crew.page.set_input_files(f"#photo-{order['id']}", files=[
            {"name": "meter.png", "mimeType": "image/png", "buffer": photo_png()}])
        crew.page.wait_for_selector(f"{card} .cr-chosen")
        crew.page.fill(f"#notes-{order['id']}", "更换了通信模块，数据已恢复")
        crew.look("crew-report")
        crew.page.click(f"{card} button.report")
        crew.page.wait_for_selector(f"{card}[data-state='reported']:not(.unsent)")
        assert crew.page.get_attribute("#outbox", "data-n") == "0"

        # the operator's page follows live: the report and the photo, which loads
        op.page.wait_for_selector(".wo-card .wo-reported")
        assert op.page.inner_text(".wo-card .wo-report") == "更换了通信模块，数据已恢复"
        op.page.wait_for_function("() => [...document.querySelectorAll('.wo-card .photos img')]"
                                  ".some(i => i.complete && i.naturalWidth > 0)")
        op.look("alarm-reported")
        op.page.goto(f"{base}/workorders")
        op.page.wait_for_selector(f"#orders tr[data-id='{order['id']}'].wo-row-reported")
        op.look("workorders")

        manager = Watched(browser, DESKTOP, "admin")
        browser_login(manager.page, base, "admin", f"/alarm?id={alarm_id}")
        manager.page.wait_for_selector(".wo-card .wo-close")
        manager.page.click(".wo-card .wo-close")
        manager.page.wait_for_selector(".wo-card .wo-closed")
        manager.page.fill("#close-note", "现场已处理")
        manager.page.click("#do-close")
        manager.page.wait_for_selector("#timeline li[data-action='closed']")
        steps = manager.page.eval_on_selector_all("#timeline li", "ls => ls.map(l => l.dataset.action)")
        assert steps == ["raised", "acknowledged", "work_order.created", "work_order.accepted", "work_order.photo",
                         "work_order.reported", "work_order.closed", "closed"], steps
        assert "工单" in manager.page.inner_text("#timeline") and "照片" in manager.page.inner_text("#timeline")
        manager.look("alarm-closed")
        for watched in (op, crew, manager):
            assert watched.problems == [], (watched.name, watched.problems)


def test_the_pages_fit_a_phone_and_a_desktop(store, base):
    now = int(time.time() * 1000)
    store.raise_alarm("ST-XH", "*", "data_stopped", "orange", "no data", now - HOUR,
                      code="data_stopped", params={"last_ms": now - 2 * HOUR, "interval_s": 300, "missed": 12})
    alarm_id = store.alarm_rows(stations=["ST-XH"])[0]["id"]
    store.create_work_order(alarm_id, "operator", now, now + 72 * HOUR, "西湖一号 数据中断", "crew")
    with chromium() as browser:
        for viewport in (DESKTOP, PHONE):
            w = Watched(browser, viewport, "operator")
            browser_login(w.page, base, "operator", "/alarms")
            w.page.wait_for_selector("#board tbody tr")
            w.look("board")
            w.page.goto(f"{base}/alarm?id={alarm_id}")
            w.page.wait_for_selector("#timeline li")
            w.look("alarm-page")
            w.page.goto(f"{base}/workorders")
            w.page.wait_for_selector("#orders tbody tr")
            w.look("workorder-list")
            assert w.problems == [], w.problems
            w.context.close()


KEY = re.compile(r"\b(?:ac|al|act|wl|cr|err|state|wo|sev|rule|msg)\.[a-z_.]+\b")


def test_the_pages_read_in_english_after_the_toggle(store, base):
    now = int(time.time() * 1000)
    store.raise_alarm("ST-XH", "*", "data_stopped", "orange", "no data", now - HOUR,
                      code="data_stopped", params={"last_ms": now - 2 * HOUR, "interval_s": 300, "missed": 12})
    alarm_id = store.alarm_rows(stations=["ST-XH"])[0]["id"]
    order = store.create_work_order(alarm_id, "operator", now, now + 72 * HOUR, "", "crew")
    with chromium() as browser:
        for user, viewport, paths in (("operator", DESKTOP, ["/alarms", f"/alarm?id={alarm_id}", "/workorders"]),
                                      ("crew", PHONE, ["/crew"])):
            w = Watched(browser, viewport, user)
            browser_login(w.page, base, user, paths[0])
            w.page.click("#lang")
            for path in paths:
                w.page.goto(f"{base}{path}")
                w.page.wait_for_selector("#live[data-state=open]")
                w.page.wait_for_timeout(300)
                text = w.page.inner_text("body")
                assert not KEY.findall(text), (path, KEY.findall(text))
                for name in ("西湖一号", "海曙一号", "浙江", "杭州", "西湖", "宁波", "海曙", "中文"):  # the registry's, the toggle's
                    text = text.replace(name, "")
                assert "Data stopped" in text and not re.findall("[\u4e00-\u9fff]+", text), (path, re.findall(
                    "[\u4e00-\u9fff]+", text))
                w.look(f"en-{path.strip('/').split('?')[0] or 'home'}")
            assert w.problems == [], w.problems
            w.context.close()
    assert order["state"] == "assigned"


def accepted_order(store) -> tuple[dict, int, str]:
    """A work order the crew user accepted, its alarm's id and the selector of its card."""
    now = int(time.time() * 1000)
    store.raise_alarm("ST-XH", "*", "data_stopped", "orange", "no data", now - HOUR)
    alarm_id = store.alarm_rows(stations=["ST-XH"])[0]["id"]
    order = store.create_work_order(alarm_id, "operator", now, now + 72 * HOUR, "西湖一号 数据中断", "crew")
    store.accept_work_order(order["id"], "crew", now)
    return order, alarm_id, f"article[data-id='{order['id']}']"


def test_a_report_taken_offline_survives_a_reload_and_arrives_once(store, base):
    order, alarm_id, card = accepted_order(store)
    with chromium() as browser:
        crew = Watched(browser, PHONE, "crew")
        page = crew.page
        browser_login(page, base, "crew", "/crew")
        page.wait_for_selector(f"{card}[data-state='accepted']")
        page.wait_for_function("() => navigator.serviceWorker.controller !== null")  # the page's files are kept

        crew.expect_offline = True
        crew.context.set_offline(True)
        page.fill(f"#notes-{order['id']}", "离线时填写：阀门已更换")
        page.click(f"{card} button.report")
        page.wait_for_selector(f"{card}.unsent[data-state='reported']")
        page.wait_for_selector("#outbox[data-n='1']")
        assert page.is_visible("#net")
        crew.look("crew-offline")

        page.reload()  # no network: the service worker answers with the kept page, IndexedDB with the rest
        page.wait_for_selector(f"{card}.unsent[data-state='reported']")
        assert page.get_attribute("#outbox", "data-n") == "1"
        assert "离线时填写：阀门已更换" in page.inner_text(card)
        assert store.work_order(order["id"])["state"] == "accepted", "nothing reached the server"

        # the network returns, but the first answer is lost on the way back: sent, done, not seen
        lost = []

        def lose_the_answer(route):
            lost.append(route.fetch().status)
            route.abort("connectionreset")
        page.route("**/report", lose_the_answer, times=1)
        crew.context.set_offline(False)
        page.evaluate("window.dispatchEvent(new Event('online'))")
        page.wait_for_function("() => document.querySelector('#outbox').dataset.n === '0'", timeout=30_000)
        page.wait_for_selector(f"{card}[data-state='reported']:not(.unsent)")
        assert lost == [200], "the first send reached the server and was done"
        assert store.work_order(order["id"])["report"] == "离线时填写：阀门已更换"
        history = [h["action"] for h in store.alarm_history(alarm_id)]
        assert history.count("work_order.reported") == 1, history
        sends = [e for e in audit.recent(store, 50) if e.path == f"/api/workorders/{order['id']}/report"]
        assert [e.status for e in sends] == [200, 200], "sent twice (the answer was lost), done once"
        crew.look("crew-back-online")


KEPT = """async () => {
  const db = await new Promise((ok, fail) => { const r = indexedDB.open("watertel-crew");
                                              r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
  const all = (name) => new Promise((ok) => { const r = db.transaction(name).objectStore(name).getAll();
                                              r.onsuccess = () => ok(r.result); });
  const kept = {orders: await all("orders"), outbox: await all("outbox")};
  db.close();
  return {orders: kept.orders.length, steps: kept.outbox.map((s) => s.kind),
          user: localStorage.getItem("watertel.crew.user")};
}"""


def test_log_out_forgets_the_orders_kept_offline_but_not_the_unsent_steps(store, base):
    """A phone passed to someone else shows no orders offline after log out; a report taken offline
    before the log out still reaches the server when its crew user logs in again."""
    order, _, card = accepted_order(store)
    with chromium() as browser:
        crew = Watched(browser, PHONE, "crew")
        page = crew.page
        browser_login(page, base, "crew", "/crew")
        page.wait_for_selector(f"{card}[data-state='accepted']")
        page.wait_for_function("() => navigator.serviceWorker.controller !== null")
        assert page.evaluate(KEPT) == {"orders": 1, "steps": [], "user": "crew"}

        crew.expect_offline = True
        crew.context.set_offline(True)
        page.fill(f"#notes-{order['id']}", "登出前离线填写")
        page.click(f"{card} button.report")
        page.wait_for_selector("#outbox[data-n='1']")
        with page.expect_event("framenavigated"):  # to /login, which the offline phone cannot load
            page.click("#logout")

        page.goto(f"{base}/crew")  # still offline: the kept page, but no orders and no user any more
        page.wait_for_load_state()
        assert page.evaluate(KEPT) == {"orders": 0, "steps": ["report"], "user": None}
        page.wait_for_timeout(300)
        assert page.locator("article[data-id]").count() == 0
        assert store.work_order(order["id"])["state"] == "accepted"

        crew.context.set_offline(False)
        crew.expect_offline = False
        browser_login(page, base, "crew", "/crew")
        page.wait_for_function("() => document.querySelector('#outbox').dataset.n === '0'", timeout=30_000)
        page.wait_for_selector(f"{card}[data-state='reported']:not(.unsent)")
        assert store.work_order(order["id"])["report"] == "登出前离线填写"
        assert crew.problems == [], crew.problems
        crew.context.close()

"""The web console in a real Chromium against a real uvicorn server and a real SQLite store:
login and its errors, the latest values and open alarms, live updates by polling, and log out.

This file holds the tests that need a real server or run a command; the others are in
tests/unit/cloud/api/test_console_browser.py."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request

import pytest
import uvicorn

from watertel.cloud.api.app import create_app
from watertel.cloud.api.auth import hash_password
from watertel.cloud.config import ApiConfig
from watertel.cloud.users import UserEntry
from watertel.cloud.store.sqlite import SqliteStore
from watertel.crypto import SM2PrivateKey
from watertel.envelope import ChainState, open_envelope, seal
from watertel.ports import free_port, port_open
from watertel.readings import Quality, Reading

from tests.support.browser import chromium, new_page, rows

USER, PASSWORD = "operator", "correct horse battery"
T0 = 1_700_000_000_000  # sample times of the stored readings, Unix ms


class Gateway:
    """One signing gateway that seals batches and hands them to the store as ingest would."""

    def __init__(self, store: SqliteStore) -> None:
        self.store, self.key, self.state = store, SM2PrivateKey.generate(), ChainState()

    def send(self, *readings: Reading) -> None:
        data, self.state = seal(list(readings), self.key, "gw-1", "k1", self.state, int(time.time() * 1000))
        assert self.store.accept(open_envelope(data, lambda g, k: self.key.public)).status == "stored"


@pytest.fixture
def store(tmp_path):
    store = SqliteStore(tmp_path / "watertel.db")
    yield store
    store.close()


@pytest.fixture
def gateway(store):
    gw = Gateway(store)
    gw.send(Reading("ST-01", "flow", T0, 12.5, "m3/h", Quality.OK),
            Reading("ST-01", "pressure", T0, 0.315, "MPa", Quality.OK),
            Reading("ST-02", "level", T0, 3.75, "m", Quality.OK))
    store.raise_alarm("ST-01", "pressure", "low_pressure", "orange", "pressure below 0.32 MPa", T0)
    return gw


@pytest.fixture
def base_url(store):
    """A real uvicorn serving the console on a free loopback port, in a thread."""
    port = free_port()
    app = create_app(store, ApiConfig(users=[UserEntry(username=USER, password_hash=hash_password(PASSWORD))]))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not (server.started and port_open(port)):
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def page(base_url):
    """A browser in UTC, as on a server or a laptop set so: the console must still show China time."""
    with chromium() as browser:
        yield new_page(browser, timezone_id="UTC")


def log_in(page, base_url: str, password: str) -> None:
    page.goto(f"{base_url}/login")
    page.fill("input[name=username]", USER)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


CHINA_T0 = "2023-11-15 06:13 (UTC+8)"  # T0 (2023-11-14 22:13:20 UTC) in China time, as the console shows it


def figures(page) -> dict[str, str]:
    """The overview's totals: figure name → value as shown."""
    return page.eval_on_selector_all("#totals .figure", "fs => Object.fromEntries(fs.map(f => "
                                     "[f.dataset.figure, f.querySelector('.value').textContent]))")


def get(url: str, cookie: str | None = None) -> int:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.server
def test_console_redirects_to_login_without_a_session(page, base_url):
    page.goto(base_url + "/")
    assert page.url == f"{base_url}/login"
    assert page.locator("form#login").is_visible()


@pytest.mark.server
def test_wrong_password_shows_the_error_and_stays_on_login(page, base_url):
    log_in(page, base_url, "wrong password")
    page.wait_for_function("document.getElementById('error').textContent.length > 0")
    assert page.text_content("#error") == "用户名或密码错误"  # Chinese first
    page.click("#lang")  # the error follows the language toggle
    assert page.text_content("#error") == "Wrong username or password"
    assert page.text_content("button[type=submit]") == "Log in"
    assert page.url == f"{base_url}/login"
    assert not any(c["name"] == "watertel_session" for c in page.context.cookies())


@pytest.mark.server
def test_console_shows_stored_values_and_alarms_live_then_logs_out(page, base_url, gateway):
    log_in(page, base_url, PASSWORD)
    page.wait_for_url(f"{base_url}/")
    page.wait_for_selector("#latest tbody tr")
    page.wait_for_selector("#alarms tbody tr")

    assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == "UTC"
    assert rows(page, "latest") == [  # point names, units and flags through the catalogue, decimals by unit
        f"ST-01 | 瞬时流量 | 12.50 | m³/h | 正常 | {CHINA_T0}",
        f"ST-01 | 压力 | 0.315 | MPa | 正常 | {CHINA_T0}",
        f"ST-02 | 水位 | 3.75 | m | 正常 | {CHINA_T0}",
    ]
    # an older alarm row (no message code) keeps its plain text; a coded one is said in the user's language
    assert rows(page, "alarms") == [
        f"橙色 | low_pressure | ST-01 | 压力 | pressure below 0.32 MPa | {CHINA_T0}"]
    assert page.text_content("#alarm-count") == "1"
    assert figures(page) == {"envelopes": "1", "readings": "3", "refused": "0"}

    # A new envelope arrives while the page is open: the 2 s poll shows it without a reload.
    page.evaluate("window.notReloaded = true")
    gateway.send(Reading("ST-01", "flow", T0 + 60_000, 13.25, "m3/h", Quality.OK))
    page.wait_for_function(
        "document.querySelector('#latest tbody tr td:nth-child(3)').textContent === '13.25'", timeout=8_000)
    assert page.evaluate("window.notReloaded") is True
    assert figures(page)["envelopes"] == "2"

    cookie = next(c for c in page.context.cookies() if c["name"] == "watertel_session")
    assert get(f"{base_url}/api/latest", f"watertel_session={cookie['value']}") == 200

    page.click("#logout")
    page.wait_for_url(f"{base_url}/login")
    assert get(f"{base_url}/api/latest", f"watertel_session={cookie['value']}") == 401  # closed on the server
    assert not any(c["name"] == "watertel_session" for c in page.context.cookies())  # and in the browser
    assert page.request.get(f"{base_url}/api/latest").status == 401
    page.goto(base_url + "/")  # the server redirects (the console page must not come from the HTTP cache)
    assert page.url == f"{base_url}/login"


def test_api_needs_a_session_and_static_paths_do_not_escape(base_url):
    assert get(f"{base_url}/api/latest") == 401
    assert get(f"{base_url}/api/alarms") == 401
    assert get(f"{base_url}/api/latest", "watertel_session=forged") == 401
    assert get(f"{base_url}/healthz") == 200
    assert get(f"{base_url}/static/console.js") == 200
    for escape in ("/static/../app.py", "/static/..%2Fapp.py", "/static/%2E%2E/app.py", "/static/..",
                   "/static/%2E%2E%2Fauth.py", "/static/..%2F..%2Fapi%2Fapp.py", "/static/nope.js"):
        assert get(base_url + escape) == 404, escape


def test_ready_only_while_the_store_answers(base_url, store):
    assert get(f"{base_url}/readyz") == 200
    store.close()  # the database goes away under the running API
    assert get(f"{base_url}/readyz") == 503
    assert get(f"{base_url}/healthz") == 200, "alive, just not ready"


def test_metrics_count_open_alarms_by_severity(base_url, store):
    from watertel.cloud import metrics

    metrics.watch_store(store)
    store.raise_alarm("ST-01", "pressure", "low_pressure", "orange", "pressure below 0.32 MPa", T0)
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=5) as page:
        text = page.read().decode()
    assert 'watertel_alarms_open{severity="orange"} 1.0' in text
    assert "watertel_store_seconds_bucket" in text and "watertel_refused_envelopes" in text

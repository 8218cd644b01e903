"""A screenshot of every console page, as a test artifact: a real headless Chromium against a real
uvicorn and a real SQLite store holding a little of everything (values, a red and a yellow alarm,
a permit 85 % used, a fleet with a stale and an offline gateway, a work order).

The PNGs go to ``$WATERTEL_ARTIFACTS/screenshots`` (default ``build/test-artifacts/screenshots``,
ignored by git with the rest of ``build/``) for CI to keep. Each page must have drawn its data
and shown no error before its picture is taken. The pages are taken in English: the test
machines have no CJK font, and Chinese would come out as empty boxes.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from watertel.cloud.api.app import create_app
from watertel.cloud.api.gateway_status import FleetSetup
from watertel.cloud.api.pages import PAGES, STATIC
from watertel.cloud.api.reports import ReportsSetup
from watertel.cloud.config import ApiConfig
from watertel.cloud.users import UserEntry
from watertel.cloud.quality.config import RatesConfig
from watertel.cloud.store.sqlite import SqliteStore
from watertel.readings import Quality, Reading
from watertel.cloud.api.auth import hash_password

from tests.support.api import MIN, PASSWORD, put, serve
from tests.support.browser import AUDIO, artifacts, chromium, png_size
from tests.support.permits_fleet import fill, fleet_files, site

# (file name, path, what shows the page has drawn its data); the admin page where there is one
SHOTS = [("login", "/login", "form#login"), ("overview", "/", "#latest tbody tr"),
         ("alarms", "/alarms", "#board tbody tr.row-red"), ("stations", "/stations", "#stations tbody tr"),
         ("station", "/station?id=ST-XH", "section[data-point=flow] .chart[data-n] svg"),
         ("quality", "/quality?period={month}", "#overall .card"), ("permits", "/permits", "#permits tbody tr"),
         ("fleet", "/fleet", "#fleet tbody tr"), ("crew", "/crew", "#orders article")]
SHOTS += [("admin", "/admin", "main")] if "/admin" in PAGES and (STATIC / PAGES["/admin"]).is_file() else []


@pytest.fixture(scope="module")
def password_hash():
    return hash_password(PASSWORD)


@pytest.fixture
def browser():
    with chromium(*AUDIO) as browser:
        yield browser


@pytest.fixture
def console(tmp_path, password_hash):
    """The console over a store with a little of everything; an admin (sees every page) and a crew user."""
    store = SqliteStore(tmp_path / "watertel.db")
    registry, expected = site()
    fill(store, expected["first"])
    now = int(time.time() * 1000)
    put(store, *(Reading("ST-XH", "flow", now - (60 - i) * MIN, 10 + i % 7, "m3/h", Quality.OK) for i in range(60)),
        Reading("ST-BJ", "pressure", now - MIN, 0.31, "MPa", Quality.OK))
    store.raise_alarm("ST-NB", "level", "low_level", "yellow", "level below 1 m", now - 30 * MIN)
    store.raise_alarm("ST-XH", "pressure", "low_pressure", "red", "pressure below 0.2 MPa", now - 5 * MIN)
    users = [UserEntry(username="admin", password_hash=password_hash, role="admin"),
             UserEntry(username="crew1", password_hash=password_hash, role="crew")]
    reports = ReportsSetup(registry, RatesConfig(), tmp_path / "reports")
    app = create_app(store, ApiConfig(users=users), reports,
                     fleet=FleetSetup(tmp_path / "fleet", fleet_files(tmp_path / "fleet")))
    base, server, thread = serve(app)
    yield base, store
    server.should_exit = True
    thread.join(10)
    store.close()


def logged_in(browser, base: str, username: str):
    """A new English-speaking browser context logged in as ``username``, and its page."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script("localStorage.setItem('watertel_lang', 'en')")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    return context, page


def shoot(page, folder: Path, name: str, url: str, ready: str) -> None:
    """Open ``url``, wait until ``ready`` shows and no error is shown, and save the page as PNG."""
    page.goto(url)
    page.wait_for_selector(ready)
    page.wait_for_load_state("load")
    error = page.query_selector("#error")
    assert error is None or error.text_content() == "", f"{name}: {error.text_content()}"
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


@pytest.mark.server
def test_every_console_page_is_saved_as_a_screenshot(browser, console):
    base, store = console
    folder = artifacts()
    context, page = logged_in(browser, base, "admin")
    red = next(a for a in store.alarms(open_only=True) if a["severity"] == "red")
    csrf = next(c["value"] for c in context.cookies() if c["name"] == "watertel_csrf")
    order = page.request.post(f"{base}/api/workorders", headers={"X-CSRF-Token": csrf},
                              data={"alarm_id": red["id"], "assignee": "crew1", "title": "Check the pressure sensor"})
    assert order.ok, order.text()
    month = time.strftime("%Y-%m")
    for name, path, ready in SHOTS:
        if name != "crew":
            shoot(page, folder, name, base + path.format(month=month), ready)
    context.close()
    context, page = logged_in(browser, base, "crew1")  # the crew page as its user sees it
    shoot(page, folder, "crew", f"{base}/crew", "#orders article")
    context.close()
    context = browser.new_context(viewport={"width": 1280, "height": 800})  # and the login page, logged out
    context.add_init_script("localStorage.setItem('watertel_lang', 'en')")
    shoot(context.new_page(), folder, "login", f"{base}/login", "form#login")
    context.close()

    for name, _, _ in SHOTS:
        shot = folder / f"{name}.png"
        assert shot.is_file() and time.time() - shot.stat().st_mtime < 300, f"{shot} was not written by this run"
        width, height = png_size(shot)
        assert width == 1280 and height >= 400, (name, width, height)
        size = shot.stat().st_size
        assert size > 10_000, f"{name}.png is only {size} bytes: a blank page?"
    contents = {(folder / f"{name}.png").read_bytes() for name, _, _ in SHOTS}
    assert len(contents) == len(SHOTS), "two pages gave the same picture"

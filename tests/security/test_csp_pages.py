"""The console's pages under its own Content-Security-Policy (cloud/api/hygiene.py), in Chromium:
every page, as the users who open it, with a station's readings drawn (ECharts) and the station
map (Leaflet), and no violation reported. The other browser tests bypass the policy
(tests/support/browser.py: Playwright's wait_for_function needs eval); this one keeps it."""

from __future__ import annotations

import time

import pytest

from watertel.cloud.api.auth import hash_password
from watertel.cloud.store.sqlite import SqliteStore
from watertel.readings import Quality, Reading

from tests.support.api import MIN, PASSWORD, REGISTRY, put
from tests.support.api_process import api_process
from tests.support.browser import chromium

RECORD = """window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"""
# page, what shows its script ran (beyond the header every page mounts)
ADMIN_PAGES = [("/", "#nav a"), ("/alarms", "#nav a"), ("/stations", ".leaflet-container"),
               ("/station?id=ST-XH", "#charts .chart svg"), ("/quality", "#nav a"), ("/permits", "#nav a"), ("/fleet", "#nav a"),
               ("/admin", "#users tr"), ("/workorders", "#nav a")]


@pytest.fixture
def api(tmp_path):
    (tmp_path / "registry.yaml").write_text(REGISTRY, encoding="utf-8")
    with api_process(tmp_path, hash_password(PASSWORD), top={"registry_file": "registry.yaml"}) as running:
        store = SqliteStore(tmp_path / "data" / "watertel.db")
        now = int(time.time() * 1000)
        try:
            put(store, *(Reading("ST-XH", "flow", now - i * 5 * MIN, 10.0 + i % 7, "m3/h", Quality.OK)
                         for i in range(48)))
        finally:
            store.close()
        yield running


def visit(context, base: str, user: str, pages: list[tuple[str, str]]) -> list[str]:
    """Log in as ``user`` through the form and open ``pages``; the violations and script errors seen."""
    page, seen = context.new_page(), []
    page.set_default_timeout(15_000)
    page.on("console", lambda m: seen.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: seen.append(f"error: {e}"))
    page.goto(f"{base}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    for path, ready in pages:
        page.goto(base + path)
        page.wait_for_selector(ready, state="attached")
        seen += [f"{path}: {v}" for v in page.evaluate("window.__csp")]
    page.close()
    return seen


@pytest.mark.server
def test_every_console_page_runs_under_the_content_security_policy(api):
    with chromium(csp=True) as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.add_init_script(RECORD)
        try:
            seen = visit(context, api.base, "admin", ADMIN_PAGES)
            phone = browser.new_context(viewport={"width": 390, "height": 844})
            phone.add_init_script(RECORD)
            seen += visit(phone, api.base, "crew", [("/crew", "#nav a")])
            phone.close()
        finally:
            context.close()
    assert seen == []

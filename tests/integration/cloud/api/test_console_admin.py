"""The admin page in a real Chromium against a real uvicorn, a real SQLite store and a real registry
file: an admin edits a station's interval and the change is in GET /api/registry, in the file
and in the audit log; a refused edit shows why and changes nothing; other roles get no admin page."""

from __future__ import annotations

import pytest
import yaml

from watertel.cloud import audit
from watertel.cloud.api.app import create_app
from watertel.cloud.config import ApiConfig
from watertel.cloud.users import UserEntry

from tests.support.api import REGISTRY, Client, gateways, served
from tests.support.browser import chromium, log_in, new_page, rows

PASSWORD = "correct horse battery"


@pytest.fixture
def base_url(store, password_hash, tmp_path):
    (tmp_path / "registry.yaml").write_text(REGISTRY, encoding="utf-8")
    users = [UserEntry(username=role, password_hash=password_hash, role=role) for role in ("admin", "operator")]
    app = create_app(store, ApiConfig(users=users), registry_file=tmp_path / "registry.yaml", gateways=gateways(tmp_path))
    with served(app) as base:
        yield base


@pytest.fixture
def page(base_url):
    with chromium() as browser:
        yield new_page(browser)


def registry_as(base_url: str, user: str) -> dict:
    client = Client(base_url)
    status, body = client.login(user, PASSWORD, session="bearer")
    assert status == 200
    return client.call("GET", "/api/registry", headers={"Authorization": f"Bearer {body['access_token']}"})[1]


@pytest.mark.server
def test_an_admin_edits_a_stations_interval_through_the_page(page, base_url, store, tmp_path):
    log_in(page, base_url, "admin")
    page.wait_for_selector("nav a[href='/admin']")  # the link is there for admins
    page.click("nav a[href='/admin']")
    page.wait_for_selector("#stations tbody tr")
    assert rows(page, "stations")[0] == "ST-XH | 西湖一号 | zj/zj-hz/zj-hz-xh | 水源井 | 5 分钟 | 瞬时流量、累计流量 | 0 | — | 编辑"
    assert page.text_content("#gateways tbody tr[data-id=gw-hz] td.keys") == (
        "k3 (当前); k2 (轮换中，有效至 2999-01-01 00:00 (UTC+8)); k1 (已过期 2020-01-01 00:00 (UTC+8)); k0 (已吊销)")  # China time

    assert page.get_attribute("#stations tr[data-id=ST-XH] td.points", "title") == "flow; total"  # the ids, on hover
    page.click("#stations tr[data-id=ST-XH] button.edit")
    assert page.input_value("#edit input[name=points]") == "flow; total"  # the form takes ids
    assert page.input_value("#edit input[name=interval]") == "5"
    page.fill("#edit input[name=interval]", "15")
    page.fill("#edit textarea[name=maintenance]", "2026-10-12T08:00..2026-10-12T20:00 更换水泵")
    page.click("#save")
    page.wait_for_function("document.getElementById('saved').textContent.includes('ST-XH')")
    page.wait_for_function("document.querySelector('#stations tr[data-id=ST-XH] td.interval').textContent === '15 分钟'")

    station = {s["id"]: s for s in registry_as(base_url, "operator")["stations"]}["ST-XH"]
    assert station["interval_minutes"] == 15 and station["interval_ms"] == 900_000
    assert station["maintenance"] == [{"start": "2026-10-12T08:00:00", "end": "2026-10-12T20:00:00", "note": "更换水泵"}]
    on_disk = {s["id"]: s for s in yaml.safe_load((tmp_path / "registry.yaml").read_text(encoding="utf-8"))["stations"]}
    assert on_disk["ST-XH"]["interval_minutes"] == 15
    entry = next(e for e in audit.recent(store, 20) if e.method == "PUT")
    assert (entry.actor, entry.role, entry.path, entry.status) == ("admin", "admin", "/api/registry/stations/ST-XH", 200)
    assert entry.summary == "update station ST-XH (interval_minutes, maintenance)"
    assert audit.verify(store).ok


@pytest.mark.server
def test_a_refused_edit_shows_why_and_changes_nothing(page, base_url, store, tmp_path):
    log_in(page, base_url, "admin")
    page.goto(f"{base_url}/admin")
    page.click("#stations tr[data-id=ST-NB] button.edit")
    assert page.input_value("#edit input[name=permit_id]") == "P-NB"
    page.fill("#edit input[name=points]", "flow")  # the permit counts ST-NB's total: refused
    page.click("#save")
    page.wait_for_function("document.getElementById('form-error').textContent.length > 0")
    assert "station ST-NB does not report 'total'" in page.text_content("#form-error")
    assert (tmp_path / "registry.yaml").read_text(encoding="utf-8") == REGISTRY
    assert next(e for e in audit.recent(store, 20) if e.method == "PUT").status == 422


@pytest.mark.server
def test_an_operator_gets_no_admin_link_and_a_notice(page, base_url):
    log_in(page, base_url, "operator")
    page.wait_for_selector("nav a[href='/alarms']")
    page.goto(f"{base_url}/admin")
    page.wait_for_selector("#denied:not([hidden])")
    assert page.text_content("#denied") == "仅管理员可用此页面"
    assert page.is_hidden("#stations-box") and page.locator("nav a[href='/admin']").count() == 0

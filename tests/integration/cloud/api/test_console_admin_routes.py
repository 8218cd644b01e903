"""The admin page's notification routes and contacts in a real Chromium against a real uvicorn, a
real SQLite store and real users, registry and notifications files: an admin adds a route, changes
a contact's role and quiet hours, is told why a contact a route names cannot go and why a route
without anyone is refused, and removes a route; each change is in the file and the audit log."""

from __future__ import annotations

import pytest
import yaml

from watertel.cloud import audit
from watertel.cloud.api.app import create_app
from watertel.cloud.config import ApiConfig
from watertel.cloud.notify.notifications_file import load_notifications_file

from tests.support.api import HOOK_SECRET, notifications_yaml, served, write_files
from tests.support.browser import chromium, log_in, new_page, rows


@pytest.fixture
def base_url(store, password_hash, tmp_path):
    write_files(tmp_path, password_hash)
    (tmp_path / "hook.secret").write_text(HOOK_SECRET, encoding="utf-8")
    path = tmp_path / "notifications.yaml"
    path.write_text(yaml.safe_dump(notifications_yaml(9)), encoding="utf-8")
    app = create_app(store, ApiConfig(users_file=tmp_path / "users.yaml"), registry_file=tmp_path / "registry.yaml",
                     notifications=load_notifications_file(path), notifications_file=path)
    with served(app) as base:
        yield base


@pytest.fixture
def page(base_url):
    with chromium() as browser:
        page = new_page(browser)
        page.on("dialog", lambda dialog: dialog.accept())  # the remove confirmations
        yield page


def on_disk(tmp_path) -> dict:
    return yaml.safe_load((tmp_path / "notifications.yaml").read_text())["notifications"]


def summaries(store) -> list[str]:
    return [e.summary for e in audit.recent(store, 20) if e.path.startswith("/api/admin/notifications")]


@pytest.mark.server
def test_an_admin_adds_a_route_edits_a_contact_and_removes_the_route_through_the_page(page, base_url, store, tmp_path):
    log_in(page, base_url, "admin")
    page.goto(f"{base_url}/admin")
    page.wait_for_selector("#routes tbody tr")
    assert rows(page, "routes") == ["zj-hz | 红色 | 0 | hz-duty | 删除"]
    # editable here (notifications_file set, an admin of every region): no "not enabled" note, the form enabled
    assert page.get_attribute("#routes-box", "data-section-state") != "off"
    assert page.locator("#routes-box .section-status.off").count() == 0
    assert page.is_visible("#route-form") and page.is_enabled("#route-add")
    assert "qyapi" not in page.content() and HOOK_SECRET not in page.content()
    assert page.text_content("#contacts tr[data-id=hz-duty] td.channels") == "群机器人：hz-group"  # the channel named

    page.fill("#route-form input[name=regions]", "zj-nb")
    page.check("#route-form input[name=severity][value=red]")
    page.check("#route-form input[name=severity][value=orange]")
    page.check("#route-form input[name=contact][value=desk]")
    page.click("#route-add")
    page.wait_for_selector("#routes tbody tr[data-index='1']")
    assert rows(page, "routes")[1] == "zj-nb | 红色、橙色 | 0 | desk | 删除"
    assert page.text_content("#route-saved") == "已保存通知路由（共 2 条），通知进程下一轮生效"
    assert on_disk(tmp_path)["routes"][1] == {"regions": ["zj-nb"], "severities": ["red", "orange"], "contacts": ["desk"]}
    entry = next(e for e in audit.recent(store, 20) if e.path == "/api/admin/notifications/routes")
    assert (entry.actor, entry.role, entry.method, entry.status) == ("admin", "admin", "PUT", 200)
    assert entry.summary == "set notification routes (1 → 2; added: zj-nb red,orange level 0 → desk; removed: none)"

    page.click("#contacts tr[data-id=desk] button.edit-contact")
    assert page.input_value("#contact-form select[name=webhook]") == "desk-hook"
    page.select_option("#contact-form select[name=role]", "crew")
    page.fill("#contact-form input[name=quiet_hours]", "22:00-07:00")
    page.click("#contact-save")
    page.wait_for_function("document.querySelector('#contacts tr[data-id=desk] td.quiet').textContent === '22:00-07:00'")
    assert page.text_content("#contacts tr[data-id=desk] td.role") == "维修班组"
    assert on_disk(tmp_path)["contacts"][1] == {"id": "desk", "webhook": "desk-hook", "role": "crew",
                                                "quiet_hours": "22:00-07:00"}

    page.click("#contacts tr[data-id=desk] button.delete-contact")  # a route names it: refused, with the reason
    page.wait_for_function("document.getElementById('contact-error').textContent.length > 0")
    # in the user's language, routes numbered as the table shows them (from 1)
    assert page.text_content("#contact-error") == "联系人 desk 被第 2 条通知路由使用：请先从这些路由中移除"
    assert [c["id"] for c in on_disk(tmp_path)["contacts"]] == ["hz-duty", "desk"]

    page.fill("#route-form input[name=regions]", "zj-hz")  # nobody to tell: refused, nothing written
    page.click("#route-add")
    page.wait_for_function("document.getElementById('route-error').textContent.length > 0")
    assert "a route needs contacts, roles or both" in page.text_content("#route-error")
    assert len(on_disk(tmp_path)["routes"]) == 2

    page.click("#routes tr[data-index='1'] button.remove-route")
    page.wait_for_selector("#routes tbody tr[data-index='1']", state="detached")
    assert rows(page, "routes") == ["zj-hz | 红色 | 0 | hz-duty | 删除"]
    assert page.text_content("#route-error") == ""
    assert len(on_disk(tmp_path)["routes"]) == 1 and (tmp_path / "notifications.yaml.bak").exists()
    assert summaries(store) == [  # newest first; the refusals too, with their status in the log
        "set notification routes (2 → 1; added: none; removed: zj-nb red,orange level 0 → desk)",
        "set notification routes", "delete contact desk",
        "update contact desk (role — → crew; quiet_hours — → 22:00-07:00)",
        "set notification routes (1 → 2; added: zj-nb red,orange level 0 → desk; removed: none)"]
    assert audit.verify(store).ok

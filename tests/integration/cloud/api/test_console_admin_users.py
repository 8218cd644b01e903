"""The admin page's users, gateway keys and routes in a real Chromium against a real uvicorn, a real
SQLite store and real users, registry and gateways files: an admin creates a user, changes its role
and deletes it, and revokes a gateway key; each action is in the files and the audit log."""

from __future__ import annotations

import pytest
import yaml

from watertel.cloud import audit
from watertel.cloud.api.app import create_app
from watertel.cloud.config import ApiConfig
from watertel.cloud.notify.config import NotificationsConfig

from tests.support.api import NOTIFICATIONS, PASSWORD, Client, served, write_files
from tests.support.browser import chromium, log_in, new_page, rows

NEW_PASSWORD = "a much longer passphrase"


@pytest.fixture
def base_url(store, password_hash, tmp_path):
    write_files(tmp_path, password_hash)
    app = create_app(store, ApiConfig(users_file=tmp_path / "users.yaml"), registry_file=tmp_path / "registry.yaml",
                     gateways_file=tmp_path / "gateways.yaml",
                     notifications=NotificationsConfig.model_validate(NOTIFICATIONS).resolved(tmp_path))
    with served(app) as base:
        yield base


@pytest.fixture
def page(base_url):
    with chromium() as browser:
        page = new_page(browser)
        page.on("dialog", lambda dialog: dialog.accept())  # the delete and revoke confirmations
        yield page


def users_on_disk(tmp_path) -> dict:
    return {u["username"]: u for u in yaml.safe_load((tmp_path / "users.yaml").read_text())["users"]}


@pytest.mark.server
def test_an_admin_creates_changes_and_deletes_a_user_through_the_page(page, base_url, store, tmp_path):
    log_in(page, base_url, "admin")
    page.goto(f"{base_url}/admin")
    page.wait_for_selector("#users tbody tr[data-id=hz-viewer]")
    assert "hz-viewer | 只读 | zj-hz-xh | 编辑重置密码删除" in rows(page, "users")
    assert rows(page, "routes") == ["zj-hz | 红色 | 0 | hz-duty"]

    page.fill("#user-form input[name=username]", "wang")
    page.fill("#user-form input[name=password]", NEW_PASSWORD)
    page.select_option("#user-form select[name=role]", "operator")
    page.fill("#user-form input[name=regions]", "zj-nb")
    page.click("#user-save")
    page.wait_for_selector("#users tbody tr[data-id=wang]")
    assert page.text_content("#users tr[data-id=wang] td.role") == "调度员"
    assert page.text_content("#user-saved") == "已保存用户 wang"
    assert users_on_disk(tmp_path)["wang"]["regions"] == ["zj-nb"]
    assert Client(base_url).login("wang", NEW_PASSWORD)[0] == 200
    entry = next(e for e in audit.recent(store, 20) if e.path == "/api/admin/users")
    assert (entry.actor, entry.role, entry.method, entry.status) == ("admin", "admin", "POST", 201)
    assert entry.summary == "create user wang (operator); regions zj-nb"

    page.click("#users tr[data-id=wang] button.edit-user")
    assert page.input_value("#user-form input[name=regions]") == "zj-nb"
    page.select_option("#user-form select[name=role]", "viewer")
    page.click("#user-save")
    page.wait_for_function("document.querySelector('#users tr[data-id=wang] td.role').textContent === '只读'")

    page.click("#users tr[data-id=wang] button.reset")
    page.fill("#password-form input[name=password]", "yet another passphrase")
    page.click("#password-save")
    page.wait_for_selector("#password-form", state="hidden")
    assert Client(base_url).login("wang", "yet another passphrase")[0] == 200

    page.click("#users tr[data-id=wang] button.delete")
    page.wait_for_selector("#users tbody tr[data-id=wang]", state="detached")
    assert "wang" not in users_on_disk(tmp_path)
    summaries = [e.summary for e in audit.recent(store, 20) if e.path.startswith("/api/admin/users")]
    assert summaries[:3] == ["delete user wang", "reset password of user wang",
                             "update user wang (role operator → viewer)"]
    assert audit.verify(store).ok

    page.reload()  # the page's audit log shows the same actions, and the chain intact
    page.wait_for_selector("#audit tbody tr")
    assert "delete user wang (DELETE /api/admin/users/wang)" in rows(page, "audit")[0]
    assert page.text_content("#audit-chain").startswith("哈希链完整")
    with store._write():  # someone edits a row behind the API's back
        store._execute("UPDATE audit SET summary = 'nothing happened' WHERE summary = 'delete user wang'")
    page.reload()
    page.wait_for_selector("#audit-chain.bad")
    assert "哈希链在第" in page.text_content("#audit-chain")


@pytest.mark.server
def test_a_refused_user_shows_why_and_a_key_is_revoked_through_the_page(page, base_url, store, tmp_path):
    log_in(page, base_url, "admin")
    page.goto(f"{base_url}/admin")
    page.wait_for_selector("#users tbody tr")
    page.fill("#user-form input[name=username]", "li")
    page.fill("#user-form input[name=password]", NEW_PASSWORD)
    page.fill("#user-form input[name=regions]", "mars")
    page.click("#user-save")
    page.wait_for_function("document.getElementById('user-error').textContent.length > 0")
    assert page.text_content("#user-error") == "站点登记中没有这些区域：mars（请填写省、市或县区编号）"  # the user's language
    assert "li" not in users_on_disk(tmp_path)

    page.click("#gateways tr[data-id=gw-hz] button.revoke[data-key=k1]")
    page.wait_for_function("document.querySelector('#gateways tr[data-id=gw-hz] td.keys').textContent.includes('k1 (已吊销)')")
    assert yaml.safe_load((tmp_path / "gateways.yaml").read_text())["gateways"][0]["revoked_keys"] == ["k1"]
    entry = next(e for e in audit.recent(store, 20) if e.path.startswith("/api/admin/gateways"))
    assert (entry.actor, entry.status, entry.summary) == ("admin", 200, "revoke gateway gw-hz key k1")




@pytest.mark.server
def test_an_admin_changes_their_own_password_with_the_current_one_through_the_page(page, base_url):
    log_in(page, base_url, "admin")
    page.goto(f"{base_url}/admin")
    page.wait_for_selector("#users tbody tr[data-id=admin]")
    page.click("#users tr[data-id=hz-viewer] button.reset")
    assert not page.is_visible("#password-form input[name=current_password]")  # another user's: no current password
    page.click("#users tr[data-id=admin] button.reset")
    page.fill("#password-form input[name=current_password]", "not my password")
    page.fill("#password-form input[name=password]", NEW_PASSWORD)
    page.click("#password-save")
    page.wait_for_function("document.getElementById('user-error').textContent.length > 0")
    assert page.text_content("#user-error") == "修改自己的密码需要输入当前密码"
    page.fill("#password-form input[name=current_password]", PASSWORD)
    page.click("#password-save")
    page.wait_for_selector("#password-form", state="hidden")
    assert Client(base_url).login("admin", NEW_PASSWORD)[0] == 200 and Client(base_url).login("admin")[0] == 401

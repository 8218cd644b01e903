"""The alarm lifecycle (issue 8): raised → acknowledged → cleared → closed with its history;
escalation on a controlled clock; maintenance suppression; flapping; and the alarm API over real
HTTP (uvicorn on a free port, urllib), roles and regions enforced, every write audited.

This file holds the tests that need a real server or run a command; the others are in
tests/unit/cloud/alarms/test_alarm_lifecycle.py."""

from __future__ import annotations

import pytest

from watertel.cloud import audit
from watertel.cloud.api.app import create_app
from watertel.cloud.api.auth import hash_password
from watertel.cloud.config import ApiConfig
from watertel.cloud.users import UserEntry
from watertel.cloud.store.sqlite import SqliteStore

from tests.support.api import PASSWORD, login, post, registry, serve
from tests.support.browser import browser_login
from tests.support.clock import Clock

T0 = 1_793_404_800_000  # 2026-10-31T00:00:00Z


@pytest.fixture
def store(tmp_path):
    store = SqliteStore(tmp_path / "w.db")
    yield store
    store.close()


# --- the API over real HTTP ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def password_hash():
    return hash_password(PASSWORD)


@pytest.fixture
def api(store, password_hash):
    users = [UserEntry(username=role, password_hash=password_hash, role=role)
             for role in ("admin", "operator", "crew", "viewer")]
    users += [UserEntry(username="xh-operator", password_hash=password_hash, role="operator", regions=["zj-hz-xh"]),
              UserEntry(username="nb-crew", password_hash=password_hash, role="crew", regions=["zj-nb"])]
    base, server, thread = serve(create_app(store, ApiConfig(users=users), registry=registry()))
    yield base
    server.should_exit = True
    thread.join(10)


def test_alarms_are_filtered_and_scoped_over_http(api, store):
    store.raise_alarm("ST-XH", "turbidity", "water_quality", "red", "t", T0)
    store.raise_alarm("ST-BJ", "flow", "spike", "yellow", "s", T0 + 1)
    store.raise_alarm("ST-NB", "*", "data_stopped", "orange", "d", T0 + 2)
    store.clear_alarm("ST-BJ", "flow", "spike", T0 + 3)
    admin = login(api, "admin")
    get = lambda client, q="": [a["station"] for a in client.call("GET", "/api/alarms" + q)[1]]  # noqa: E731
    assert get(admin) == ["ST-NB", "ST-XH"], "open ones by default, newest first"
    assert get(admin, "?open_only=false") == ["ST-NB", "ST-BJ", "ST-XH"]
    assert get(admin, "?state=cleared") == ["ST-BJ"]
    assert get(admin, "?open_only=false&severity=red&severity=yellow") == ["ST-BJ", "ST-XH"]
    assert get(admin, "?station=ST-NB") == ["ST-NB"]
    assert get(admin, "?open_only=false&region=zj-hz") == ["ST-BJ", "ST-XH"]
    assert get(login(api, "xh-operator"), "?open_only=false") == ["ST-XH"]
    assert admin.call("GET", "/api/alarms?severity=purple")[0] == 422
    assert admin.call("GET", f"/api/alarms/{store.alarms()[0]['id']}")[1]["station"] == "ST-NB"


def test_failed_notifications_are_visible_to_admins(api, store):
    from watertel.cloud.notify.config import NotificationsConfig
    from watertel.cloud.notify.outbox import Notifier

    store.raise_alarm("ST-XH", "turbidity", "water_quality", "red", "t", T0)
    notifier = Notifier(store, NotificationsConfig.model_validate({
        "webhooks": [{"id": "h", "url": "http://127.0.0.1:9/"}], "contacts": [{"id": "c", "webhook": "h"}],
        "routes": [{"contacts": ["c"]}]}), lambda station: None, clock=Clock(T0))
    assert notifier.route() == 1 and notifier.deliver() == (0, 1)
    assert login(api, "operator").call("GET", "/api/notifications")[0] == 403
    status, rows = login(api, "admin").call("GET", "/api/notifications?pending=true")[:2]
    assert status == 200 and [(r["channel"], r["address"], r["attempts"]) for r in rows] == [("webhook", "h", 1)]
    assert rows[0]["last_error"] and "payload" not in rows[0]


def test_acknowledge_assign_comment_close_by_role_with_history_and_audit(api, store):
    store.raise_alarm("ST-XH", "turbidity", "water_quality", "red", "turbidity 1.5", T0)
    store.raise_alarm("ST-NB", "*", "data_stopped", "orange", "stopped", T0)
    xh, nb = sorted(store.alarms(open_only=True), key=lambda a: a["station"] != "ST-XH")
    operator, admin = login(api, "operator"), login(api, "admin")
    for name in ("viewer", "crew"):
        status, body = post(login(api, name), f"/api/alarms/{xh['id']}/ack")
        assert status == 403 and "may not do this" in body["detail"]
    assert post(login(api, "xh-operator"), f"/api/alarms/{nb['id']}/ack")[0] == 404, "out of region: not there"
    status, body = post(operator, f"/api/alarms/{xh['id']}/ack", {"note": "looking"})
    assert status == 200 and body["state"] == "acknowledged" and body["acked_by"] == "operator"
    assert post(operator, f"/api/alarms/{xh['id']}/ack")[0] == 409
    assert post(operator, f"/api/alarms/{xh['id']}/assign", {"assignee": "viewer"})[0] == 422
    assert post(operator, f"/api/alarms/{xh['id']}/assign", {"assignee": "nb-crew"})[0] == 422, "crew of another region"
    assert post(operator, f"/api/alarms/{xh['id']}/assign", {"assignee": "crew"})[1]["assignee"] == "crew"
    assert post(operator, f"/api/alarms/{xh['id']}/comment", {"text": "陪同检修"})[0] == 200
    assert post(operator, f"/api/alarms/{xh['id']}/comment", {"text": ""})[0] == 422
    assert post(operator, f"/api/alarms/{xh['id']}/close")[0] == 403, "closing is the manager's (admin)"
    status, body = post(admin, f"/api/alarms/{xh['id']}/close", {"note": "sensor replaced"})
    assert status == 200 and body["state"] == "closed" and body["closed_by"] == "admin"
    status, history = login(api, "viewer").call("GET", f"/api/alarms/{xh['id']}/history")[:2]
    assert status == 200 and [(h["action"], h["actor"]) for h in history] == [
        ("raised", "system"), ("acknowledged", "operator"), ("assigned", "operator"), ("comment", "operator"),
        ("closed", "admin")]
    assert history[-1]["note"] == "while acknowledged: sensor replaced"
    assert login(api, "xh-operator").call("GET", f"/api/alarms/{nb['id']}/history")[0] == 404
    rows = {(e.actor, e.path, e.status) for e in audit.recent(store, 100)}
    assert ("operator", f"/api/alarms/{xh['id']}/ack", 200) in rows and ("viewer", f"/api/alarms/{xh['id']}/ack", 403) in rows
    assert ("admin", f"/api/alarms/{xh['id']}/close", 200) in rows
    summaries = {e.summary for e in audit.recent(store, 100)}
    assert f"assign alarm {xh['id']} to crew" in summaries and audit.verify(store).ok


@pytest.mark.server
def test_the_board_acknowledges_and_assigns_from_the_list(api, store, browser_page):
    page = browser_page
    store.raise_alarm("ST-XH", "turbidity", "water_quality", "red", "turbidity 1.5", T0)
    (alarm,) = store.alarms()
    browser_login(page, api, "operator", "/alarms")
    row = page.locator(f"#board tbody tr[data-id='{alarm['id']}']")
    row.locator("button.ack").click()
    page.wait_for_function("() => !document.querySelector('#board button.ack')")
    assert store.alarm(alarm["id"])["acked_by"] == "operator" and "operator" in row.locator("td.state").inner_text()
    row.locator("button.assign").click()
    row.locator("input.assignee").fill("crew")
    row.locator("button.assign-ok").click()
    page.wait_for_function("() => document.querySelector('#board td.state').textContent.includes('crew')")
    assert store.alarm(alarm["id"])["assignee"] == "crew"
    page.click("#lang")  # both languages have the strings
    assert "assigned to crew" in row.locator("td.state").inner_text() or "指派给 crew" in row.locator("td.state").inner_text()
    browser_login(page, api, "viewer", "/alarms")
    page.wait_for_selector(f"#board tbody tr[data-id='{alarm['id']}']")
    assert page.locator("#board button").count() == 0, "viewers get no buttons"


def test_every_handling_step_on_both_back_ends(open_store):
    """The same SQL on SQLite and a real PostgreSQL: lifecycle, flapping, work orders, outbox."""
    store = open_store()
    assert store.raise_alarm("ST-1", "flow", "spike", "red", "m", T0) and not store.raise_alarm("ST-1", "flow", "spike", "red", "m", T0)
    (a,) = store.alarms(open_only=True)
    store.assign_alarm(a["id"], "crew", "op", T0 + 1)
    store.comment_alarm(a["id"], "op", T0 + 2, "x")
    assert [e["level"] for e in store.escalate({"red": 10}, 2, T0 + 10)] == [1]
    assert store.acknowledge(a["id"], "op", T0 + 20)["state"] == "acknowledged"
    order = store.create_work_order(a["id"], "op", T0 + 30, T0 + 40, assignee="crew")
    assert order["state"] == "assigned" and store.mark_overdue(T0 + 50) == [{"id": order["id"], "alarm_id": a["id"]}]
    store.accept_work_order(order["id"], "crew", T0 + 60)
    store.report_work_order(order["id"], "crew", T0 + 70, "done")
    assert store.close_work_order(order["id"], "boss", T0 + 80)["state"] == "closed"
    assert store.work_orders(overdue_at=T0 + 90) == [] and len(store.work_orders(assignees=["crew"])) == 1
    for i in range(3):  # flapping: the third raise within the window is held
        assert store.clear_alarm("ST-1", "flow", "spike", T0 + 100 + 2 * i, (2, 60_000)) == (i < 2)
        store.raise_alarm("ST-1", "flow", "spike", "red", "m", T0 + 101 + 2 * i)
    held = store.alarms(open_only=True)[0]
    assert held["flapping"] == 1 and held["calm_since_ms"] is None, "raised again after the held clear"
    store.clear_alarm("ST-1", "flow", "spike", T0 + 200, (2, 60_000))
    assert store.calm_flapping(60_000, T0 + 200 + 59_999) == [] and store.calm_flapping(60_000, T0 + 200 + 60_000) == [held["id"]]
    assert store.close_alarm(a["id"], "boss", T0 + 300)["state"] == "closed"
    queued = store.route_history(lambda h, alarm: [("webhook", "w", f"{h['action']} {alarm['id']}")], T0)
    assert queued == len(store.alarm_history(a["id"])) + sum(len(store.alarm_history(x["id"])) for x in store.alarms()[:-1])
    assert store.route_history(lambda h, alarm: [("webhook", "w", "")], T0) == 0
    first = store.outbox(due_at=T0)[0]
    store.outbox_failed(first["id"], T0 + 5, "down")
    store.outbox_sent(store.outbox(due_at=T0)[0]["id"], T0 + 1)
    failed = next(r for r in store.outbox(pending=True) if r["id"] == first["id"])
    assert (failed["last_error"], failed["attempts"], failed["next_ms"]) == ("down", 1, T0 + 5)
    assert len(store.outbox(pending=False)) == 1

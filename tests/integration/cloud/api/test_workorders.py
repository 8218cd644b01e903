"""Work orders through their whole life over real HTTP (uvicorn on a free port, urllib): made by the
system for a stopped station (72 h) or by an operator (12 h serious, 4 h ordinary), assigned to a
crew user, accepted and reported back from the crew's side, closed by a manager; overdue ones
listed and noted; roles and regions enforced."""

from __future__ import annotations

import time

import pytest

from watertel.cloud import audit
from watertel.cloud.alarms.lifecycle import Lifecycle, LifecycleConfig
from watertel.cloud.api.app import create_app
from watertel.cloud.api.auth import hash_password
from watertel.cloud.config import ApiConfig
from watertel.cloud.users import UserEntry
from watertel.cloud.store.sqlite import SqliteStore

from tests.support.api import PASSWORD, login, post, registry, serve
from tests.support.browser import browser_login
from tests.support.clock import Clock

HOUR = 3_600_000


@pytest.fixture
def store(tmp_path):
    store = SqliteStore(tmp_path / "w.db")
    yield store
    store.close()


@pytest.fixture
def api(store):
    digest = hash_password(PASSWORD)
    users = [UserEntry(username=name, password_hash=digest, role=role, regions=regions) for name, role, regions in (
        ("admin", "admin", []), ("operator", "operator", []), ("viewer", "viewer", []), ("crew", "crew", ["zj-hz"]),
        ("crew2", "crew", ["zj-hz"]), ("nb-crew", "crew", ["zj-nb"]))]
    base, server, thread = serve(create_app(store, ApiConfig(users=users), registry=registry()))
    yield base
    server.should_exit = True
    thread.join(10)


def test_a_stopped_station_gets_a_72_hour_work_order_taken_through_its_whole_life(api, store):
    now = int(time.time() * 1000)
    store.raise_alarm("ST-XH", "*", "data_stopped", "orange", "no data for 3 intervals", now)
    made = Lifecycle(store, LifecycleConfig(), Clock(now)).tick().work_orders
    assert [(o["station"], o["state"], o["due_ms"] - now, o["created_by"]) for o in made] == [
        ("ST-XH", "open", 72 * HOUR, "system")]
    assert Lifecycle(store, LifecycleConfig(), Clock(now)).tick().work_orders == [], "one per alarm"
    order_id = made[0]["id"]
    operator, crew, admin = login(api, "operator"), login(api, "crew"), login(api, "admin")
    assert crew.call("GET", "/api/workorders")[1] == [], "a crew user sees only what is assigned to them"
    assert post(operator, f"/api/workorders/{order_id}/assign", {"assignee": "operator"})[0] == 422, "crews only"
    assert post(operator, f"/api/workorders/{order_id}/assign", {"assignee": "nb-crew"})[0] == 422, "other region"
    assert post(login(api, "viewer"), f"/api/workorders/{order_id}/assign", {"assignee": "crew"})[0] == 403
    status, order = post(operator, f"/api/workorders/{order_id}/assign", {"assignee": "crew"})
    assert status == 200 and (order["state"], order["assignee"]) == ("assigned", "crew")
    ((mine),) = crew.call("GET", "/api/workorders")[1]
    assert mine["id"] == order_id and mine["overdue"] is False
    assert login(api, "crew2").call("GET", f"/api/workorders/{order_id}")[0] == 404
    assert post(login(api, "crew2"), f"/api/workorders/{order_id}/accept")[0] == 404, "not theirs"
    assert post(operator, f"/api/workorders/{order_id}/accept")[0] == 403, "the crew accepts"
    assert post(crew, f"/api/workorders/{order_id}/report", {"notes": "early"})[0] == 409, "accept first"
    status, order = post(crew, f"/api/workorders/{order_id}/accept")
    assert status == 200 and order["state"] == "accepted" and order["accepted_ms"]
    assert post(crew, f"/api/workorders/{order_id}/accept")[0] == 409
    assert post(crew, f"/api/workorders/{order_id}/report", {"notes": ""})[0] == 422
    status, order = post(crew, f"/api/workorders/{order_id}/report", {"notes": "4G antenna replaced, data back"})
    assert status == 200 and (order["state"], order["report"]) == ("reported", "4G antenna replaced, data back")
    assert post(operator, f"/api/workorders/{order_id}/close")[0] == 403, "a manager closes"
    status, order = post(admin, f"/api/workorders/{order_id}/close", {"note": "checked"})
    assert status == 200 and (order["state"], order["closed_by"]) == ("closed", "admin")
    alarm_id = order["alarm_id"]
    history = admin.call("GET", f"/api/alarms/{alarm_id}/history")[1]
    assert [(h["action"], h["actor"]) for h in history] == [
        ("raised", "system"), ("work_order.created", "system"), ("work_order.assigned", "operator"),
        ("work_order.accepted", "crew"), ("work_order.reported", "crew"), ("work_order.closed", "admin")]
    assert history[4]["note"] == f"work order {order_id}: 4G antenna replaced, data back"
    paths = {(e.actor, e.path, e.status) for e in audit.recent(store, 100)}
    assert ("crew", f"/api/workorders/{order_id}/report", 200) in paths and audit.verify(store).ok


def test_operators_make_work_orders_due_by_severity_and_overdue_ones_are_listed(api, store):
    now = int(time.time() * 1000)
    store.raise_alarm("ST-XH", "turbidity", "water_quality", "red", "t", now)
    store.raise_alarm("ST-BJ", "flow", "spike", "yellow", "s", now)
    store.raise_alarm("ST-NB", "flow", "spike", "yellow", "s", now)
    red, yellow, nb = [next(a for a in store.alarms() if a["station"] == s) for s in ("ST-XH", "ST-BJ", "ST-NB")]
    operator = login(api, "operator")
    status, serious = post(operator, "/api/workorders", {"alarm_id": red["id"], "assignee": "crew"})
    assert status == 201 and serious["state"] == "assigned" and 12 * HOUR - 60_000 < serious["due_ms"] - now <= 12 * HOUR + 60_000
    status, ordinary = post(operator, "/api/workorders", {"alarm_id": yellow["id"], "title": "check meter"})
    assert status == 201 and ordinary["title"] == "check meter" and ordinary["due_ms"] - serious["due_ms"] < -7 * HOUR
    assert post(operator, "/api/workorders", {"alarm_id": red["id"]})[0] == 409, "one open work order per alarm"
    assert post(operator, "/api/workorders", {"alarm_id": 999})[0] == 404
    assert post(operator, "/api/workorders", {"alarm_id": nb["id"], "assignee": "crew"})[0] == 422, "crew of another region"
    assert post(login(api, "crew"), "/api/workorders", {"alarm_id": nb["id"]})[0] == 403
    overdue = store.create_work_order(nb["id"], "operator", now - 10 * HOUR, now - 6 * HOUR, assignee="nb-crew")
    listed = operator.call("GET", "/api/workorders?overdue=true")[1]
    assert [o["id"] for o in listed] == [overdue["id"]] and listed[0]["overdue"] is True
    assert [o["id"] for o in operator.call("GET", "/api/workorders?state=assigned")[1]] == [overdue["id"], serious["id"]]
    assert login(api, "nb-crew").call("GET", "/api/workorders?overdue=true")[1][0]["id"] == overdue["id"]
    noted = Lifecycle(store, LifecycleConfig()).tick().overdue
    assert noted == [{"id": overdue["id"], "alarm_id": nb["id"]}]
    assert Lifecycle(store, LifecycleConfig()).tick().overdue == [], "noted once"
    (last,) = [h for h in store.alarm_history(nb["id"]) if h["action"] == "work_order.overdue"]
    assert last["level"] == 1 and "was due 360 min ago" in last["note"]


@pytest.mark.server
def test_the_crew_page_accepts_and_reports_back_on_a_phone(api, store, browser_page):

    page = browser_page
    now = int(time.time() * 1000)
    store.raise_alarm("ST-XH", "*", "data_stopped", "orange", "no data", now)
    (alarm,) = store.alarms()
    order = store.create_work_order(alarm["id"], "operator", now, now + 72 * HOUR, "ST-XH stopped", "crew")
    browser_login(page, api, "crew", "/crew")
    card = page.locator(f".order[data-id='{order['id']}']")
    card.locator("button.accept").click()
    card.locator("textarea.notes").fill("换了天线 antenna replaced")
    card.locator("button.report").click()
    page.wait_for_function("() => !document.querySelector('.order textarea')")
    # the card shows the report at once (kept on the phone); it is on the server once not marked unsent
    page.wait_for_selector(f".order[data-id='{order['id']}'][data-state='reported']:not(.unsent)")
    done = store.work_order(order["id"])
    assert (done["state"], done["report"]) == ("reported", "换了天线 antenna replaced")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "fits a phone's width"

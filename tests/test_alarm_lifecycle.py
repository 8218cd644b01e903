"""The alarm lifecycle (issue 8): raised → acknowledged → cleared → closed with its history;
escalation on a controlled clock; maintenance suppression; flapping; and the alarm API over real
HTTP (uvicorn on a free port, urllib), roles and regions enforced, every write audited."""

from __future__ import annotations

import math

import pytest
from test_api_auth import PASSWORD, Client, registry, serve
from test_store import open_store  # noqa: F401 - the fixture: SQLite and PostgreSQL

from watertel.cloud import audit
from watertel.cloud.alarms.config import AlarmsConfig
from watertel.cloud.alarms.engine import AlarmEngine
from watertel.cloud.alarms.lifecycle import Lifecycle, LifecycleConfig
from watertel.cloud.api.app import create_app
from watertel.cloud.api.auth import hash_password
from watertel.cloud.config import ApiConfig
from watertel.cloud.users import UserEntry
from watertel.cloud.registry import Registry, RegistryFile
from watertel.cloud.store.handling import HandlingError
from watertel.cloud.store.sqlite import SqliteStore
from watertel.readings import Quality, Reading

T0 = 1_793_404_800_000  # 2026-10-31T00:00:00Z
MIN = 60_000
INSTANT = AlarmsConfig(water_quality={"min_duration_s": 0})  # turbidity raises at once: the lifecycle is the subject


class Clock:
    def __init__(self, t_ms: int) -> None:
        self.t_ms = t_ms

    def __call__(self) -> float:
        return self.t_ms / 1000


@pytest.fixture
def store(tmp_path):
    store = SqliteStore(tmp_path / "w.db")
    yield store
    store.close()


def turbidity(t_ms: int, value: float, station: str = "ST-1") -> tuple[Reading, ...]:
    return (Reading(station, "turbidity", t_ms, value, "NTU", Quality.OK if not math.isnan(value) else Quality.TIMEOUT),)


def actions(store, alarm_id: int) -> list[str]:
    return [h["action"] for h in store.alarm_history(alarm_id)]


def test_the_whole_lifecycle_is_kept_in_the_history_and_one_alarm_stays_open(store):
    engine = AlarmEngine(store, INSTANT)
    engine.on_readings(turbidity(T0, 1.5))
    (alarm,) = store.alarms(open_only=True)
    assert store.acknowledge(alarm["id"], "op", T0 + MIN, "on it")["acked_by"] == "op"
    assert engine.on_readings(turbidity(T0 + 2 * MIN, 1.8)) == 0, "acknowledged is still the open alarm"
    store.assign_alarm(alarm["id"], "crew", "op", T0 + 3 * MIN)
    store.comment_alarm(alarm["id"], "op", T0 + 4 * MIN, "sensor window dirty")
    with pytest.raises(HandlingError, match=f"alarm {alarm['id']} is acknowledged: cannot acknowledge it"):
        store.acknowledge(alarm["id"], "op", T0 + 5 * MIN)
    engine.on_readings(turbidity(T0 + 6 * MIN, 0.3))
    assert store.alarm(alarm["id"])["state"] == "cleared"
    closed = store.close_alarm(alarm["id"], "boss", T0 + 7 * MIN, "cleaned")
    assert (closed["state"], closed["closed_by"], closed["assignee"]) == ("closed", "boss", "crew")
    with pytest.raises(HandlingError, match="is closed: cannot close it"):
        store.close_alarm(alarm["id"], "boss", T0 + 8 * MIN)
    history = store.alarm_history(alarm["id"])
    assert [(h["action"], h["actor"], h["t_ms"]) for h in history] == [
        ("raised", "system", T0), ("acknowledged", "op", T0 + MIN), ("assigned", "op", T0 + 3 * MIN),
        ("comment", "op", T0 + 4 * MIN), ("cleared", "system", T0 + 6 * MIN), ("closed", "boss", T0 + 7 * MIN)]
    assert history[2]["note"] == "to crew" and history[3]["note"] == "sensor window dirty"
    with pytest.raises(HandlingError, match="no alarm 999"):
        store.acknowledge(999, "op", T0)


def test_an_unacknowledged_alarm_escalates_level_by_level_on_the_clock(store):
    clock = Clock(T0)
    cfg = LifecycleConfig.model_validate({"ack_within_min": {"red": 30, "yellow": 60}, "max_level": 2})
    steps = Lifecycle(store, cfg, clock)
    store.raise_alarm("ST-1", "*", "chain_gap", "red", "gap", T0)
    store.raise_alarm("ST-2", "*", "chain_gap", "yellow", "gap", T0)
    store.raise_alarm("ST-3", "*", "chain_gap", "red", "gap", T0)
    store.raise_alarm("ST-4", "*", "chain_gap", "blue", "gap", T0)  # blue: never escalates (default)
    red, yellow, acked, blue = sorted(store.alarms(open_only=True), key=lambda a: a["station"])
    store.acknowledge(acked["id"], "op", T0 + 10 * MIN)
    levels = []
    for minutes in (29, 30, 59, 60, 89, 90, 200):
        clock.t_ms = T0 + minutes * MIN
        steps.tick()
        levels.append(tuple(store.alarm(a["id"])["level"] for a in (red, yellow, acked, blue)))
    assert levels == [(0, 0, 0, 0), (1, 0, 0, 0), (1, 0, 0, 0), (2, 1, 0, 0), (2, 1, 0, 0), (2, 1, 0, 0),
                      (2, 2, 0, 0)], "red every 30 min, yellow every 60, up to max_level; acknowledged and blue never"
    escalated = [h for h in store.alarm_history(red["id"]) if h["action"] == "escalated"]
    assert [(h["t_ms"], h["level"]) for h in escalated] == [(T0 + 30 * MIN, 1), (T0 + 60 * MIN, 2)]
    assert escalated[0]["note"] == "not acknowledged within 30 min: contact level 1"


def maintenance_registry() -> Registry:
    return Registry(RegistryFile.model_validate({
        "provinces": [{"id": "zj", "name": "浙江", "cities": [{"id": "zj-hz", "name": "杭州", "counties": [
            {"id": "zj-hz-xh", "name": "西湖"}]}]}],
        "stations": [{"id": "ST-1", "region": "zj-hz-xh", "interval_minutes": 5, "commissioned": "2026-01-01",
                      "maintenance": [{"start": "2026-10-31T08:00", "end": "2026-10-31T10:00", "note": "pump"}]}],
    }))


def test_alarms_of_a_station_in_maintenance_are_kept_suppressed_never_escalated(store):
    from watertel.cloud.notify.config import NotificationsConfig
    from watertel.cloud.notify.outbox import Notifier

    reg = maintenance_registry()
    engine = AlarmEngine(store, INSTANT, registry=reg)
    inside = T0 + 30 * MIN  # 08:30 in Asia/Shanghai
    engine.on_readings(turbidity(inside, 1.5))
    (alarm,) = store.alarms(open_only=True)
    assert alarm["suppressed"] == 1 and store.alarm_history(alarm["id"])[0]["note"] == "suppressed: maintenance window"
    Lifecycle(store, LifecycleConfig(), Clock(inside + 600 * MIN)).tick()
    assert store.alarm(alarm["id"])["level"] == 0, "a suppressed alarm does not escalate"
    notifier = Notifier(store, NotificationsConfig.model_validate({
        "webhooks": [{"id": "h", "url": "http://127.0.0.1:9/"}], "contacts": [{"id": "c", "webhook": "h"}],
        "routes": [{"contacts": ["c"]}]}), {"ST-1": reg.ancestry("zj-hz-xh")}.get)
    assert notifier.route() == 0, "nor is it notified"
    engine.on_readings(turbidity(inside + MIN, 0.2))
    engine.on_readings(turbidity(T0 + 3 * 60 * MIN, 1.6))  # 11:00: the window is over
    (after,) = store.alarms(open_only=True)
    assert after["suppressed"] == 0 and notifier.route() == 1


def test_an_alarm_raised_too_often_is_held_raised_as_flapping_until_it_stays_calm(store):
    cfg = LifecycleConfig.model_validate({"flapping": {"max_raises": 3, "window_min": 30}})
    engine = AlarmEngine(store, INSTANT, lifecycle=cfg)
    for i in range(3):  # three episodes: normal
        engine.on_readings(turbidity(T0 + (2 * i) * MIN, 1.5))
        engine.on_readings(turbidity(T0 + (2 * i + 1) * MIN, 0.5))
    assert [a["state"] for a in store.alarms()] == ["cleared"] * 3
    engine.on_readings(turbidity(T0 + 6 * MIN, 1.5))  # the fourth raise within 30 min
    engine.on_readings(turbidity(T0 + 7 * MIN, 0.5))
    (held,) = store.alarms(open_only=True)
    assert held["flapping"] == 1 and held["calm_since_ms"] == T0 + 7 * MIN
    assert actions(store, held["id"]) == ["raised", "flapping"]
    for i in range(4, 8):  # goes on flapping: still the one alarm, no new ones
        engine.on_readings(turbidity(T0 + (2 * i) * MIN, 1.5))
        engine.on_readings(turbidity(T0 + (2 * i + 1) * MIN, 0.5))
    assert len(store.alarms()) == 4 and store.alarms(open_only=True)[0]["id"] == held["id"]
    steps = Lifecycle(store, cfg, Clock(T0 + 40 * MIN))
    assert steps.tick().calmed == [], "calm since minute 15 only"
    assert steps.tick(T0 + 45 * MIN).calmed == [held["id"]]
    cleared = store.alarm(held["id"])
    assert (cleared["state"], cleared["cleared_ms"]) == ("cleared", T0 + 15 * MIN)
    assert actions(store, held["id"])[-1] == "cleared"


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


def login(base: str, name: str) -> Client:
    client = Client(base)
    assert client.login(name)[0] == 200
    return client


def post(client: Client, path: str, body: dict | None = None) -> tuple[int, dict]:
    status, answer, _ = client.call("POST", path, body, {"X-CSRF-Token": client.csrf})
    return status, answer


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


@pytest.fixture
def browser_page():
    from test_console_browser import chromium, new_page

    with chromium() as browser:
        yield new_page(browser, viewport={"width": 390, "height": 844})  # a phone, for the crew page too


def browser_login(page, base: str, user: str, then: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}{then}")


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

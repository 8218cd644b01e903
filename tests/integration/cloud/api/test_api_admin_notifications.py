"""``/api/admin/notifications`` over real HTTP (uvicorn on a free port, a real SQLite store, real
users, registry and notifications files): routes replaced and contacts set and deleted by admins
with every region only, validated with the file's models, written atomically, audited without a
secret or URL; refusals for other roles, a missing CSRF header, bad input (nothing written) and a
config that keeps notifications inline. The running notifier picks a route added through the API
up at its next round and delivers to a real HTTP receiver started here, without a restart."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import yaml

from watertel.cloud import audit
from watertel.cloud.alarms.lifecycle import LifecycleConfig
from watertel.cloud.api.app import create_app
from watertel.cloud.config import ApiConfig, load_cloud_config
from watertel.cloud.notify.notifications_file import load_notifications_file
from watertel.cloud.notify.outbox import Notifier, run_alarm_handling
from watertel.cloud.notify.reload import NotificationsWatcher
from watertel.cloud.registry import load_registry
from watertel.cloud.store.sqlite import SqliteStore
from watertel.config import ConfigError
from watertel.ports import free_port

from tests.support.api import HOOK_SECRET, Client, bearer, notifications_yaml, serve, write_files
from tests.support.notify import Receiver

OTHERS = ("operator", "crew", "viewer")


@pytest.fixture
def port():
    return free_port()


@pytest.fixture
def files(tmp_path, hashes, port):
    write_files(tmp_path, hashes["argon2"])
    (tmp_path / "hook.secret").write_text(HOOK_SECRET, encoding="utf-8")
    (tmp_path / "notifications.yaml").write_text(yaml.safe_dump(notifications_yaml(port)), encoding="utf-8")
    return tmp_path


@pytest.fixture
def api(store, files):
    path = files / "notifications.yaml"
    app = create_app(store, ApiConfig(users_file=files / "users.yaml"), registry_file=files / "registry.yaml",
                     notifications=load_notifications_file(path), notifications_file=path)
    base, server, thread = serve(app)
    yield base
    server.should_exit = True
    thread.join(10)


def on_disk(tmp_path) -> dict:
    return yaml.safe_load((tmp_path / "notifications.yaml").read_text())["notifications"]


def last_audit(store, path_part: str):
    return next(e for e in audit.recent(store, 50) if path_part in e.path and e.method != "GET")


NEW_ROUTE = {"regions": ["zj-nb"], "severities": ["red", "orange"], "level": 0, "contacts": ["desk"]}
OLD_ROUTE = {"regions": ["zj-hz"], "severities": ["red"], "roles": ["operator"]}


def assert_no_secret(text: str) -> None:
    for secret in (HOOK_SECRET, "TOPSECRET", "private-path", "qyapi", "hook.secret", "robot-token"):
        assert secret not in text, secret


def test_admins_read_the_file_with_channel_ids_but_no_secret_or_url(api):
    status, body, _ = bearer(api, "admin").call("GET", "/api/admin/notifications")
    assert status == 200 and body["editable"] is True and body["problems"] == []
    assert body["channels"] == {"webhooks": ["desk-hook"], "robots": ["hz-group"], "email": False, "sms": False}
    assert [c["id"] for c in body["contacts"]] == ["hz-duty", "desk"]
    assert body["routes"][0]["reaches"] == ["hz-duty"]
    assert_no_secret(json.dumps(body))


@pytest.mark.parametrize("role", OTHERS)
def test_every_other_role_is_refused_and_nothing_written(api, role, files):
    client = bearer(api, role)
    before = (files / "notifications.yaml").read_text()
    for method, path, body in (("GET", "/api/admin/notifications", None),
                               ("PUT", "/api/admin/notifications/routes", [NEW_ROUTE]),
                               ("PUT", "/api/admin/notifications/contacts/eve", {"webhook": "desk-hook"}),
                               ("DELETE", "/api/admin/notifications/contacts/desk", None)):
        status, answer, _ = client.call(method, path, body)
        assert status == 403 and f"the {role} role may not do this" in answer["detail"], (method, path)
    assert Client(api).call("PUT", "/api/admin/notifications/routes", [NEW_ROUTE])[0] == 401
    assert (files / "notifications.yaml").read_text() == before


def test_cookie_sessions_need_the_csrf_header(api, files):
    client = Client(api)
    client.login("admin")
    before = (files / "notifications.yaml").read_text()
    assert client.call("PUT", "/api/admin/notifications/routes", [NEW_ROUTE])[0] == 403
    assert client.call("DELETE", "/api/admin/notifications/contacts/desk", None, {"X-CSRF-Token": "forged"})[0] == 403
    assert (files / "notifications.yaml").read_text() == before
    assert client.call("PUT", "/api/admin/notifications/routes", [OLD_ROUTE, NEW_ROUTE],
                       {"X-CSRF-Token": client.csrf})[0] == 200


def test_replacing_the_routes_writes_the_file_and_audits_a_summary(api, store, files):
    admin = bearer(api, "admin")
    status, body, _ = admin.call("PUT", "/api/admin/notifications/routes",
                                 [NEW_ROUTE, {"severities": ["red"], "level": 1, "roles": ["operator"],
                                              "quiet_hours": "22:00–07:00"}])
    assert status == 200, body
    assert [r["reaches"] for r in body["routes"]] == [["desk"], ["hz-duty"]]
    assert on_disk(files)["routes"] == [{"regions": ["zj-nb"], "severities": ["red", "orange"], "contacts": ["desk"]},
                                        {"severities": ["red"], "level": 1, "roles": ["operator"],
                                         "quiet_hours": "22:00-07:00"}], "defaults (level 0) left out"
    assert on_disk(files)["webhooks"][0]["secret_file"] == "hook.secret", "channels kept as written"
    assert (files / "notifications.yaml.bak").exists()
    assert admin.call("GET", "/api/admin/notifications")[1]["routes"] == body["routes"]
    entry = last_audit(store, "/api/admin/notifications/routes")
    assert (entry.actor, entry.method, entry.status) == ("admin", "PUT", 200)
    assert entry.summary == ("set notification routes (1 → 2; added: zj-nb red,orange level 0 → desk;"
                             " all regions red level 1 → role operator quiet 22:00-07:00;"
                             " removed: zj-hz red level 0 → role operator)")
    assert_no_secret(json.dumps([e.public() for e in audit.recent(store, 50)]))
    assert audit.verify(store).ok


@pytest.mark.parametrize("routes, problem", [
    ([{"contacts": ["ghost"]}], "routes.0: contact 'ghost' is not in contacts"),
    ([{"severities": ["red"]}], "a route needs contacts, roles or both"),
    ([{"severities": ["purple"], "contacts": ["desk"]}], "purple"),
    ([{"level": -1, "contacts": ["desk"]}], "greater than or equal to 0"),
    ([{"roles": ["crew"]}], "role 'crew': no contact has it"),
    ([{"regions": ["mars"], "contacts": ["desk"]}], "['mars'] are not regions of the registry"),
    ([{"contacts": ["desk"], "quiet_hours": "22:00-25:00"}], "quiet hours are written HH:MM-HH:MM"),
    ([{"contacts": ["desk"], "webhook": "x"}], "webhook"),
    ({"contacts": ["desk"]}, "list"),
])
def test_bad_routes_are_refused_and_nothing_written(api, store, files, routes, problem):
    before = (files / "notifications.yaml").read_text()
    status, answer, _ = bearer(api, "admin").call("PUT", "/api/admin/notifications/routes", routes)
    assert status == 422 and problem in json.dumps(answer, ensure_ascii=False), answer
    assert (files / "notifications.yaml").read_text() == before
    assert not (files / "notifications.yaml.bak").exists()
    assert last_audit(store, "/api/admin/notifications/routes").status == 422


def test_contacts_are_created_changed_and_deleted_with_summaries_without_addresses(api, store, files):
    admin = bearer(api, "admin")
    status, body, _ = admin.call("PUT", "/api/admin/notifications/contacts/crew-xh",
                                 {"webhook": "desk-hook", "role": "crew", "quiet_hours": "22:00-07:00"})
    assert status == 200 and {"id": "crew-xh", "role": "crew", "email": None, "phone": None, "webhook": "desk-hook",
                              "robot": None, "quiet_hours": "22:00-07:00"} in body["contacts"]
    assert on_disk(files)["contacts"][-1] == {"id": "crew-xh", "webhook": "desk-hook", "role": "crew",
                                              "quiet_hours": "22:00-07:00"}
    assert last_audit(store, "/contacts/crew-xh").summary == \
        "create contact crew-xh (webhook desk-hook; role crew; quiet_hours 22:00-07:00)"
    assert admin.call("PUT", "/api/admin/notifications/routes", [OLD_ROUTE, {"roles": ["crew"]}])[0] == 200

    status, body, _ = admin.call("PUT", "/api/admin/notifications/contacts/crew-xh",
                                 {"id": "crew-xh", "robot": "hz-group", "role": "operator"})
    assert status == 422 and "role 'crew': no contact has it" in json.dumps(body), "a route still needs a crew"
    status, body, _ = admin.call("PUT", "/api/admin/notifications/contacts/crew-xh", {"robot": "hz-group", "role": "crew"})
    assert status == 200 and on_disk(files)["contacts"][-1] == {"id": "crew-xh", "robot": "hz-group", "role": "crew"}
    assert last_audit(store, "/contacts/crew-xh").summary == \
        "update contact crew-xh (webhook desk-hook → —; robot — → hz-group; quiet_hours 22:00-07:00 → —)"

    status, body, _ = admin.call("DELETE", "/api/admin/notifications/contacts/desk")
    assert status == 200 and "desk" not in [c["id"] for c in body["contacts"]]
    assert [c["id"] for c in on_disk(files)["contacts"]] == ["hz-duty", "crew-xh"]
    assert last_audit(store, "/contacts/desk").summary == "delete contact desk"
    assert audit.verify(store).ok


@pytest.mark.parametrize("name, contact, status, problem", [
    ("x", {"webhook": "nope"}, 422, "webhook 'nope' is not in webhooks"),
    ("x", {"email": "x@example.test"}, 422, "an email address needs the smtp section"),
    ("x", {"phone": "123"}, 422, "phone"),
    ("x", {"role": "crew"}, 422, "give an email, a webhook, a robot or a phone"),
    ("x", {"webhook": "desk-hook", "quiet_hours": "night"}, 422, "quiet hours are written HH:MM-HH:MM"),
    ("x", {"webhook": "desk-hook", "role": "boss"}, 422, "boss"),
    ("x", {"webhook": "desk-hook", "url": "http://evil/"}, 422, "url"),
    ("x", {"id": "y", "webhook": "desk-hook"}, 422, "differs from the contact in the path"),
    ("a%20b", {"webhook": "desk-hook"}, 422, "pattern"),
])
def test_bad_contacts_are_refused_and_nothing_written(api, files, name, contact, status, problem):
    before = (files / "notifications.yaml").read_text()
    got, answer, _ = bearer(api, "admin").call("PUT", f"/api/admin/notifications/contacts/{name}", contact)
    assert got == status and problem in json.dumps(answer, ensure_ascii=False), answer
    assert (files / "notifications.yaml").read_text() == before


def test_a_contact_named_by_a_route_or_unknown_is_not_deleted(api, files):
    admin = bearer(api, "admin")
    assert admin.call("PUT", "/api/admin/notifications/routes", [OLD_ROUTE, NEW_ROUTE])[0] == 200
    before = (files / "notifications.yaml").read_text()
    status, body, _ = admin.call("DELETE", "/api/admin/notifications/contacts/desk")
    assert status == 409 and body["detail"] == ("contact 'desk' is named by route 1 (numbered from 0): remove it from"
                                                " those routes first")
    status, body, _ = admin.call("DELETE", "/api/admin/notifications/contacts/hz-duty")
    assert status == 409 and "role 'operator': no contact has it" in json.dumps(body), "the last operator of a role route"
    assert admin.call("DELETE", "/api/admin/notifications/contacts/nobody")[0] == 404
    assert (files / "notifications.yaml").read_text() == before


def test_a_scoped_admin_reads_but_does_not_change_routes(api, files):
    hz = bearer(api, "hz-admin")
    status, body, _ = hz.call("GET", "/api/admin/notifications")
    assert status == 200 and body["editable"] is False and len(body["routes"]) == 1
    status, body, _ = hz.call("PUT", "/api/admin/notifications/routes", [OLD_ROUTE])
    assert status == 403 and "only an admin with every region" in body["detail"]
    assert hz.call("DELETE", "/api/admin/notifications/contacts/desk")[0] == 403


def test_notifications_kept_inline_are_not_edited(store, files):
    inline = load_notifications_file(files / "notifications.yaml")
    base, server, thread = serve(create_app(store, ApiConfig(users_file=files / "users.yaml"), notifications=inline))
    try:
        admin = bearer(base, "admin")
        assert admin.call("GET", "/api/admin/notifications")[1]["editable"] is False
        for method, path, body in (("PUT", "/api/admin/notifications/routes", [NEW_ROUTE]),
                                   ("PUT", "/api/admin/notifications/contacts/x", {"webhook": "desk-hook"}),
                                   ("DELETE", "/api/admin/notifications/contacts/desk", None)):
            status, answer, _ = admin.call(method, path, body)
            assert status == 409 and "set notifications_file" in answer["detail"], path
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_broken_file_is_shown_with_its_problems_and_not_written_over(api, files):
    admin = bearer(api, "admin")
    data = notifications_yaml(0)
    data["notifications"]["contacts"][1]["email"] = "x@y"
    (files / "notifications.yaml").write_text(yaml.safe_dump(data))
    status, body, _ = admin.call("GET", "/api/admin/notifications")
    assert status == 200 and "an email address needs the smtp section" in " ".join(body["problems"])
    assert [c["id"] for c in body["contacts"]] == ["hz-duty", "desk"], "the last valid file is shown"
    status, body, _ = admin.call("PUT", "/api/admin/notifications/routes", [OLD_ROUTE])
    assert status == 409 and body["detail"][0] == "the notifications file has problems; fix it first:"


def test_the_cloud_config_reads_the_file_and_takes_one_of_file_or_section(files):
    (files / "cloud.yaml").write_text("data_dir: data\nregistry_file: registry.yaml\nnotifications_file: notifications.yaml\n")
    cfg = load_cloud_config(files / "cloud.yaml")
    assert cfg.notifications_file == files / "notifications.yaml" and cfg.notifications.every_s == 0.05
    assert cfg.notifications.webhooks[0].secret_file == files / "hook.secret", "relative to the file's folder"
    (files / "cloud.yaml").write_text("data_dir: data\nnotifications_file: notifications.yaml\nnotifications: {every_s: 5}\n")
    with pytest.raises(ConfigError, match="notifications and notifications_file: give one"):
        load_cloud_config(files / "cloud.yaml")
    data = yaml.safe_load((files / "notifications.yaml").read_text())
    data["notifications"]["robots"][0] = {"id": "hz-group", "kind": "wecom",
                                          "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc"}
    data["notifications"]["routes"][0]["regions"] = ["mars"]
    (files / "notifications.yaml").write_text(yaml.safe_dump(data))
    (files / "cloud.yaml").write_text("data_dir: data\nregistry_file: registry.yaml\nnotifications_file: notifications.yaml\n")
    with pytest.raises(ConfigError, match=r"notifications.yaml:\d+: notifications: robots \['hz-group'\]: give token_file"):
        load_cloud_config(files / "cloud.yaml")
    data["notifications"]["robots"][0] = notifications_yaml(0)["notifications"]["robots"][0]
    (files / "notifications.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"notifications.yaml: notifications.routes.0.regions: 'mars' is not a region"):
        load_cloud_config(files / "cloud.yaml")
    (files / "notifications.yaml").unlink()
    with pytest.raises(ConfigError, match=r"notifications.yaml: does not exist \(create it with a notifications: mapping"):
        load_cloud_config(files / "cloud.yaml")


def test_a_broken_file_is_logged_and_not_applied_by_the_watcher(files, caplog):
    path = files / "notifications.yaml"
    cfg = load_notifications_file(path)
    watcher = NotificationsWatcher(path, cfg, files / "registry.yaml")
    assert watcher.check() is None, "unchanged: nothing to apply"
    data = yaml.safe_load(path.read_text())
    data["notifications"]["contacts"][1]["webhook"] = "nope"
    path.write_text(yaml.safe_dump(data))
    assert watcher.check() is None and "notifications not reloaded" in caplog.text and "'nope'" in caplog.text
    caplog.clear()
    assert watcher.check() is None and caplog.text == "", "logged once, not read again until it changes"
    data["notifications"]["contacts"][1]["webhook"] = "desk-hook"
    data["notifications"]["every_s"] = 0.1
    path.write_text(yaml.safe_dump(data))
    fresh = watcher.check()
    assert fresh is not None and fresh.every_s == 0.1


def test_a_route_added_through_the_api_is_delivered_by_the_running_notifier(api, store, files, port):
    receiver = Receiver(port)
    receiver.start()
    try:
        registry = load_registry(files / "registry.yaml")
        ancestry = {s.id: registry.ancestry(s.region) for s in registry.stations}.get
        path = files / "notifications.yaml"
        watcher = NotificationsWatcher(path, load_notifications_file(path), files / "registry.yaml")
        admin = bearer(api, "admin")
        now = int(time.time() * 1000)
        assert store.raise_alarm("ST-NB", "total", "data_stopped", "red", "before the route", now)

        async def run() -> None:
            task = asyncio.create_task(run_alarm_handling(lambda: SqliteStore(files / "watertel.db"),
                                                          LifecycleConfig(check_every_s=0.05),
                                                          watcher.current, ancestry, None, watcher.check))
            try:
                await asyncio.sleep(0.5)  # rounds pass: the first alarm is routed to nobody (no route for zj-nb)
                assert receiver.got == []
                status, body, _ = await asyncio.to_thread(admin.call, "PUT", "/api/admin/notifications/routes",
                                                          [OLD_ROUTE, NEW_ROUTE])
                assert status == 200, body
                await asyncio.sleep(0.3)  # the next round reads the file
                store.raise_alarm("ST-NB", "flow", "spike", "orange", "after the route", int(time.time() * 1000))
                for _ in range(100):
                    if receiver.got:
                        break
                    await asyncio.sleep(0.05)
            finally:
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task

        asyncio.run(run())
        assert len(receiver.got) == 1, "the new route, from the alarm after it; nothing for the one before"
        headers, raw = receiver.got[0]
        payload = json.loads(raw)
        assert (payload["event"], payload["alarm"]["station"], payload["alarm"]["message"]) == \
            ("raised", "ST-NB", "after the route")
        assert headers["X-Watertel-Signature"].startswith("sha256=")
    finally:
        receiver.stop()


def test_the_notifier_uses_a_configuration_it_is_given(files, tmp_path):
    """configure(): the next event is routed with the new routes (the watcher's result, in place)."""
    db = SqliteStore(tmp_path / "n.db")
    try:
        cfg = load_notifications_file(files / "notifications.yaml")
        notifier = Notifier(db, cfg, {"ST-NB": ["zj-nb-hs", "zj-nb", "zj"]}.get)
        db.raise_alarm("ST-NB", "total", "data_stopped", "red", "one", int(time.time() * 1000))
        assert notifier.route() == 0
        notifier.configure(cfg.model_copy(update={"routes": [*cfg.routes, cfg.routes[0].model_copy(
            update={"regions": ["zj-nb"], "roles": [], "contacts": ["desk"]})]}))
        db.raise_alarm("ST-NB", "flow", "spike", "red", "two", int(time.time() * 1000))
        assert notifier.route() == 1
        assert [(r["channel"], r["address"]) for r in db.outbox(pending=True)] == [("webhook", "desk-hook")]
    finally:
        db.close()

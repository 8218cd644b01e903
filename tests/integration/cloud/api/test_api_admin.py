"""``/api/admin`` over real HTTP (uvicorn on a free port, a real SQLite store, real users, registry
and gateways files): users created, changed, reset and deleted by admins only, written atomically,
audited, with sessions ended; gateway keys registered, rotated and revoked into the gateways file
that a worker's ``GatewaysWatcher`` applies; notification routes read without secrets; refusals for
every other role, for a missing CSRF header and for an admin scoped to other regions.

This file holds the tests that need a real server or run a command; the others are in
tests/unit/cloud/api/test_api_admin.py."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import yaml

from watertel.cloud import audit
from watertel.cloud.alarms.engine import AlarmEngine
from watertel.cloud.api.app import create_app
from watertel.cloud.config import ApiConfig
from watertel.cloud.gateways_file import load_gateways_file
from watertel.cloud.ingest.gateway_keys import GatewayKeys, GatewaysWatcher
from watertel.cloud.ingest.handler import Handler
from watertel.cloud.notify.config import NotificationsConfig
from watertel.crypto import SM2PrivateKey
from watertel.envelope import ChainState, seal
from watertel.keys import write_key_pair
from watertel.readings import Reading

from tests.support.api import NOTIFICATIONS, ROLES, Client, bearer, serve, write_files

NEW_PASSWORD = "a much longer passphrase"
OTHERS = ("operator", "crew", "viewer")


@pytest.fixture
def api(store, hashes, tmp_path):
    write_files(tmp_path, hashes["argon2"])
    notifications = NotificationsConfig.model_validate(NOTIFICATIONS).resolved(tmp_path)
    app = create_app(store, ApiConfig(users_file=tmp_path / "users.yaml"), registry_file=tmp_path / "registry.yaml",
                     gateways_file=tmp_path / "gateways.yaml", notifications=notifications)
    base, server, thread = serve(app)
    yield base
    server.should_exit = True
    thread.join(10)


def pem(tmp_path, key_id: str) -> str:
    write_key_pair(tmp_path / "new-keys", key_id)
    return (tmp_path / "new-keys" / f"{key_id}.pub.pem").read_text()


def users_on_disk(tmp_path) -> dict:
    return {u["username"]: u for u in yaml.safe_load((tmp_path / "users.yaml").read_text())["users"]}


def last_audit(store, path_part: str):
    return next(e for e in audit.recent(store, 50) if path_part in e.path and e.method != "GET")


# --- users -----------------------------------------------------------------------------------------


def test_admins_list_users_without_hashes(api):
    status, body, _ = bearer(api, "admin").call("GET", "/api/admin/users")
    assert status == 200 and body["editable"] is True
    assert [u["username"] for u in body["users"]] == ["admin", "crew", "hz-admin", "hz-viewer", "operator", "viewer"]
    assert {"username": "hz-viewer", "role": "viewer", "regions": ["zj-hz-xh"]} in body["users"]
    assert "argon2" not in json.dumps(body) and "password" not in json.dumps(body)


@pytest.mark.parametrize("role", OTHERS)
def test_every_other_role_is_refused_every_admin_endpoint(api, role, tmp_path):
    client = bearer(api, role)
    key = pem(tmp_path, "x1")
    calls = [("GET", "/api/admin/users", None), ("POST", "/api/admin/users", {"username": "eve", "password": NEW_PASSWORD}),
             ("PATCH", "/api/admin/users/viewer", {"role": "admin"}),
             ("POST", "/api/admin/users/admin/password", {"password": NEW_PASSWORD}),
             ("DELETE", "/api/admin/users/admin", None), ("GET", "/api/admin/notifications", None),
             ("POST", "/api/admin/gateways", {"id": "gw-x", "stations": ["ST-XH"], "key_id": "x1", "public_key_pem": key}),
             ("POST", "/api/admin/gateways/gw-hz/rotate", {"key_id": "x1", "public_key_pem": key}),
             ("POST", "/api/admin/gateways/gw-hz/revoke", {"key_id": "k1"})]
    for method, path, body in calls:
        status, answer, _ = client.call(method, path, body)
        assert status == 403 and f"the {role} role may not do this" in answer["detail"], (method, path)
    assert Client(api).call("GET", "/api/admin/users")[0] == 401
    assert set(users_on_disk(tmp_path)) == {*ROLES, "hz-admin", "hz-viewer"}
    assert "x1" not in (tmp_path / "gateways.yaml").read_text()


def test_creating_a_user_hashes_the_password_writes_the_file_and_audits(api, store, tmp_path):
    admin = bearer(api, "admin")
    status, body, _ = admin.call("POST", "/api/admin/users", {"username": "wang", "password": NEW_PASSWORD,
                                                              "role": "operator", "regions": ["zj-nb"]})
    assert (status, body) == (201, {"username": "wang", "role": "operator", "regions": ["zj-nb"]})
    saved = users_on_disk(tmp_path)["wang"]
    assert saved["password_hash"].startswith("$argon2id$") and NEW_PASSWORD not in (tmp_path / "users.yaml").read_text()
    assert (tmp_path / "users.yaml.bak").exists()
    status, me = Client(api).login("wang", NEW_PASSWORD)
    assert status == 200 and (me["role"], me["regions"]) == ("operator", ["zj-nb"])
    entry = last_audit(store, "/api/admin/users")
    assert (entry.actor, entry.status, entry.summary) == ("admin", 201, "create user wang (operator); regions zj-nb")
    assert NEW_PASSWORD not in json.dumps([e.public() for e in audit.recent(store, 50)])
    assert audit.verify(store).ok


@pytest.mark.parametrize("body, status, problem", [
    ({"username": "admin", "password": NEW_PASSWORD}, 409, "user 'admin' exists"),
    ({"username": "li", "password": NEW_PASSWORD, "regions": ["mars"]}, 422, "not regions of the registry"),
    ({"username": "li", "password": "short"}, 422, "at least 10 characters"),
    ({"username": "li si", "password": NEW_PASSWORD}, 422, "pattern"),
    ({"username": "li", "password": NEW_PASSWORD, "role": "root"}, 422, "admin"),
])
def test_a_bad_new_user_is_refused_and_nothing_written(api, tmp_path, store, body, status, problem):
    before = (tmp_path / "users.yaml").read_text()
    got, answer, _ = bearer(api, "admin").call("POST", "/api/admin/users", body)
    assert got == status and problem in json.dumps(answer, ensure_ascii=False)
    assert (tmp_path / "users.yaml").read_text() == before
    assert last_audit(store, "/api/admin/users").status == status


def test_changing_a_role_ends_the_users_sessions(api, store, tmp_path):
    viewer = bearer(api, "viewer")
    assert viewer.call("GET", "/api/me")[0] == 200
    status, body, _ = bearer(api, "admin").call("PATCH", "/api/admin/users/viewer", {"role": "operator"})
    assert (status, body["role"]) == (200, "operator")
    assert viewer.call("GET", "/api/me")[0] == 401  # the old session is gone
    assert bearer(api, "viewer").call("GET", "/api/me")[1]["role"] == "operator"
    assert users_on_disk(tmp_path)["viewer"]["role"] == "operator"
    assert last_audit(store, "/api/admin/users/viewer").summary == "update user viewer (role viewer → operator)"


def test_a_reset_password_replaces_the_old_one_and_ends_sessions(api, store):
    crew = bearer(api, "crew")
    status, body, _ = bearer(api, "admin").call("POST", "/api/admin/users/crew/password", {"password": NEW_PASSWORD})
    assert (status, body["sessions_ended"]) == (200, 1)
    assert crew.call("GET", "/api/me")[0] == 401
    assert Client(api).login("crew")[0] == 401 and Client(api).login("crew", NEW_PASSWORD)[0] == 200
    assert last_audit(store, "/password").summary == "reset password of user crew"


def test_deleting_a_user_ends_their_sessions_but_never_yourself(api, store, tmp_path):
    operator, admin = bearer(api, "operator"), bearer(api, "admin")
    assert admin.call("DELETE", "/api/admin/users/operator")[:2] == (200, {"deleted": "operator"})
    assert operator.call("GET", "/api/me")[0] == 401 and Client(api).login("operator")[0] == 401
    assert "operator" not in users_on_disk(tmp_path)
    status, body, _ = admin.call("DELETE", "/api/admin/users/admin")
    assert status == 409 and "yourself" in body["detail"]
    assert admin.call("PATCH", "/api/admin/users/admin", {"role": "viewer"})[0] == 409
    assert admin.call("DELETE", "/api/admin/users/nobody")[0] == 404
    assert last_audit(store, "/api/admin/users/").summary == "delete user nobody"


def test_the_last_admin_with_every_region_stays_one(api, tmp_path, hashes):
    """Checked against the file as it is now: here an operator removed 'admin' from it by hand."""
    admin = bearer(api, "admin")
    assert admin.call("POST", "/api/admin/users", {"username": "boss", "password": NEW_PASSWORD, "role": "admin"})[0] == 201
    users = [u for u in yaml.safe_load((tmp_path / "users.yaml").read_text())["users"] if u["username"] != "admin"]
    (tmp_path / "users.yaml").write_text(yaml.safe_dump({"users": users}))
    status, body, _ = admin.call("PATCH", "/api/admin/users/boss", {"regions": ["zj-hz"]})
    assert status == 409 and "no admin with every region" in body["detail"]
    assert admin.call("DELETE", "/api/admin/users/boss")[0] == 409
    assert users_on_disk(tmp_path)["boss"]["role"] == "admin"


def test_cookie_sessions_need_the_csrf_header(api, tmp_path):
    client = Client(api)
    client.login("admin")
    body = {"username": "zhao", "password": NEW_PASSWORD}
    assert client.call("POST", "/api/admin/users", body)[0] == 403
    assert client.call("POST", "/api/admin/users", body, {"X-CSRF-Token": "forged"})[0] == 403
    assert client.call("POST", "/api/admin/gateways/gw-hz/revoke", {"key_id": "k1"})[0] == 403
    assert "zhao" not in users_on_disk(tmp_path) and "revoked" not in (tmp_path / "gateways.yaml").read_text()
    assert client.call("POST", "/api/admin/users", body, {"X-CSRF-Token": client.csrf})[0] == 201


def test_a_scoped_admin_manages_only_users_within_their_regions(api, tmp_path):
    hz = bearer(api, "hz-admin")
    assert [u["username"] for u in hz.call("GET", "/api/admin/users")[1]["users"]] == ["hz-admin", "hz-viewer"]
    for regions in ([], ["zj-nb"], ["zj"], ["zj-hz", "zj-nb-hs"]):
        status, body, _ = hz.call("POST", "/api/admin/users", {"username": "x", "password": NEW_PASSWORD, "regions": regions})
        assert status == 403 and "within your own" in body["detail"], regions
    assert hz.call("POST", "/api/admin/users", {"username": "xh-ops", "password": NEW_PASSWORD, "role": "operator",
                                                "regions": ["zj-hz-xh"]})[0] == 201
    assert hz.call("PATCH", "/api/admin/users/hz-viewer", {"regions": ["zj-nb"]})[0] == 403
    for method, path, body in (("PATCH", "/api/admin/users/viewer", {"role": "admin"}),
                               ("POST", "/api/admin/users/admin/password", {"password": NEW_PASSWORD}),
                               ("DELETE", "/api/admin/users/operator", None)):
        assert hz.call(method, path, body)[0] == 404, path
    assert hz.call("DELETE", "/api/admin/users/hz-viewer")[0] == 200
    assert set(users_on_disk(tmp_path)) == {*ROLES, "hz-admin", "xh-ops"}


def test_users_in_the_cloud_config_are_listed_but_not_edited(store, hashes):
    from watertel.cloud.users import UserEntry

    app = create_app(store, ApiConfig(users=[UserEntry(username="admin", password_hash=hashes["argon2"], role="admin")]))
    base, server, thread = serve(app)
    try:
        admin = bearer(base, "admin")
        assert admin.call("GET", "/api/admin/users")[1] == {"editable": False, "users": [
            {"username": "admin", "role": "admin", "regions": []}]}
        status, body, _ = admin.call("POST", "/api/admin/users", {"username": "li", "password": NEW_PASSWORD})
        assert status == 409 and "set api.users_file" in body["detail"]
        status, body, _ = admin.call("POST", "/api/admin/gateways/gw-1/revoke", {"key_id": "k1"})
        assert status == 409 and "set gateways_file" in body["detail"]
    finally:
        server.should_exit = True
        thread.join(10)


# --- notification routes ---------------------------------------------------------------------------


def test_notification_routes_are_read_without_secrets(api):
    status, body, _ = bearer(api, "admin").call("GET", "/api/admin/notifications")
    assert status == 200 and body["editable"] is False
    assert body["contacts"] == [{"id": "hz-duty", "role": "operator", "email": None, "phone": None, "webhook": None,
                                 "robot": "hz-group", "quiet_hours": None}]
    assert body["routes"] == [{"regions": ["zj-hz"], "severities": ["red"], "level": 0, "contacts": [],
                               "roles": ["operator"], "reaches": ["hz-duty"], "quiet_hours": None}]
    text = json.dumps(body)
    assert "TOPSECRET" not in text and "robot-token" not in text and "qyapi" not in text


# --- gateway keys ----------------------------------------------------------------------------------


def test_register_rotate_and_revoke_write_the_file_and_the_listing(api, store, tmp_path):
    admin, g1 = bearer(api, "admin"), pem(tmp_path, "g1")
    status, body, _ = admin.call("POST", "/api/admin/gateways", {"id": "gw-new", "stations": ["ST-BJ"], "key_id": "g1",
                                                                 "public_key_pem": g1})
    assert status == 201 and body["keys"] == [{"key_id": "g1", "state": "current", "valid_until": None}]
    assert (tmp_path / "gateway-keys" / "gw-new" / "g1.pub.pem").read_text() == g1.strip() + "\n"
    until = "2030-01-01T00:00:00+08:00"
    status, body, _ = admin.call("POST", "/api/admin/gateways/gw-hz/rotate", {"key_id": "k3", "old_valid_until": until,
                                                                             "public_key_pem": pem(tmp_path, "k3")})
    assert status == 200 and [(k["key_id"], k["state"]) for k in body["keys"]] == [
        ("k3", "current"), ("k1", "previous"), ("k2", "previous")]
    status, body, _ = admin.call("POST", "/api/admin/gateways/gw-hz/revoke", {"key_id": "k1"})
    assert status == 200 and [(k["key_id"], k["state"]) for k in body["keys"]] == [
        ("k3", "current"), ("k2", "previous"), ("k1", "revoked")]
    listed = {g["id"]: g for g in admin.call("GET", "/api/registry/gateways")[1]}
    assert listed["gw-hz"]["keys"] == body["keys"] and listed["gw-new"]["stations"] == ["ST-BJ"]
    on_disk = {g.id: g for g in load_gateways_file(tmp_path / "gateways.yaml")}
    assert on_disk["gw-hz"].key_id == "k3" and on_disk["gw-hz"].revoked_keys == ["k1"]
    assert on_disk["gw-hz"].previous_keys[0].valid_until == dt.datetime.fromisoformat(until)
    summaries = [e.summary for e in audit.recent(store, 50) if "/api/admin/gateways" in e.path]
    assert summaries == ["revoke gateway gw-hz key k1",
                         "rotate gateway gw-hz key to k3; k2 valid until 2030-01-01 00:00:00+08:00",
                         "register gateway gw-new key g1 (stations ST-BJ)"]
    assert "BEGIN PUBLIC KEY" not in json.dumps([e.public() for e in audit.recent(store, 50)])


@pytest.mark.parametrize("path, body, status, problem", [
    ("", {"id": "gw-x", "stations": ["ST-XH"], "key_id": "x1", "public_key_pem": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"},
     422, "not an SM2 public key PEM"),
    ("", {"id": "gw-x", "stations": ["ST-NOPE"], "key_id": "x1", "public_key_pem": "PEM"}, 422, "not in the station registry"),
    ("", {"id": "gw-hz", "stations": ["ST-XH"], "key_id": "x1", "public_key_pem": "PEM"}, 409, "exists"),
    ("/gw-hz/rotate", {"key_id": "k1", "public_key_pem": "PEM"}, 409, "already used"),
    ("/gw-hz/rotate", {"key_id": "k9", "public_key_pem": "PEM", "old_valid_until": "2030-01-01T00:00:00"}, 422, "timezone"),
    ("/gw-zz/rotate", {"key_id": "k9", "public_key_pem": "PEM"}, 404, "no gateway"),
    ("/gw-hz/revoke", {"key_id": "k2"}, 409, "current key"),
    ("/gw-hz/revoke", {"key_id": "k7"}, 404, "no key"),
])
def test_bad_key_changes_are_refused_and_nothing_written(api, tmp_path, path, body, status, problem):
    body = {**body, **({"public_key_pem": pem(tmp_path, "x")} if body.get("public_key_pem") == "PEM" else {})}
    before = (tmp_path / "gateways.yaml").read_text()
    got, answer, _ = bearer(api, "admin").call("POST", f"/api/admin/gateways{path}", body)
    assert got == status and problem in json.dumps(answer), answer
    assert (tmp_path / "gateways.yaml").read_text() == before


def test_a_scoped_admin_changes_only_gateways_within_their_regions(api, tmp_path):
    hz = bearer(api, "hz-admin")
    assert hz.call("POST", "/api/admin/gateways/gw-nb/rotate", {"key_id": "n2", "public_key_pem": pem(tmp_path, "n2")})[0] == 403
    assert hz.call("POST", "/api/admin/gateways", {"id": "gw-x", "stations": ["ST-XH", "ST-NB"], "key_id": "x1",
                                                   "public_key_pem": pem(tmp_path, "x1")})[0] == 403
    assert hz.call("POST", "/api/admin/gateways/gw-hz/revoke", {"key_id": "k1"})[0] == 200


def test_a_worker_applies_a_revocation_and_a_registration_without_restart(api, store, tmp_path):
    """The building blocks of the ingest process: its handler's registry, reloaded by the watcher."""
    handler = Handler(store, GatewayKeys(load_gateways_file(tmp_path / "gateways.yaml")), AlarmEngine(store))
    watcher = GatewaysWatcher(handler.gateway_keys, tmp_path / "gateways.yaml")
    k1 = SM2PrivateKey.from_pem((tmp_path / "keys" / "k1.key.pem").read_text())
    now = int(dt.datetime.now().timestamp() * 1000)

    def send(key, gateway: str, key_id: str, station: str, seq: int) -> str:
        data, _ = seal([Reading(station, "flow", now, 1.0, "m3/h")], key, gateway, key_id, ChainState(seq), now)
        return handler.handle(f"watertel/{gateway}/up", data)

    assert send(k1, "gw-hz", "k1", "ST-XH", 1) == "stored"
    admin = bearer(api, "admin")
    assert admin.call("POST", "/api/admin/gateways/gw-hz/revoke", {"key_id": "k1"})[0] == 200
    assert admin.call("POST", "/api/admin/gateways", {"id": "gw-new", "stations": ["ST-BJ"], "key_id": "g1",
                                                      "public_key_pem": pem(tmp_path, "g1")})[0] == 201
    assert watcher.check() is True
    assert send(k1, "gw-hz", "k1", "ST-XH", 2) == "key_revoked"
    g1 = SM2PrivateKey.from_pem((tmp_path / "new-keys" / "g1.key.pem").read_text())
    assert send(g1, "gw-new", "g1", "ST-BJ", 1) == "stored"
    assert watcher.check() is False  # unchanged: not read again

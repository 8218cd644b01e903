"""Every error answer carries a machine-readable ``code`` and its ``params`` beside ``detail``
(cloud/api/errors.py), so the console can say it in its user's language: refusals by role, CSRF
and region, unknown things, states that forbid a step, checks of the body, FastAPI's own errors
(``http.<status>``, ``request.invalid``), and parts the configuration does not enable
(``feature.read_only`` / ``feature.off`` naming the setting), over real HTTP."""

from __future__ import annotations

import pytest

from watertel.cloud.api.app import create_app
from watertel.cloud.api.auth import hash_password
from watertel.cloud.config import ApiConfig
from watertel.cloud.users import UserEntry

from tests.support.api import PASSWORD, Client, bearer, post, serve, write_files

T0 = 1_700_000_000_000


@pytest.fixture
def api(store, hashes, tmp_path):
    """Users, registry and gateways from files (as test_api_admin.py); an alarm in Ningbo, one cleared in Hangzhou."""
    write_files(tmp_path, hashes["argon2"])
    store.raise_alarm("ST-NB", "*", "data_stopped", "orange", "no data", T0, code="data_stopped.never",
                      params={"start_ms": T0, "interval_s": 300})
    store.raise_alarm("ST-XH", "flow", "spike", "orange", "flow 900 m3/h above max_flow 800", T0)
    store.clear_alarm("ST-XH", "flow", "spike", T0 + 1)
    app = create_app(store, ApiConfig(users_file=tmp_path / "users.yaml", login_max_failures=2),
                     registry_file=tmp_path / "registry.yaml", gateways_file=tmp_path / "gateways.yaml")
    base, server, thread = serve(app)
    yield base
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def bare(store, password_hash):
    """The API as `watertel demo` had it: users in the config, no registry, gateways or notifications files."""
    users = [UserEntry(username="admin", password_hash=password_hash, role="admin")]
    base, server, thread = serve(create_app(store, ApiConfig(users=users)))
    yield base
    server.should_exit = True
    thread.join(10)


def alarm_id(store, station: str) -> int:
    return next(a["id"] for a in store.alarms() if a["station"] == station)


def refused(answer, status: int, code: str, **params):
    got_status, body, _ = answer
    assert (got_status, body["code"]) == (status, code), body
    assert isinstance(body["detail"], (str, list)) and body["detail"], "the sentence stays for API clients"
    for name, value in params.items():
        assert body["params"][name] == value, body
    return body


def test_sessions_roles_and_csrf_are_refused_with_their_codes(api):
    refused(Client(api).call("GET", "/api/latest"), 401, "auth.required")
    client = Client(api)
    status, body = client.login("admin", "not the password")
    assert (status, body["code"]) == (401, "auth.failed")
    client.login("admin", "not the password")
    status, body, headers = client.call("POST", "/api/login", {"username": "admin", "password": PASSWORD})
    assert (status, body["code"]) == (429, "auth.too_many") and body["params"]["wait_s"] == int(headers["Retry-After"])
    viewer = bearer(api, "viewer")
    refused(viewer.call("POST", "/api/alarms/1/ack", {}), 403, "auth.role", role="viewer", roles=["admin", "operator"])
    operator = Client(api)
    assert operator.login("operator")[0] == 200
    refused(operator.call("POST", "/api/alarms/1/ack", {}), 403, "auth.csrf")  # a cookie session without its header


def test_out_of_region_users_get_codes_that_name_what_is_not_theirs(api, store):
    hz = bearer(api, "hz-viewer")  # regions: zj-hz-xh
    nb = alarm_id(store, "ST-NB")
    refused(hz.call("GET", f"/api/alarms/{nb}"), 404, "alarm.unknown", id=nb)  # as if it did not exist
    refused(hz.call("GET", "/api/series?station=ST-NB&point=total"), 403, "station.outside", station="ST-NB")
    hz_admin = bearer(api, "hz-admin")  # regions: zj-hz
    refused(hz_admin.call("POST", "/api/admin/users", {"username": "nb-op", "password": "a long password",
                                                       "role": "operator", "regions": ["zj-nb"]}),
            403, "regions.outside", regions=["zj-hz"])
    refused(hz_admin.call("PATCH", "/api/admin/users/operator", {"role": "viewer"}), 404, "user.unknown", name="operator")


def test_states_checks_and_unknown_things_have_codes_with_their_values(api, store):
    operator, admin = bearer(api, "operator"), bearer(api, "admin")
    cleared = alarm_id(store, "ST-XH")
    refused(operator.call("POST", f"/api/alarms/{cleared}/ack", {}), 409, "alarm.state",
            id=cleared, state="cleared", action="acknowledge")
    refused(operator.call("POST", f"/api/alarms/{cleared}/assign", {"assignee": "nobody"}), 422, "assignee.role",
            name="nobody", roles=["admin", "crew", "operator"])
    refused(operator.call("GET", "/api/workorders/12345"), 404, "work_order.unknown", id=12345)
    refused(admin.call("POST", "/api/admin/users", {"username": "viewer", "password": "a long password"}),
            409, "user.exists", name="viewer")
    refused(admin.call("POST", "/api/admin/users", {"username": "x", "password": "a long password",
                                                    "regions": ["nowhere"]}), 422, "regions.unknown", regions=["nowhere"])
    refused(admin.call("DELETE", "/api/admin/users/admin"), 409, "user.self_delete")
    refused(admin.call("POST", "/api/admin/gateways/gw-hz/revoke", {"key_id": "k9"}), 404, "key.unknown",
            gateway="gw-hz", key="k9")
    refused(admin.call("GET", "/api/registry/stations/ST-NOPE"), 404, "station.unknown", station="ST-NOPE")
    refused(operator.call("GET", "/api/series?station=ST-XH&point=flow&from=10&to=5"), 422, "range.order",
            from_ms=10, to_ms=5)


def test_fastapi_s_own_errors_get_generic_codes(api):
    admin = bearer(api, "admin")
    refused(admin.call("GET", "/api/no-such-thing"), 404, "http.404")
    body = refused(Client(api).call("POST", "/api/login", {"password": PASSWORD}), 422, "request.invalid")
    assert body["params"]["fields"] == ["username"] and body["detail"][0]["loc"] == ["body", "username"]
    refused(admin.call("GET", "/api/alarms?limit=0"), 422, "request.invalid", fields=["query.limit"])


def test_parts_the_configuration_leaves_off_say_which_setting_enables_them(bare):
    admin = Client(bare)
    assert admin.login("admin")[0] == 200
    refused(post(admin, "/api/admin/users", {"username": "crew1", "password": "a long password", "role": "crew"}) + ({},),
            409, "feature.read_only", feature="users", setting="api.users_file")
    refused(admin.call("GET", "/api/registry/stations"), 409, "feature.off", feature="registry", setting="registry_file")
    refused(post(admin, "/api/admin/gateways", {"id": "gw-1", "key_id": "k1", "public_key_pem": "x", "stations": ["ST-1"]}) + ({},),
            409, "feature.read_only", feature="gateways", setting="gateways_file")
    refused(admin.call("PUT", "/api/admin/notifications/routes", [], {"X-CSRF-Token": admin.csrf}), 409,
            "feature.read_only", feature="notifications", setting="notifications_file")
    status, body, _ = admin.call("GET", "/api/admin/users")
    assert status == 200 and body["editable"] is False, "reading still works: only the writes are off"


# --- GET /api/admin/features: what the admin page disables before anyone submits a form -----------


def test_features_say_what_the_configuration_enables_to_admins_only(api, bare):
    full = bearer(api, "admin").call("GET", "/api/admin/features")[1]
    assert {part: (f["enabled"], f["editable"], f["code"]) for part, f in full.items()} == {
        "users": (True, True, None), "registry": (True, True, None), "gateways": (True, True, None),
        "notifications": (True, False, "feature.read_only")}  # routes kept in the config here
    assert full["notifications"]["setting"] == "notifications_file" and full["users"]["setting"] == "api.users_file"
    scoped = bearer(api, "hz-admin").call("GET", "/api/admin/features")[1]  # an admin of Hangzhou only
    assert scoped["notifications"]["code"] == "notifications.scope" and scoped["users"]["editable"] is True
    refused(bearer(api, "operator").call("GET", "/api/admin/features"), 403, "auth.role", role="operator", roles=["admin"])
    refused(Client(api).call("GET", "/api/admin/features"), 401, "auth.required")

    admin = Client(bare)
    assert admin.login("admin")[0] == 200
    none = admin.call("GET", "/api/admin/features")[1]
    assert {part: (f["enabled"], f["editable"], f["code"], f["setting"]) for part, f in none.items()} == {
        "users": (True, False, "feature.read_only", "api.users_file"),
        "registry": (False, False, "feature.off", "registry_file"),
        "gateways": (True, False, "feature.read_only", "gateways_file"),
        "notifications": (True, False, "feature.read_only", "notifications_file")}

"""Authentication, roles, regions, CSRF and the login rate limit, over real HTTP: a real uvicorn
serving the app on a free loopback port, a real SQLite store, and urllib as the client.

This file holds the tests that need a real server or run a command; the others are in
tests/unit/cloud/api/test_api_auth.py."""

from __future__ import annotations

import time

import pytest

from watertel.cloud import audit
from watertel.cloud.api.app import create_app
from watertel.cloud.api.deps import Writer
from watertel.cloud.config import ApiConfig
from watertel.cloud.users import UserEntry

from tests.support.api import PASSWORD, ROLES, T0, Client, registry, serve


@pytest.fixture
def api(store, hashes):
    """A running API with one user per role, a region-scoped viewer and a legacy-hash user."""
    users = [UserEntry(username=role, password_hash=hashes["argon2"], role=role) for role in ROLES]
    users += [UserEntry(username="hz-viewer", password_hash=hashes["argon2"], role="viewer", regions=["zj-hz"]),
              UserEntry(username="xh-operator", password_hash=hashes["argon2"], role="operator", regions=["zj-hz-xh"]),
              UserEntry(username="old", password_hash=hashes["scrypt"])]  # configured before roles: a viewer
    cfg = ApiConfig(users=users, login_max_failures=5, login_window_s=300,
                    login_max_checks=16)  # parallel guesses all checked: the failure limit alone decides
    base, server, thread = serve(create_app(store, cfg, registry=registry()))
    yield base
    server.should_exit = True
    thread.join(10)


def test_argon2_is_the_new_hash_and_legacy_scrypt_hashes_still_log_in(api, hashes):
    assert hashes["argon2"].startswith("$argon2id$")
    status, body = Client(api).login("admin")
    assert status == 200 and body["role"] == "admin" and body["csrf_token"]
    status, body = Client(api).login("old")  # scrypt$ hash from a config made before argon2
    assert status == 200 and body["user"] == "old" and body["role"] == "viewer"
    assert Client(api).login("old", "wrong")[0] == 401
    assert Client(api).login("admin", "wrong")[0] == 401
    assert Client(api).login("nobody")[0] == 401


def test_the_cookie_is_httponly_and_strict_and_the_csrf_cookie_readable(api):
    client = Client(api)
    _, _, headers = client.call("POST", "/api/login", {"username": "viewer", "password": PASSWORD})
    cookies = headers.get_all("set-cookie")
    session = next(c for c in cookies if c.startswith("watertel_session="))
    csrf = next(c for c in cookies if c.startswith("watertel_csrf="))
    assert "HttpOnly" in session and "SameSite=strict" in session and "Max-Age=43200" in session
    assert "HttpOnly" not in csrf and "SameSite=strict" in csrf


def test_every_role_reads_but_only_operators_and_admins_write(api):
    for role in ROLES:
        client = Client(api)
        assert client.login(role)[0] == 200
        status, me, _ = client.call("GET", "/api/me")
        assert status == 200 and me == {"user": role, "role": role, "regions": [], "via": "cookie"}
        for path in ("/api/latest", "/api/alarms", "/api/summary"):
            assert client.call("GET", path)[0] == 200, (role, path)
        assert client.call("GET", "/api/audit")[0] == (200 if role == "admin" else 403), role


def test_require_refuses_roles_not_named_with_403_and_no_session_with_401(store, hashes):
    """The write endpoints to come (alarms, work orders, …) use `require`; try it on a probe route."""
    users = [UserEntry(username=role, password_hash=hashes["argon2"], role=role) for role in ROLES]
    app = create_app(store, ApiConfig(users=users))

    @app.post("/api/probe")
    def probe(user: Writer) -> dict:
        return {"by": user.username}

    base, server, thread = serve(app)
    try:
        for role in ROLES:
            client = Client(base)
            client.login(role)
            status, body, _ = client.call("POST", "/api/probe", {}, {"X-CSRF-Token": client.csrf})
            if role in ("admin", "operator"):
                assert (status, body) == (200, {"by": role})
            else:
                assert status == 403 and f"the {role} role may not do this" in body["detail"], role
        assert Client(base).call("POST", "/api/probe", {})[0] == 401
        rows = audit.recent(store)
        probes = [(e.actor, e.status) for e in reversed(rows) if e.path == "/api/probe"]
        assert probes == [("admin", 200), ("operator", 200), ("crew", 403), ("viewer", 403), ("", 401)]
    finally:
        server.should_exit = True
        thread.join(10)


def test_cookie_sessions_need_the_csrf_header_for_unsafe_methods(api):
    client = Client(api)
    client.login("operator")
    assert client.call("POST", "/api/logout")[0] == 403  # no header
    assert client.call("POST", "/api/logout", headers={"X-CSRF-Token": "forged"})[0] == 403
    assert client.call("POST", "/api/logout", headers={"X-CSRF-Token": client.cookie("watertel_csrf")})[0] == 200
    assert client.call("GET", "/api/me")[0] == 401  # the session is closed on the server


def test_bearer_tokens_work_without_csrf_and_only_as_bearer(api):
    client = Client(api)
    status, body = client.login("operator", session="bearer")
    assert status == 200 and body["token_type"] == "bearer" and body["csrf_token"] is None
    assert client.cookie("watertel_session") is None  # no cookie for a bearer session
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    status, me, _ = Client(api).call("GET", "/api/me", headers=auth)
    assert status == 200 and me["via"] == "bearer"
    # a bearer token is not a cookie session (and so cannot skip CSRF or ride along in a browser)
    assert Client(api).call("GET", "/api/me", headers={"Cookie": f"watertel_session={body['access_token']}"})[0] == 401
    assert Client(api).call("GET", "/api/me", headers={"Authorization": "Bearer forged"})[0] == 401
    assert Client(api).call("POST", "/api/logout", headers=auth)[0] == 200  # no CSRF header needed
    assert Client(api).call("GET", "/api/me", headers=auth)[0] == 401


def test_five_failures_lock_the_username_from_that_address_with_retry_after(api):
    client = Client(api)
    for _ in range(5):
        assert client.login("crew", "wrong")[0] == 401
    status, body, headers = client.call("POST", "/api/login", {"username": "crew", "password": PASSWORD})
    assert status == 429 and 0 < int(headers["Retry-After"]) <= 300  # even the right password waits
    assert client.login("viewer")[0] == 200  # other usernames from the same address are not locked


def test_parallel_guesses_do_not_slip_past_the_limit(api):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(12) as pool:
        statuses = sorted(pool.map(lambda _: Client(api).login("crew", "wrong")[0], range(12)))
    assert statuses == [401] * 5 + [429] * 7


def test_a_successful_login_clears_the_failures(api):
    client = Client(api)
    for _ in range(4):
        assert client.login("crew", "wrong")[0] == 401
    assert client.login("crew")[0] == 200
    for _ in range(4):
        assert client.login("crew", "wrong")[0] == 401
    assert client.login("crew")[0] == 200


def test_region_scoped_users_see_only_their_stations(api, store):
    from watertel.crypto import SM2PrivateKey
    from watertel.envelope import ChainState, open_envelope, seal
    from watertel.readings import Quality, Reading

    key = SM2PrivateKey.generate()
    data, _ = seal([Reading(s, "flow", T0, 1.0, "m3/h", Quality.OK) for s in ("ST-XH", "ST-BJ", "ST-NB", "ST-X")],
                   key, "gw-1", "k1", ChainState(), T0)
    store.accept(open_envelope(data, lambda g, k: key.public))
    for s in ("ST-XH", "ST-NB"):
        store.raise_alarm(s, "flow", "leak", "red", "leak", T0)
    seen = {}
    for user in ("viewer", "hz-viewer", "xh-operator"):
        client = Client(api)
        client.login(user)
        seen[user] = ([r["station"] for r in client.call("GET", "/api/latest")[1]],
                      [a["station"] for a in client.call("GET", "/api/alarms")[1]])
    assert seen["viewer"] == (["ST-BJ", "ST-NB", "ST-X", "ST-XH"], ["ST-NB", "ST-XH"])
    assert seen["hz-viewer"] == (["ST-BJ", "ST-XH"], ["ST-XH"])  # a city: its counties; unknown ST-X hidden
    assert seen["xh-operator"] == (["ST-XH"], ["ST-XH"])


def test_sessions_expire(store, hashes):
    app = create_app(store, ApiConfig(users=[UserEntry(username="v", password_hash=hashes["argon2"])],
                                      session_hours=1 / 3600))  # one second
    base, server, thread = serve(app)
    try:
        client = Client(base)
        assert client.login("v")[0] == 200 and client.call("GET", "/api/me")[0] == 200
        time.sleep(1.2)
        assert client.call("GET", "/api/me")[0] == 401
    finally:
        server.should_exit = True
        thread.join(10)

"""Authentication, roles, regions, CSRF and the login rate limit, over real HTTP: a real uvicorn
serving the app on a free loopback port, a real SQLite store, and urllib as the client."""

from __future__ import annotations

import hashlib
import http.cookiejar
import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn

from watertel.cloud import audit
from watertel.cloud.api.app import create_app
from watertel.cloud.api.auth import hash_password
from watertel.cloud.api.deps import Writer
from watertel.cloud.config import ApiConfig
from watertel.cloud.users import UserEntry
from watertel.cloud.registry import Registry, RegistryFile
from watertel.cloud.store.sqlite import SqliteStore
from watertel.ports import free_port, port_open

PASSWORD = "correct horse battery"
ROLES = ("admin", "operator", "crew", "viewer")
T0 = 1_700_000_000_000


def legacy_scrypt_hash(password: str) -> str:
    """A hash as `watertel cloud hash-password` printed it before argon2 (scrypt$n$salt$key)."""
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${2**14}${salt.hex()}${key.hex()}"


class Client:
    """One HTTP client with its own cookie jar; answers are (status, JSON or text, headers)."""

    def __init__(self, base: str) -> None:
        self.base, self.jar = base, http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.csrf = ""

    def call(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method, headers={
            **({"Content-Type": "application/json"} if data else {}), **(headers or {})})
        try:
            with self.opener.open(request, timeout=10) as response:
                status, raw, got = response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            status, raw, got = error.code, error.read(), error.headers
        try:
            return status, json.loads(raw), got
        except ValueError:
            return status, raw.decode(), got

    def login(self, username: str, password: str = PASSWORD, **extra) -> tuple[int, dict]:
        status, body, _ = self.call("POST", "/api/login", {"username": username, "password": password, **extra})
        if status == 200 and body.get("csrf_token"):
            self.csrf = body["csrf_token"]
        return status, body

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)


def registry() -> Registry:
    return Registry(RegistryFile.model_validate({
        "provinces": [{"id": "zj", "name": "浙江", "cities": [
            {"id": "zj-hz", "name": "杭州", "counties": [{"id": "zj-hz-xh", "name": "西湖"}, {"id": "zj-hz-bj", "name": "滨江"}]},
            {"id": "zj-nb", "name": "宁波", "counties": [{"id": "zj-nb-hs", "name": "海曙"}]}]}],
        "stations": [{"id": "ST-XH", "name": "西湖一号", "kind": "well", "region": "zj-hz-xh", "interval_minutes": 5,
                      "commissioned": "2024-01-01"},
                     {"id": "ST-BJ", "name": "滨江一号", "kind": "well", "region": "zj-hz-bj", "interval_minutes": 5,
                      "commissioned": "2024-01-01"},
                     {"id": "ST-NB", "name": "海曙一号", "kind": "well", "region": "zj-nb-hs", "interval_minutes": 5,
                      "commissioned": "2024-01-01"}],
    }))


@pytest.fixture(scope="module")
def hashes():
    """argon2 hashing costs ~0.2 s a password: once per module."""
    return {"argon2": hash_password(PASSWORD), "scrypt": legacy_scrypt_hash(PASSWORD)}


@pytest.fixture
def store(tmp_path):
    store = SqliteStore(tmp_path / "watertel.db")
    yield store
    store.close()


def serve(app) -> tuple[str, uvicorn.Server, threading.Thread]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not (server.started and port_open(port)):
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


@contextmanager
def served(app) -> Iterator[str]:
    """``app`` under uvicorn on a free loopback port (its base URL) until the block ends."""
    base, server, thread = serve(app)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def api(store, hashes):
    """A running API with one user per role, a region-scoped viewer and a legacy-hash user."""
    users = [UserEntry(username=role, password_hash=hashes["argon2"], role=role) for role in ROLES]
    users += [UserEntry(username="hz-viewer", password_hash=hashes["argon2"], role="viewer", regions=["zj-hz"]),
              UserEntry(username="xh-operator", password_hash=hashes["argon2"], role="operator", regions=["zj-hz-xh"]),
              UserEntry(username="old", password_hash=hashes["scrypt"])]  # configured before roles: a viewer
    cfg = ApiConfig(users=users, login_max_failures=5, login_window_s=300)
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


def test_user_config_roles_regions_and_hashes_are_checked_on_load(tmp_path, hashes):
    from watertel.cloud.config import load_cloud_config
    from watertel.config import ConfigError

    (tmp_path / "registry.yaml").write_text(
        "provinces:\n  - id: zj\n    name: 浙江\n    cities:\n      - id: zj-hz\n        name: 杭州\n"
        "        counties:\n          - {id: zj-hz-xh, name: 西湖}\nstations: []\n")

    def load(users: str, registry: bool = True):
        (tmp_path / "cloud.yaml").write_text("data_dir: d\n" + ("registry_file: registry.yaml\n" if registry else "")
                                             + "api:\n  users:\n" + users)
        return load_cloud_config(tmp_path / "cloud.yaml")

    cfg = load(f"    - {{username: a, password_hash: '{hashes['argon2']}', role: operator, regions: [zj-hz]}}\n"
               f"    - {{username: b, password_hash: '{hashes['scrypt']}'}}\n")
    assert [(u.role.value, u.regions) for u in cfg.api.users] == [("operator", ["zj-hz"]), ("viewer", [])]
    with pytest.raises(ConfigError, match="'zj-nb' is not a region in registry.yaml"):
        load(f"    - {{username: a, password_hash: '{hashes['argon2']}', regions: [zj-nb]}}\n")
    with pytest.raises(ConfigError, match="regions: needs registry_file"):
        load(f"    - {{username: a, password_hash: '{hashes['argon2']}', regions: [zj-hz]}}\n", registry=False)
    with pytest.raises(ConfigError, match="role"):
        load(f"    - {{username: a, password_hash: '{hashes['argon2']}', role: root}}\n")
    with pytest.raises(ConfigError, match="not a password hash"):
        load("    - {username: a, password_hash: 'hunter2'}\n")

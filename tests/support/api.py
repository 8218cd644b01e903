"""The API under test and its client: ``serve``/``served`` run an app under uvicorn on a free
loopback port; ``Client`` talks to it with urllib (cookies, CSRF header, bearer tokens); the
registry, users, gateways and notification files an API reads; readings stored as ingest would."""

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
import datetime as dt
from pathlib import Path
import http.client
import os

import uvicorn
import yaml

from watertel.cloud.registry import Registry, RegistryFile
from watertel.ports import free_port, port_open
from watertel.readings import Reading
from watertel.cloud.gateways import GatewayEntry
from watertel.keys import write_key_pair
from watertel.envelope import Envelope

PASSWORD = "correct horse battery"
ROLES = ("admin", "operator", "crew", "viewer")
T0 = 1_700_000_000_000
REGISTRY = """\
provinces:
  - id: zj
    name: 浙江
    cities:
      - id: zj-hz
        name: 杭州
        counties: [{id: zj-hz-xh, name: 西湖}, {id: zj-hz-bj, name: 滨江}]
      - id: zj-nb
        name: 宁波
        counties: [{id: zj-nb-hs, name: 海曙}]
stations:
  - {id: ST-XH, name: 西湖一号, kind: well, region: zj-hz-xh, interval_minutes: 5, points: [flow, total], commissioned: 2024-01-01}
  - {id: ST-BJ, name: 滨江一号, kind: well, region: zj-hz-bj, interval_minutes: 5, commissioned: 2024-01-01}
  - {id: ST-NB, name: 海曙一号, kind: well, region: zj-nb-hs, interval_minutes: 5, points: [total], commissioned: 2024-01-01}
permits:
  - {id: P-NB, holder: 宁波某厂, permitted_m3: 50000, meters: [ST-NB]}
"""
HOOK_SECRET = "TOPSECRET-HOOK-KEY"
MIN = 60_000
SEQ = iter(range(10**9, 2 * 10**9))  # apart from tests/support/quality.py put's
TZ8 = dt.timezone(dt.timedelta(hours=8))
NOTIFICATIONS = {"robots": [{"id": "hz-group", "kind": "wecom", "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send",
                             "token_file": "robot-token"}],
                 "contacts": [{"id": "hz-duty", "robot": "hz-group", "role": "operator"}],
                 "routes": [{"regions": ["zj-hz"], "severities": ["red"], "roles": ["operator"]}]}


def serve(app) -> tuple[str, uvicorn.Server, threading.Thread]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           proxy_headers=False))  # as `cloud api` without forwarded_allow_ips
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


def login(base: str, name: str) -> Client:
    client = Client(base)
    assert client.login(name)[0] == 200
    return client


def post(client: Client, path: str, body: dict | None = None) -> tuple[int, dict]:
    status, answer, _ = client.call("POST", path, body, {"X-CSRF-Token": client.csrf})
    return status, answer


def bearer(api: str, username: str) -> Client:
    """A client whose calls carry a bearer token (no CSRF needed)."""
    client = Client(api)
    status, body = client.login(username, session="bearer")
    assert status == 200, body
    original = client.call
    client.call = lambda method, path, body=None, headers=None: original(
        method, path, body, {"Authorization": f"Bearer {body_token}", **(headers or {})})
    body_token = body["access_token"]
    return client


def legacy_scrypt_hash(password: str) -> str:
    """A hash as `watertel cloud hash-password` printed it before argon2 (scrypt$n$salt$key)."""
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${2**14}${salt.hex()}${key.hex()}"


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


def gateways(tmp_path: Path) -> list[GatewayEntry]:
    return [GatewayEntry(id="gw-hz", key_id="k3", public_key=tmp_path / "k3.pub.pem", stations=["ST-XH", "ST-BJ"],
                         previous_keys=[{"key_id": "k2", "public_key": tmp_path / "k2.pub.pem",
                                         "valid_until": dt.datetime(2999, 1, 1, tzinfo=TZ8)},
                                        {"key_id": "k1", "public_key": tmp_path / "k1.pub.pem",
                                         "valid_until": dt.datetime(2020, 1, 1, tzinfo=TZ8)}],
                         revoked_keys=["k0"],
                         payload_key={"key_id": "sm4-2", "key_file": tmp_path / "sm4-2.key"}, retired_payload_keys=["sm4-1"]),
            GatewayEntry(id="gw-nb", key_id="n1", public_key=tmp_path / "n1.pub.pem", stations=["ST-NB"])]


def write_files(tmp_path, argon2: str) -> None:
    (tmp_path / "registry.yaml").write_text(REGISTRY, encoding="utf-8")
    users = [{"username": r, "password_hash": argon2, "role": r} for r in ROLES]
    users += [{"username": "hz-admin", "password_hash": argon2, "role": "admin", "regions": ["zj-hz"]},
              {"username": "hz-viewer", "password_hash": argon2, "role": "viewer", "regions": ["zj-hz-xh"]}]
    (tmp_path / "users.yaml").write_text(yaml.safe_dump({"users": users}), encoding="utf-8")
    for key_id in ("k1", "k2", "n1"):
        write_key_pair(tmp_path / "keys", key_id)
    (tmp_path / "gateways.yaml").write_text(yaml.safe_dump({"gateways": [
        {"id": "gw-hz", "key_id": "k2", "public_key": "keys/k2.pub.pem", "stations": ["ST-XH", "ST-BJ"],
         "previous_keys": [{"key_id": "k1", "public_key": "keys/k1.pub.pem", "valid_until": "2999-01-01T00:00:00+08:00"}]},
        {"id": "gw-nb", "key_id": "n1", "public_key": "keys/n1.pub.pem", "stations": ["ST-NB"]}]}), encoding="utf-8")
    (tmp_path / "robot-token").write_text("TOPSECRET-ROBOT-TOKEN", encoding="utf-8")


def notifications_yaml(port: int) -> dict:
    return {"notifications": {
        "every_s": 0.05,
        "webhooks": [{"id": "desk-hook", "url": f"http://127.0.0.1:{port}/hook/private-path", "secret_file": "hook.secret"}],
        "robots": [{"id": "hz-group", "kind": "wecom", "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send",
                    "token_file": "robot-token"}],
        "contacts": [{"id": "hz-duty", "robot": "hz-group", "role": "operator"},
                     {"id": "desk", "webhook": "desk-hook"}],
        "routes": [{"regions": ["zj-hz"], "severities": ["red"], "roles": ["operator"]}]}}


def put(store, *readings: Reading, received_ms: int | None = None) -> None:
    """Store readings as one envelope through the back-end's own insert (as ingest would)."""
    env = Envelope("gw-1", "k1", next(SEQ), b"\0" * 32, received_ms or int(time.time() * 1000), readings, os.urandom(32))
    with store._write():
        store._insert(env, env.created_ms)

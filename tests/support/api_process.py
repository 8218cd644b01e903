"""`watertel cloud api` as its own process, for attacks that measure it (its memory, its answers
to many client addresses): a users file with one user per role, the ``api:`` settings a test
chooses, a free loopback port. ``From`` talks to it from a chosen loopback source address
(127.0.0.0/8 is all local on Linux), so tests have real, distinct client addresses."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from watertel.ports import free_port, port_open
from watertel.shell.processes import Child

from tests.support.api import PASSWORD, ROLES


@dataclass
class ApiProcess:
    base: str
    port: int
    child: Child

    @property
    def pid(self) -> int:
        return self.child.proc.pid

    def rss_kb(self) -> int:
        """The process's resident memory now (VmRSS of /proc/<pid>/status), in kB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")


@contextmanager
def api_process(tmp_path: Path, password_hash: str, top: dict | None = None, **api: object) -> Iterator[ApiProcess]:
    """The API with a users file (one user per role, ``PASSWORD``), ``api`` settings and ``top``
    (other sections of cloud.yaml, e.g. ``registry_file``), until the block ends."""
    port = free_port()
    users = [{"username": role, "password_hash": password_hash, "role": role} for role in ROLES]
    (tmp_path / "users.yaml").write_text(yaml.safe_dump({"users": users}), encoding="utf-8")
    (tmp_path / "cloud.yaml").write_text(yaml.safe_dump({
        "data_dir": "data", **(top or {}), "api": {"port": port, "users_file": "users.yaml", **api}}), encoding="utf-8")
    child = Child.watertel("api", ["cloud", "api", "--config", str(tmp_path / "cloud.yaml")], tmp_path / "logs")
    try:
        deadline = time.monotonic() + 30
        while not port_open(port):
            assert child.alive() and time.monotonic() < deadline, child.log_tail()
            time.sleep(0.1)
        yield ApiProcess(f"http://127.0.0.1:{port}", port, child)
    finally:
        child.stop()


class From:
    """HTTP calls to the API from one loopback source address (e.g. 127.0.0.2)."""

    def __init__(self, api: ApiProcess, source: str) -> None:
        self.api, self.source, self.token = api, source, ""

    def call(self, method: str, path: str, body: object = None, headers: dict | None = None,
             timeout: float = 30) -> tuple[int, dict | str, http.client.HTTPMessage]:
        conn = http.client.HTTPConnection("127.0.0.1", self.api.port, timeout=timeout, source_address=(self.source, 0))
        try:
            data = None if body is None else json.dumps(body).encode()
            sent = {**({"Content-Type": "application/json"} if data is not None else {}),
                    **({"Authorization": f"Bearer {self.token}"} if self.token else {}), **(headers or {})}
            conn.request(method, path, data, sent)
            response = conn.getresponse()
            raw = response.read()
        finally:
            conn.close()
        try:
            return response.status, json.loads(raw), response.headers
        except ValueError:
            return response.status, raw.decode(errors="replace"), response.headers

    def login(self, username: str, password: str = PASSWORD, **headers: str) -> int:
        """Log in for a bearer token (kept for later calls); the answer's status."""
        status, body, _ = self.call("POST", "/api/login", {"username": username, "password": password,
                                                           "session": "bearer"}, headers)
        if status == 200:
            self.token = body["access_token"]
        return status

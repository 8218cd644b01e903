"""Shared fixtures: real servers on free loopback ports, and the "skip is a failure in CI" rule."""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from watertel.mosquitto import Mosquitto, find_mosquitto
from watertel.processes import free_port

REQUIRE_SERVERS = os.environ.get("WATERTEL_REQUIRE_SERVERS") == "1"


def need(condition: bool, what: str) -> None:
    """Skip when a server or tool is missing, unless CI requires it (then fail)."""
    if condition:
        return
    if REQUIRE_SERVERS:
        pytest.fail(f"{what} is required (WATERTEL_REQUIRE_SERVERS=1) but not available")
    pytest.skip(f"{what} not available")


@pytest.fixture
def mosquitto_server(tmp_path):
    """A started Mosquitto with persistence on (sessions survive its restart)."""
    binary = find_mosquitto()
    need(binary is not None, "mosquitto")
    server = Mosquitto(binary, tmp_path / "mosquitto", persistence=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mosquitto(mosquitto_server):
    """Port of a real Mosquitto broker."""
    return mosquitto_server.port


def _live_children() -> set[int]:
    """PIDs of this process's children that are still running (zombies excluded)."""
    pids = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        children = (task / "children").read_text().split() if (task / "children").exists() else []
        for pid in children:
            try:
                if Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z":
                    pids.add(int(pid))
            except (OSError, IndexError):
                pass
    return pids


@pytest.fixture(autouse=True)
def no_leftovers():
    """Fail a test that leaves a thread or a child process running (servers must be stopped)."""
    import threading

    threads_before, children_before = set(threading.enumerate()), _live_children()
    yield
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        threads = {t for t in set(threading.enumerate()) - threads_before if t.is_alive()}
        children = _live_children() - children_before
        if not threads and not children:
            return
        time.sleep(0.1)
    assert not threads, f"test left threads running: {[t.name for t in threads]}"
    assert not children, f"test left child processes running: {sorted(children)}"


# --- PostgreSQL ------------------------------------------------------------------------------------


def find_pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else (Path(shutil.which("initdb")).parent if shutil.which("initdb") else None)


class Postgres:
    """A throw-away PostgreSQL cluster (initdb in a temporary folder, free loopback port).

    PostgreSQL refuses to run as root: as root the cluster belongs to the ``postgres`` user.
    """

    def __init__(self, bindir: Path) -> None:
        import tempfile

        self.bindir, self.port = bindir, free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="watertel-pg-"))
        self.user = "postgres" if os.geteuid() == 0 else getpass.getuser()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")

    def _run(self, *argv: str) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *argv], capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        data = self.dir / "data"
        done = self._run(str(self.bindir / "initdb"), "-D", str(data), "-U", self.user, "-A", "trust", "-E", "UTF8")
        assert done.returncode == 0, done.stderr
        done = self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-l", str(self.dir / "log"), "-w", "start", "-o",
                         f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=on")
        assert done.returncode == 0, done.stderr + (self.dir / "log").read_text()

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname={dbname}"

    def new_database(self) -> str:
        import uuid

        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.dsn(name)


@pytest.fixture(scope="session")
def postgres_server():
    bindir = find_pg_bin()
    need(bindir is not None, "PostgreSQL server (Debian package postgresql)")
    server = Postgres(bindir)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def postgres(postgres_server) -> str:
    """DSN of a fresh, empty database on the test PostgreSQL server."""
    return postgres_server.new_database()

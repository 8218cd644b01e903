"""Shared fixtures: real servers on free loopback ports, and the "skip is a failure in CI" rule."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from watertel.shell.mosquitto import Mosquitto, find_mosquitto
from watertel.shell.postgres import Postgres, find_pg_bin

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
        try:
            children = (task / "children").read_text().split()
        except OSError:  # the thread ended after the folder was listed
            continue
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

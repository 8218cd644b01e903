"""Real servers for the tests that need them (a pytest plugin, registered by tests/conftest.py):
each on its own free loopback port and in its own temporary folder, so tests can run in parallel
(pytest-xdist: a session fixture is per worker process, so each worker has its own PostgreSQL)."""

from __future__ import annotations

import pytest

from watertel.shell.mosquitto import Mosquitto, find_mosquitto
from watertel.shell.postgres import Postgres, find_pg_bin

from tests.support.checks import need

SERVER_FIXTURES = frozenset({"mosquitto_server", "mosquitto", "postgres_server", "postgres"})  # unit tests may not


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


@pytest.fixture(scope="session")
def postgres_server():
    """One throw-away PostgreSQL cluster per test process (per xdist worker)."""
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

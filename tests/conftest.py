"""Shared fixtures: real servers on free loopback ports, and the "skip is a failure in CI" rule."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from watertel.processes import free_port, port_open

REQUIRE_SERVERS = os.environ.get("WATERTEL_REQUIRE_SERVERS") == "1"


def need(condition: bool, what: str) -> None:
    """Skip when a server or tool is missing, unless CI requires it (then fail)."""
    if condition:
        return
    if REQUIRE_SERVERS:
        pytest.fail(f"{what} is required (WATERTEL_REQUIRE_SERVERS=1) but not available")
    pytest.skip(f"{what} not available")


def find_mosquitto() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto") if Path(p).exists()), None)


@pytest.fixture
def mosquitto(tmp_path):
    """A real Mosquitto broker on a free loopback port; yields its port."""
    binary = find_mosquitto()
    need(binary is not None, "mosquitto")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not port_open(port):
        assert proc.poll() is None, "mosquitto exited at start"
        assert time.monotonic() < deadline, "mosquitto did not open its port"
        time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(10)

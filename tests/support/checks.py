"""Rules every test follows, whatever its tier (a pytest plugin, registered by tests/conftest.py).

- ``need(condition, what)``: a missing server or tool skips the test, except under
  ``WATERTEL_REQUIRE_SERVERS=1`` (CI), where the skip is a failure: a test that needs a server
  runs in CI or says why it could not.
- ``no_leftovers`` (autouse): a test that leaves a thread or a child process running fails.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

REQUIRE_SERVERS = os.environ.get("WATERTEL_REQUIRE_SERVERS") == "1"


def need(condition: bool, what: str) -> None:
    """Skip when a server or tool is missing, unless CI requires it (then fail)."""
    if condition:
        return
    if REQUIRE_SERVERS:
        pytest.fail(f"{what} is required (WATERTEL_REQUIRE_SERVERS=1) but not available")
    pytest.skip(f"{what} not available")


def _live_children() -> set[int]:
    """PIDs of this process's children that are still running (zombies excluded)."""
    pids = set()
    try:
        tasks = list(Path(f"/proc/{os.getpid()}/task").iterdir())
    except OSError:
        return pids
    for task in tasks:
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


def mark_tier(items: list[pytest.Item], folder: Path, marker: str) -> None:
    """Give every test under ``folder`` the tier's marker (each tier's conftest calls this)."""
    for item in items:
        if folder in item.path.parents:
            item.add_marker(marker)

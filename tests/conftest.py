"""The suite in three tiers (README, "Tests"):

- ``tests/unit``: no sockets, no subprocesses, no servers (enforced there); ``make check``.
- ``tests/integration``: one part against real servers and peers (Mosquitto, PostgreSQL, SMTP,
  HTTP, Modbus over TCP and on a pseudo-terminal, Chromium) or run as a command.
- ``tests/system``: several parts together: the demo, soak, outages, kill -9, whole-system runs,
  the operator's journey in a browser and the screenshots.
- ``tests/test_layers.py``: the import contracts, read from the source.

Shared helpers live in ``tests/support`` (plain functions and classes); the fixtures every tier
may use are registered here as plugins; fixtures shared within a folder live in its conftest.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.support.checks", "tests.support.servers"]

# The slow tiers first: with pytest-xdist the longest tests (the soak, the kill tests) then start
# early and overlap the many short ones, instead of running alone at the end.
TIER_ORDER = {"system": 0, "integration": 1, "unit": 3}


@pytest.hookimpl(trylast=True)  # after each tier's conftest has marked its tests
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: min((TIER_ORDER[m.name] for m in item.iter_markers() if m.name in TIER_ORDER),
                                    default=2))

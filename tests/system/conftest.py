"""The system tier: several parts of watertel running together (demo, soak, outages, kill -9,
whole-system runs, browser journeys and screenshots)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.checks import mark_tier


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_tier(items, Path(__file__).parent, "system")

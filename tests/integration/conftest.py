"""The integration tier: one part of watertel against real servers and peers, or run as a command."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.checks import mark_tier


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_tier(items, Path(__file__).parent, "integration")

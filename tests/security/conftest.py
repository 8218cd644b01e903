"""Attacks replayed against real processes (issue 21): each test runs one finding of the security
review as an attacker would and asserts the defended outcome. Part of the integration tier: one
part (the RTU gateway, the API, ingest, the audit log) under attack on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.checks import mark_tier


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_tier(items, Path(__file__).parent, "integration")

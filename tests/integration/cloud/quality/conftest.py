"""Fixtures the quality (rates, rollups, reports) integration tests share."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.quality import ten_days_of_three_stations
from tests.support.stores import BACK_ENDS, store_on


@pytest.fixture(params=BACK_ENDS)
def store(request, tmp_path):
    """A fresh store of each back-end (readings stored the way ingest stores them)."""
    opened = store_on(request, tmp_path / "w.db")
    yield opened
    opened.close()


@pytest.fixture
def config(tmp_path) -> Path:
    """A cloud config with a registry and a SQLite store holding ten days of three stations."""
    return ten_days_of_three_stations(tmp_path)

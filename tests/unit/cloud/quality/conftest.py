"""Fixtures the quality unit tests share."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.quality import ten_days_of_three_stations


@pytest.fixture
def config(tmp_path) -> Path:
    """A cloud config with a registry and a SQLite store holding ten days of three stations."""
    return ten_days_of_three_stations(tmp_path)

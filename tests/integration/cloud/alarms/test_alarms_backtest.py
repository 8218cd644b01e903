"""`watertel alarms backtest` (issue 8): a crafted month of readings replayed through the real
alarm engine; the alarms it lists, bad files refused with file:line, and the command itself.

This file holds the tests that need a real server or run a command; the others are in
tests/unit/cloud/alarms/test_alarms_backtest.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from watertel.cloud.alarms.backtest import backtest

from tests.support.backtest import write_month
from tests.support.paths import ROOT


@pytest.fixture(scope="module")
def month(tmp_path_factory) -> tuple[Path, Path, Path]:
    return write_month(tmp_path_factory.mktemp("month"))


@pytest.fixture(scope="module")
def alarms(month) -> list[dict]:
    return backtest(*month)


def test_the_command_prints_the_same_json(month, alarms):
    readings, stations, rules = month
    done = subprocess.run([sys.executable, "-m", "watertel", "alarms", "backtest", "--readings", str(readings),
                           "--stations", str(stations), "--rules", str(rules), "--format", "json"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == alarms
    assert done.stderr.strip().endswith(f"{len(alarms)} alarms")

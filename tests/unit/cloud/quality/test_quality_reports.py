"""Scheduled rates reports (written once, when due, never rewritten) and the rates over real HTTP.

This file holds the tests that need no server and start no process; the others are in
tests/integration/cloud/quality/test_quality_reports.py."""

from __future__ import annotations

import datetime as dt
import json
import re
from zoneinfo import ZoneInfo

import pytest

from watertel.cloud.config import load_cloud_config
from watertel.cloud.quality.schedule import Due, due, listing, write_due
from watertel.cloud.registry import load_registry
from watertel.cloud.store import open_store

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize("now, expected", [
    (dt.datetime(2026, 11, 1, 1, 0), ("2026-10-30", "2026-09", "2026-Q3")),  # 90 min after midnight not yet passed
    (dt.datetime(2026, 11, 1, 2, 0), ("2026-10-31", "2026-10", "2026-Q3")),
    (dt.datetime(2027, 1, 1, 3, 0), ("2026-12-31", "2026-12", "2026-Q4")),
    (dt.datetime(2026, 5, 17, 12, 0), ("2026-05-16", "2026-04", "2026-Q1")),
])
def test_due_reports_follow_the_local_calendar_and_the_delay(now, expected):
    got = due(now.replace(tzinfo=SHANGHAI), dt.timedelta(minutes=90))
    assert got == [Due("daily", expected[0]), Due("monthly", expected[1]), Due("quarterly", expected[2])]


def test_due_reports_are_written_once_in_every_format(config):
    cfg = load_cloud_config(config)
    registry, root = load_registry(cfg.registry_file), cfg.data_dir / "reports"
    now = dt.datetime(2026, 11, 1, 2, 0, tzinfo=SHANGHAI)
    written = write_due(root, lambda: open_store(cfg.store, cfg.data_dir), registry, cfg.quality, cfg.reports, now)
    assert sorted(p.relative_to(root).as_posix() for p in written) == sorted(
        f"{kind}/{label}.{fmt}" for kind, label in (("daily", "2026-10-31"), ("monthly", "2026-10"), ("quarterly", "2026-Q3"))
        for fmt in ("json", "csv", "xlsx"))
    month = json.loads((root / "monthly" / "2026-10.json").read_text())
    assert (month["overall"]["expected"], month["overall"]["received"]) == (31 + 31 + 26, 23)
    assert listing(root)[1] == {"kind": "monthly", "period": "2026-10", "formats": ["csv", "json", "xlsx"]}
    issued = (root / "monthly" / "2026-10.csv").read_bytes()
    assert write_due(root, lambda: open_store(cfg.store, cfg.data_dir), registry, cfg.quality, cfg.reports, now) == []
    assert (root / "monthly" / "2026-10.csv").read_bytes() == issued
    assert not list(root.rglob(".*.tmp"))


def test_the_csv_rounds_the_rates_and_the_json_keeps_them_exact(config):
    """A rate like 23/88 is 0.2614 in the CSV (people read it in a spreadsheet), exact in the JSON."""
    cfg = load_cloud_config(config)
    registry, root = load_registry(cfg.registry_file), cfg.data_dir / "reports"
    now = dt.datetime(2026, 11, 1, 2, 0, tzinfo=SHANGHAI)
    write_due(root, lambda: open_store(cfg.store, cfg.data_dir), registry, cfg.quality, cfg.reports, now)
    overall = json.loads((root / "monthly" / "2026-10.json").read_text())["overall"]
    exact = overall["upload_rate"]
    assert exact == 23 / (31 + 31 + 26) and exact != round(exact, 4), "a rate with more than four decimals"
    text = (root / "monthly" / "2026-10.csv").read_text()
    assert repr(exact) not in text and f",{round(exact, 4)}," in text
    floats = re.findall(r"(?<![\w.:-])\d+\.\d+(?![\w.:-])", text)
    assert floats and all(len(f.split(".")[1]) <= 4 for f in floats), [f for f in floats if len(f.split(".")[1]) > 4]

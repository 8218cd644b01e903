"""Over-permit / over-plan (issue 8) and the rates report's over-permit list (issue 7): withdrawal
hand-computed from counter readings stored as ingest stores them in a real SQLite store, the
tiers and projection through the alarm engine, and the registry's permit checks.

This file holds the tests that need a real server or run a command; the others are in
tests/unit/cloud/test_permits.py."""

from __future__ import annotations

import json
import subprocess
import sys

from watertel.cloud.store.sqlite import SqliteStore

from tests.support.paths import ROOT
from tests.support.permits import REPORT_PERMITS, fill, registry


def test_report_rates_json_and_csv_carry_the_over_permit_list(tmp_path):
    registry(tmp_path, REPORT_PERMITS)
    (tmp_path / "cloud.yaml").write_text("data_dir: data\nregistry_file: registry.yaml\n")
    opened = SqliteStore(tmp_path / "data" / "watertel.db")
    fill(opened)
    opened.close()
    run = [sys.executable, "-m", "watertel", "report", "rates", "--config", str(tmp_path / "cloud.yaml"),
           "--period", "2026-01"]
    out = subprocess.run([*run, "--format", "json"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    (item,) = json.loads(out.stdout)["problems"]["over_permit"]
    assert (item["permit"], item["volume_m3"], item["share"]) == ("P-1", 850.0, 0.85)
    assert item["projection"]["date"] == "2026-02-06"
    out = subprocess.run([*run, "--format", "csv"], capture_output=True, text=True, cwd=ROOT)
    row = next(line for line in out.stdout.splitlines() if line.startswith("over_permit,"))
    assert row == ("over_permit,P-1,某食品公司,zj/hz/xh,2026-01-11,\"850 of 1000 m3 (85.0%) in the permit year from"
                   " 2026-01-01, tier 80% (yellow); projected to reach the permit on 2026-02-06 (run_rate);"
                   " meters ST-1/total\"")


def test_report_permits_prints_each_permits_year(tmp_path):
    registry(tmp_path, REPORT_PERMITS)
    (tmp_path / "cloud.yaml").write_text("data_dir: data\nregistry_file: registry.yaml\n")
    opened = SqliteStore(tmp_path / "data" / "watertel.db")
    fill(opened)
    opened.close()
    run = [sys.executable, "-m", "watertel", "report", "permits", "--config", str(tmp_path / "cloud.yaml"),
           "--year", "2026"]
    out = subprocess.run([*run, "--format", "json"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    p1, p2 = json.loads(out.stdout)
    assert (p1["permit"], p1["volume_m3"], p1["tier"], p1["severity"]) == ("P-1", 2000.0, 1.0, "red")
    assert p1["projection_method"] == "exceeded" and p1["projection_date"] == "2026-02-05"
    assert p1["meters"] == [{"meter": "ST-1/total", "coefficient": None, "volume_m3": 2000.0, "readings": 3,
                             "untrusted": 0, "rollovers": 0, "rollovers_skipped": 0, "resets": 0}]
    assert (p2["permit"], p2["volume_m3"], p2["tier"]) == ("P-2", 500.0, None)
    out = subprocess.run([*run, "--format", "csv"], capture_output=True, text=True, cwd=ROOT)
    lines = out.stdout.splitlines()
    assert lines[0].startswith("permit,holder,region,year,")
    assert lines[1].startswith("P-1,某食品公司,zj/hz/xh,2026,")
    late = subprocess.run([*run[:-1], "2099"], capture_output=True, text=True, cwd=ROOT)
    assert late.returncode == 1 and "its permit year 2099 starts 2099-01-01, after today" in late.stderr

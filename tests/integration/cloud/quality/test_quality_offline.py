"""`watertel rates`: the rates from two CSV files, checked against counts worked out by hand."""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def rates(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "watertel", "rates", *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """Three stations over 2026-10-01 and 02 (local), as worked out in the test below."""
    stations = write_csv(tmp_path / "stations.csv",
                         ["station", "region", "interval_minutes", "commissioned", "decommissioned", "name"], [
                             ["A", "p/c/k1", 60, "", "", "水厂"],
                             ["B", "p/c/k2", 30, "2026-10-02", "", ""],
                             ["C", "p/c2/k3", 60, "2026-09-01", "", ""],
                         ])
    rows = []
    # A: hourly, written in UTC so local midnight is 16:00Z the day before; hours 10 and 11 of
    # the 2nd missing, hour 0 of the 1st sent twice, hour 5 arrives 2 h late, hour 6 flagged.
    for hour in range(48):
        if hour in (34, 35):
            continue
        t = dt.datetime(2026, 10, 1, tzinfo=SHANGHAI) + dt.timedelta(hours=hour)
        delay = dt.timedelta(hours=2) if hour == 5 else dt.timedelta(seconds=20)
        rows.append(["A", t.astimezone(dt.timezone.utc).isoformat(), (t + delay).astimezone(dt.timezone.utc).isoformat(),
                     "timeout" if hour == 6 else ("ok" if hour % 2 else "")])
        if hour == 0:
            rows.append(rows[-1])
    # B: half-hourly on the 2nd only, naive local times; one reading from a gateway whose clock is
    # 10 min ahead; one on the 1st, before commissioning, which counts for nothing.
    for k in range(48):
        t = dt.datetime(2026, 10, 2) + dt.timedelta(minutes=30 * k)
        received = t - dt.timedelta(minutes=10) if k == 7 else t + dt.timedelta(seconds=5)
        rows.append(["B", t.isoformat(), received.isoformat(), "total_rollover" if k == 3 else ""])
    rows.append(["B", "2026-10-01T12:00:00", "2026-10-01T12:00:01", ""])
    rows.append(["X", "2026-10-01T12:00:00", "2026-10-01T12:00:01", ""])  # not in the table
    arrivals = write_csv(tmp_path / "arrivals.csv", ["station", "sample_time", "received_time", "flag"], rows)
    return arrivals, stations


def test_rates_from_csv_match_hand_counts(files: tuple[Path, Path]) -> None:
    arrivals, stations = files
    done = rates("--arrivals", str(arrivals), "--stations", str(stations), "--period", "2026-10-01/2026-10-03")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    by = {s["station"]: s for s in report["stations"]}
    assert (by["A"]["expected"], by["A"]["received"], by["A"]["on_time"], by["A"]["flagged"]) == (48, 46, 45, 1)
    assert by["A"]["abnormal_days"] == 1 and by["A"]["abnormal_dates"] == ["2026-10-02"]  # 22/24 < 95 %
    assert by["A"]["reporting_normally"] and by["A"]["abnormal"]  # 46/48 ≥ 95 %, 1 of 2 days ≥ 20 %
    assert (by["B"]["expected"], by["B"]["received"], by["B"]["on_time"], by["B"]["future"]) == (48, 48, 47, 1)
    assert by["B"]["service_days"] == 1 and by["B"]["reporting_normally"] and not by["B"]["abnormal"]
    assert (by["C"]["expected"], by["C"]["received"], by["C"]["reporting_normally"], by["C"]["abnormal"]) == (48, 0, False, True)
    overall = report["overall"]
    assert (overall["stations"], overall["reporting_normally"], overall["abnormal_stations"]) == (3, 2, 2)
    assert (overall["expected"], overall["received"], overall["on_time"]) == (144, 94, 92)
    assert overall["completeness"] == pytest.approx(2 / 3) and overall["upload_rate"] == pytest.approx(94 / 144)
    assert overall["timeliness"] == pytest.approx(92 / 94) and overall["abnormal_rate"] == pytest.approx(2 / 3)
    regions = {r["path"]: r for r in report["regions"]}
    assert set(regions) == {"p", "p/c", "p/c/k1", "p/c/k2", "p/c2", "p/c2/k3"}
    assert (regions["p/c"]["completeness"], regions["p/c"]["abnormal_rate"]) == (1.0, 0.5)
    assert regions["p/c2"]["level"] == "city" and regions["p/c2/k3"]["upload_rate"] == 0.0
    assert [s["station"] for s in report["problems"]["stopped"]] == ["C"]
    assert "skipped 1 arrivals" in done.stderr


def test_region_filter_and_csv_output(files: tuple[Path, Path], tmp_path: Path) -> None:
    arrivals, stations = files
    out = tmp_path / "rates.csv"
    done = rates("--arrivals", str(arrivals), "--stations", str(stations), "--period", "2026-10-01/2026-10-03",
                 "--region", "p/c", "--format", "csv", "--out", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert text.startswith("# regions\n") and "\nA,水厂,p/c/k1,60,48,46,45," in text and "\nC," not in text


def test_bad_rows_are_named_by_line_and_column(files: tuple[Path, Path], tmp_path: Path) -> None:
    arrivals, _ = files
    stations = write_csv(tmp_path / "bad.csv", ["station", "region", "interval_minutes", "commissioned", "decommissioned"], [
        ["A", "p/c/k1", 60, "2026-13-01", ""],
        ["B", "p//k2", 30, "", ""],
        ["C", "p/c/k3", 0, "", ""],
        ["D", "p/c/k1", 60, "", ""],
        ["D", "p/c/k1", 60, "", ""],
    ])
    done = rates("--arrivals", str(arrivals), "--stations", str(stations), "--period", "2026-10-01/2026-10-03")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"{stations}:2: commissioned: '2026-13-01' is not a date (write YYYY-MM-DD, or a date-time such as"
        " 2026-10-10T08:00+08:00)",
        f"{stations}:3: region: 'p//k2' is not a path like province/city/county (1 to 3 names separated by /)",
        f"{stations}:4: interval_minutes: Input should be greater than 0, got '0' (use a number > 0)",
        f"{stations}:6: station: 'D' already on line 5 (one row per station)",
    ]


def test_missing_columns_bad_times_and_bad_period(files: tuple[Path, Path], tmp_path: Path) -> None:
    arrivals, stations = files
    no_flag = write_csv(tmp_path / "a.csv", ["station", "sample_time", "received_time"], [["A", "2026-10-01T00:00", "2026-10-01T00:00"]])
    done = rates("--arrivals", str(no_flag), "--stations", str(stations), "--period", "2026-10-01/2026-10-03")
    assert done.returncode == 1
    assert f"{no_flag}:1: flag: required column is missing (the header needs at least" \
           " station,sample_time,received_time,flag)" in done.stderr
    bad_time = write_csv(tmp_path / "b.csv", ["station", "sample_time", "received_time", "flag"],
                         [["A", "2026-10-01T00:00", "2026-10-01T00:00", ""], ["A", "yesterday", "2026-10-01T00:00", ""]])
    done = rates("--arrivals", str(bad_time), "--stations", str(stations), "--period", "2026-10-01/2026-10-03")
    assert done.returncode == 1 and done.stdout == ""
    assert f"{bad_time}:3: sample_time: 'yesterday' is not a time (write ISO 8601, e.g. 2026-10-01T08:05:00+08:00;" \
           " without an offset it is local time in Asia/Shanghai)" in done.stderr
    done = rates("--arrivals", str(arrivals), "--stations", str(stations), "--period", "2026-10-03/2026-10-01")
    assert done.returncode == 1 and "END (excluded) must be after START" in done.stderr
    done = rates("--arrivals", str(tmp_path / "none.csv"), "--stations", str(stations), "--period", "2026-10")
    assert done.returncode == 1 and "none.csv: no such file" in done.stderr


def test_empty_period_has_no_rates(tmp_path: Path) -> None:
    stations = write_csv(tmp_path / "s.csv", ["station", "region", "interval_minutes", "commissioned", "decommissioned"],
                         [["A", "p/c/k", 60, "2027-01-01", ""]])
    arrivals = write_csv(tmp_path / "a.csv", ["station", "sample_time", "received_time", "flag"], [])
    done = rates("--arrivals", str(arrivals), "--stations", str(stations), "--period", "2026-10")
    assert done.returncode == 0, done.stderr
    overall = json.loads(done.stdout)["overall"]
    assert overall["stations"] == 0 and overall["completeness"] is None and overall["upload_rate"] is None

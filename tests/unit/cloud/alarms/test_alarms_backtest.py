"""`watertel alarms backtest` (issue 8): a crafted month of readings replayed through the real
alarm engine; the alarms it lists, bad files refused with file:line, and the command itself.

This file holds the tests that need no server and start no process; the others are in
tests/integration/cloud/alarms/test_alarms_backtest.py."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from watertel.cloud.alarms.backtest import backtest, load_rules, render
from watertel.cloud.alarms.backtest_csv import load_station_table
from watertel.config import ConfigError

from tests.support.backtest import SH, STATIONS, at, write_csv, write_month


@pytest.fixture(scope="module")
def month(tmp_path_factory) -> tuple[Path, Path, Path]:
    return write_month(tmp_path_factory.mktemp("month"))


@pytest.fixture(scope="module")
def alarms(month) -> list[dict]:
    return backtest(*month)


def brief(alarms: list[dict], rule: str) -> list[tuple]:
    return [(a["station"], a["severity"], a["raised_at"], a["cleared_at"]) for a in alarms if a["rule"] == rule]


def test_a_water_quality_excursion_raises_once_and_the_spike_does_not(alarms):
    assert brief(alarms, "water_quality") == [
        ("WQ-1", "red", "2026-11-10T09:00:00+08:00", "2026-11-10T13:00:00+08:00")]  # not cleared by 0.98 at 12:00
    (wq,) = [a for a in alarms if a["rule"] == "water_quality"]
    assert wq["point"] == "turbidity" and "out of limits since 2026-11-10T08:00:00+08:00" in wq["details"]


def test_a_day_without_data_raises_data_stopped_after_three_intervals(alarms):
    # last sample 14th 23:00; three hourly intervals passed at 02:00; the 5-minute check after that raises
    assert brief(alarms, "data_stopped") == [
        ("PUMP-1", "orange", "2026-11-15T02:05:00+08:00", "2026-11-16T00:00:00+08:00")]


def test_twelve_zero_reports_raise_consecutive_zeros(alarms):
    assert brief(alarms, "consecutive_zeros") == [
        ("PUMP-1", "yellow", "2026-11-20T11:00:00+08:00", "2026-11-20T12:00:00+08:00")]


def test_the_permit_is_warned_at_each_tier(alarms):
    # 100 m3/h from the first sample: 40,000 m3 (80 %) after 400 h, 45,000 after 450 h, 50,000 after 500 h;
    # the hourly check runs before the sample of its hour is stored
    assert brief(alarms, "over_permit") == [
        ("INTAKE-1", "yellow", "2026-11-17T17:00:00+08:00", "2026-11-19T19:00:00+08:00"),
        ("INTAKE-1", "orange", "2026-11-19T19:00:00+08:00", "2026-11-21T21:00:00+08:00"),
        ("INTAKE-1", "red", "2026-11-21T21:00:00+08:00", None)]
    assert "50000 m3" in [a for a in alarms if a["rule"] == "over_permit"][-1]["details"]
    (projected,) = brief(alarms, "over_permit_projected")
    assert projected[0] == "INTAKE-1" and projected[3] == "2026-11-21T21:00:00+08:00"  # over it now: no projection


def test_nothing_else_is_raised_and_the_list_is_in_time_order(alarms):
    assert {a["rule"] for a in alarms} == {"water_quality", "data_stopped", "consecutive_zeros", "over_permit",
                                           "over_permit_projected"}
    assert [a["raised_at"] for a in alarms] == sorted(a["raised_at"] for a in alarms)
    assert all(set(a) == {"rule", "station", "point", "severity", "raised_at", "cleared_at", "details"} for a in alarms)


def test_csv_output_has_the_same_rows(alarms):
    rows = list(csv.DictReader(render(alarms, "csv").splitlines()))
    assert [(r["rule"], r["station"], r["raised_at"], r["cleared_at"]) for r in rows] == \
           [(a["rule"], a["station"], a["raised_at"], a["cleared_at"] or "") for a in alarms]


def test_rules_change_what_is_raised(month, tmp_path):
    readings, stations, _ = month
    rules = tmp_path / "alarms.yaml"  # the section itself, no alarms: key
    rules.write_text("check_every_s: 300\nwater_quality: {min_duration_s: 0}\n"
                     "overrides: {PUMP-1: {consecutive_zeros: {enabled: false}}}\n", encoding="utf-8")
    found = backtest(readings, stations, rules)
    assert [a["raised_at"] for a in found if a["rule"] == "water_quality"] == [
        "2026-11-03T10:00:00+08:00", "2026-11-10T08:00:00+08:00"]  # the spike counts now
    assert not [a for a in found if a["rule"] == "consecutive_zeros"]


# --- bad input ---------------------------------------------------------------------------------
GOOD = "station,point,sample_time,value,quality\nWQ-1,ph,2026-11-01T00:00:00+08:00,7.1,ok\n"


@pytest.mark.parametrize("body, message", [
    (GOOD + "WQ-1,ph,yesterday,7.1,ok\n", r"readings.csv:3: sample_time: 'yesterday' is not a time \(write ISO 8601"),
    (GOOD + "WQ-1,ph,2026-11-01T01:00,seven,ok\n", r"readings.csv:3: value: 'seven' is not a number \(write e.g. 12.5\)"),
    (GOOD + "WQ-1,ph,2026-11-01T01:00,7,broken\n", r"readings.csv:3: quality: 'broken' is not a quality \(use ok or one"),
    (GOOD + "WQ-1,ph,2026-11-01T01:00,,ok\n", r"readings.csv:3: value: '': a ok reading needs a value \(or give the"),
    (GOOD + "WQ-1,ph,2026-11-01T01:00,inf,ok\n", r"readings.csv:3: value: 'inf' is not a finite number \(leave the cell"),
    (GOOD + "WQ-1,PH,2026-11-01T01:00,7,ok\n", r"readings.csv:3: point: 'PH' is not a point name \(lower case"),
    ("station,point,value,quality\nWQ-1,ph,7,ok\n",
     r"readings.csv:1: sample_time: required column is missing \(the header needs at least station,point,sample_time"),
])
def test_a_bad_readings_file_is_refused_with_file_and_line(tmp_path, body, message):
    (tmp_path / "stations.csv").write_text(STATIONS, encoding="utf-8")
    (tmp_path / "readings.csv").write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        backtest(tmp_path / "readings.csv", tmp_path / "stations.csv")


@pytest.mark.parametrize("row, message", [
    ("X-1,zj/hz/xh,tower,60,,,,", r"stations.csv:5: kind: .*'tower' \(use one of 'intake'"),
    ("X-1,zj/hz/xh,well,0,,,,", r"stations.csv:5: interval_minutes: .*greater than 0, got '0' \(use a number > 0\)"),
    ("X-1,,well,60,,,,", r"stations.csv:5: region: '' is not a path like province/city/county \(1 to 3 names"),
    ("X-1,zj/hz/xh,well,60,-5,,,", r"stations.csv:5: permit_m3: .*greater than 0, got '-5' \(use a number > 0\)"),
    ("X-1,zj/hz/xh,well,60,100,02-30,,", r"stations.csv:5: permit_year_start: .*MM-DD"),
    ("X-1,zj/hz/xh,well,60,,,DMA-1,", r"stations.csv:5: area_role: .*one of inlet, outlet, consumer"),
    ("X-1,zj/hz/xh,well,60,,,DMA-1,consumer", r"stations.csv:5: area: area DMA-1: .*every area needs an inlet"),
    ("WQ-1,zj/hz/xh,well,60,,,,", r"stations.csv:5: station: 'WQ-1' already on line 2 \(one row per station\)"),
])
def test_a_bad_station_file_is_refused_with_file_and_line(tmp_path, row, message):
    (tmp_path / "stations.csv").write_text(STATIONS + row + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_station_table(tmp_path / "stations.csv", SH)


def test_areas_come_from_the_station_file_and_may_not_repeat_the_rules(tmp_path):
    stations = tmp_path / "stations.csv"
    stations.write_text(STATIONS + "IN-1,zj/hz/xh,network,15,,,DMA-1,inlet\nOUT-1,zj/hz/xh,network,15,,,DMA-1,outlet\n"
                        "C-1,zj/hz/xh,other,15,,,DMA-1,consumer\nC-2,zj/hz/xh,other,15,,,DMA-1,Consumer\n", encoding="utf-8")
    (area,) = load_station_table(stations, SH).areas
    assert area.model_dump() == {"id": "DMA-1", "inlets": ["IN-1"], "outlets": ["OUT-1"], "consumers": ["C-1", "C-2"]}
    rules = tmp_path / "rules.yaml"
    rules.write_text("areas: [{id: DMA-1, inlets: [IN-9]}]\n", encoding="utf-8")
    (tmp_path / "readings.csv").write_text(GOOD, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"stations.csv: area: DMA-1 also defined under alarms.areas in .*rules.yaml"):
        backtest(tmp_path / "readings.csv", stations, rules)


def test_a_bad_rules_file_is_refused_with_file_and_line(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("alarms:\n  water_quality:\n    min_duration_s: -5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"rules.yaml:3: .*min_duration_s"):
        load_rules(rules)


def test_the_areas_of_the_station_file_reach_the_mass_balance(tmp_path):
    """The leak rules run too: the CSV's area columns become ``alarms.areas`` (20 % unaccounted for)."""
    stations = tmp_path / "stations.csv"
    stations.write_text("station,region,kind,interval_minutes,area,area_role\nIN-1,zj/hz/xh,network,15,DMA-1,inlet\n"
                        "C-1,zj/hz/xh,other,15,DMA-1,consumer\n", encoding="utf-8")
    quarter = [at(2, 0) + dt.timedelta(minutes=15 * i) for i in range(6 * 4)]
    rows = [{"station": s, "point": "flow", "sample_time": t.isoformat(), "value": v, "quality": "ok"}
            for t in quarter for s, v in (("IN-1", 100.0), ("C-1", 80.0))]
    found = backtest(write_csv(tmp_path / "readings.csv", rows), stations)
    assert [(a["rule"], a["station"]) for a in found] == [("mass_balance", "DMA-1")]
    assert at(2, 1) <= dt.datetime.fromisoformat(found[0]["raised_at"]) <= at(2, 3)

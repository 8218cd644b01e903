"""`watertel report rates`: the same report as JSON, CSV (three sections) and XLSX (three sheets)."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import zipfile
from pathlib import Path

from tests.support.cli import watertel
from tests.support.quality import REGIONS, STATIONS, local


def rates(config: Path, *extra: str) -> subprocess.CompletedProcess:
    return watertel("report", "rates", "--config", str(config), "--period", "2026-10-01..2026-10-10", *extra)


def test_json_has_overall_regions_stations_and_problems(config):
    out = rates(config, "--format", "json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["period"]["timezone"] == "Asia/Shanghai" and report["period"]["start_ms"] == local(1)
    overall = report["overall"]
    assert (overall["stations"], overall["reporting_normally"], overall["expected"], overall["received"],
            overall["on_time"]) == (3, 2, 25, 23, 18)
    assert overall["completeness"] == 2 / 3 and overall["upload_rate"] == 23 / 25 and overall["timeliness"] == 18 / 23
    assert overall["abnormal_rate"] == 1 / 3 and overall["below_target"] == "completeness upload_rate timeliness abnormal_rate"
    c = next(s for s in report["stations"] if s["station"] == "C")
    assert (c["expected"], c["received"], c["on_time"], c["late"], c["region"]) == (5, 5, 0, 5, "zj/nb/hs")
    b = next(s for s in report["stations"] if s["station"] == "B")
    assert b["abnormal_dates"] == ["2026-10-03", "2026-10-04"] and b["abnormal"] is True
    assert {p["station"] for p in report["problems"]["under_target"]} == {"B", "C"}


def test_region_filter(config):
    report = json.loads(rates(config, "--region", "nb").stdout)
    assert [s["station"] for s in report["stations"]] == ["C"] and report["overall"]["timeliness"] == 0
    bad = rates(config, "--region", "atlantis")
    assert bad.returncode == 1 and "region 'atlantis' is not in the registry" in bad.stderr


def test_csv_has_three_sections(config, tmp_path):
    out = rates(config, "--format", "csv", "--out", str(tmp_path / "r.csv"))
    assert out.returncode == 0, out.stderr
    sections = (tmp_path / "r.csv").read_text(encoding="utf-8").split("\n\n")
    assert [s.splitlines()[0] for s in sections] == ["# regions", "# stations", "# problems"]
    regions = list(csv.DictReader(io.StringIO(sections[0].split("\n", 1)[1])))
    assert [r["region"] for r in regions] == ["", "zj", "hz", "xh", "yh", "empty", "nb", "hs"]
    assert regions[2]["upload_rate"] == str(18 / 20) and regions[5]["completeness"] == ""
    stations = list(csv.DictReader(io.StringIO(sections[1].split("\n", 1)[1])))
    assert stations[0]["name"] == "三墩取水口" and stations[1]["abnormal_days"] == "2"
    problems = list(csv.DictReader(io.StringIO(sections[2].split("\n", 1)[1])))
    assert ("abnormal_days", "B") in {(p["problem"], p["station"]) for p in problems}


def cells(book: zipfile.ZipFile, sheet: int) -> dict[str, str]:
    """Cell reference → value (inline text or number) of one worksheet."""
    xml = book.read(f"xl/worksheets/sheet{sheet}.xml").decode()
    return {ref: text if text is not None else number
            for ref, text, number in ((m[0], m[1] or m[2] or None, m[3]) for m in re.findall(
                r'<c r="([A-Z]+\d+)"[^>]*>(?:<is><t[^>]*>([^<]*)</t></is>|<v>([^<]*)</v>)()', xml))}


def test_xlsx_opens_as_a_zip_of_spreadsheetml_with_the_values(config, tmp_path):
    path = tmp_path / "r.xlsx"
    out = rates(config, "--format", "xlsx", "--out", str(path))
    assert out.returncode == 0, out.stderr
    with zipfile.ZipFile(path) as book:
        assert book.testzip() is None
        assert re.findall(r'<sheet name="(\w+)"', book.read("xl/workbook.xml").decode()) == ["Regions", "Stations", "Problems"]
        regions, stations = cells(book, 1), cells(book, 2)
    assert (regions["A1"], regions["K1"], regions["L1"]) == ("level", "completeness", "upload_rate")
    assert (regions["A2"], regions["E2"], regions["H2"], regions["I2"], regions["L2"]) == ("all", "3", "25", "23", "0.92")
    assert (regions["B4"], regions["L4"], regions["B7"]) == ("hz", "0.9", "empty")
    assert "K7" not in regions and "O7" not in regions  # a county without stations: no rate, no target missed
    assert (stations["A2"], stations["B2"], stations["E4"], stations["H4"]) == ("A", "三墩取水口", "5", "5")
    with zipfile.ZipFile(path) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert '<c r="L2" s="1"><v>0.92</v></c>' in sheet  # shown as a percentage


def test_operator_errors_name_what_to_fix(config, tmp_path):
    (tmp_path / "registry.yaml").write_text(REGIONS + STATIONS.replace("interval_minutes: 1440", "interval_minutes: -5", 1))
    out = rates(config)
    assert out.returncode == 1 and f"{tmp_path / 'registry.yaml'}:12: stations.0.interval_minutes: " in out.stderr
    (tmp_path / "plain.yaml").write_text("data_dir: data\n")
    out = rates(tmp_path / "plain.yaml")
    assert out.returncode == 1 and "plain.yaml: registry_file: not set" in out.stderr
    out = watertel("report", "rates", "--config", str(config), "--period", "2026-13")
    assert out.returncode == 1 and "period '2026-13'" in out.stderr and "YYYY-Qn" in out.stderr

"""`watertel cloud export` and `watertel cloud import`: YAML and CSV, a round trip that loses
nothing, errors that name file, row and column, and a registry file that is replaced atomically
(previous kept as .bak) or not at all."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from watertel.cloud.registry import load_registry
from watertel.cloud.registry_csv import COLUMNS
from watertel.cloud.registry_io import file_model

from tests.support.paths import ROOT

REGISTRY = """\
# the operator's comment, kept by a YAML import
provinces:
  - id: zj
    name: 浙江省
    cities:
      - id: zj-hz
        name: 杭州市
        counties:
          - {id: zj-hz-xh, name: 西湖区}
          - {id: zj-hz-yh, name: 余杭区}
          - {id: zj-hz-empty, name: 空区}
stations:
  - id: ST-1
    name: 三墩取水口, 一号
    region: zj-hz-xh
    kind: intake
    interval_minutes: 5
    points: [flow, total]
    commissioned: 2026-10-10
    maintenance:
      - {start: "2026-10-12T08:00", end: "2026-10-12T20:00", note: pump replaced}
      - {start: "2026-11-01T00:00+08:00", end: "2026-11-02T00:00+08:00"}
    location: {lat: 30.3125, lon: 120.0851}
  - id: ST-2
    region: zj-hz-yh
    kind: well
    interval_seconds: 30
    points: [total, energy]
    commissioned: "2026-01-01T08:00+08:00"
    decommissioned: 2026-12-01
  - id: ST-3
    name: 余杭水厂
    region: zj-hz-yh
    kind: plant
    interval_minutes: 60
    commissioned: 2025-06-01
permits:
  - id: P-1
    holder: 杭州某某食品有限公司
    permitted_m3: 120000
    year_start: "07-01"
    meters:
      - ST-1
      - {station: ST-2, point: energy, coefficient: 2.4, wraps_at: 99999999}
    plan:
      annual: 100000
      monthly: [8000, 8000, 8000, 8000, 9000, 9000, 9000, 9000, 8000, 8000, 8000, 8000.5]
"""


def watertel(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "watertel", *args], capture_output=True, text=True, cwd=ROOT)


@pytest.fixture
def cloud(tmp_path) -> Path:
    """A cloud config naming a registry file; a user is scoped to the station-less county."""
    (tmp_path / "registry.yaml").write_text(REGISTRY, encoding="utf-8")
    config = tmp_path / "cloud.yaml"
    config.write_text("data_dir: data\nregistry_file: registry.yaml\napi:\n  users:\n"
                      "    - {username: e, role: viewer, regions: [zj-hz-empty],"
                      " password_hash: 'scrypt$16384$" + "0" * 32 + "$" + "0" * 64 + "'}\n", encoding="utf-8")
    return config


def canonical(path: Path) -> dict:
    """The registry's content, meters in a fixed order (a CSV lists them by station)."""
    data = file_model(load_registry(path)).model_dump(mode="json")
    for p in data["permits"]:
        p["meters"].sort(key=lambda m: (m["station"], m["point"]))
    return data


def test_yaml_to_csv_to_yaml_loses_nothing(cloud, tmp_path):
    out = watertel("cloud", "export", "--config", str(cloud), "--format", "csv", "--out", str(tmp_path / "r.csv"))
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO((tmp_path / "r.csv").read_text(encoding="utf-8"))))
    assert list(rows[0]) == list(COLUMNS) and [r["id"] for r in rows] == ["ST-1", "ST-2", "ST-3"]
    assert rows[0]["maintenance"] == ("2026-10-12T08:00:00..2026-10-12T20:00:00 pump replaced;"
                                      "2026-11-01T00:00:00+08:00..2026-11-02T00:00:00+08:00")
    assert rows[1]["meter_coefficient"] == "2.4" and rows[1]["permit_m3"] == "120000" and rows[2]["permit"] == ""
    before = canonical(tmp_path / "registry.yaml")

    imported = watertel("cloud", "import", str(tmp_path / "r.csv"), "--config", str(cloud))
    assert imported.returncode == 0, imported.stderr
    assert "0 added, 0 removed, 0 changed" in imported.stdout
    assert canonical(tmp_path / "registry.yaml") == before  # the station-less county kept too
    assert (tmp_path / "registry.yaml.bak").read_text(encoding="utf-8") == REGISTRY

    yaml_out = watertel("cloud", "export", "--config", str(cloud))  # YAML to stdout, then back in
    (tmp_path / "again.yaml").write_text(yaml_out.stdout, encoding="utf-8")
    assert watertel("cloud", "import", str(tmp_path / "again.yaml"), "--config", str(cloud)).returncode == 0
    assert canonical(tmp_path / "registry.yaml") == before


def test_a_yaml_import_is_written_verbatim_and_a_dry_run_writes_nothing(cloud, tmp_path):
    new = tmp_path / "new.yaml"
    new.write_text(REGISTRY.replace("interval_minutes: 60", "interval_minutes: 15"), encoding="utf-8")
    dry = watertel("cloud", "import", str(new), "--config", str(cloud), "--dry-run")
    assert dry.returncode == 0 and "1 changed (ST-3)" in dry.stdout and "nothing written" in dry.stdout
    assert (tmp_path / "registry.yaml").read_text(encoding="utf-8") == REGISTRY
    assert not (tmp_path / "registry.yaml.bak").exists()
    assert watertel("cloud", "import", str(new), "--config", str(cloud)).returncode == 0
    assert (tmp_path / "registry.yaml").read_text(encoding="utf-8") == new.read_text(encoding="utf-8")


def export_csv(cloud: Path) -> list[dict]:
    out = watertel("cloud", "export", "--config", str(cloud), "--format", "csv")
    return list(csv.DictReader(io.StringIO(out.stdout)))


def write_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", encoding="utf-8-sig", newline="") as f:  # as Excel saves it: with a BOM
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("row, column, value, expected", [  # expected: after "bad.csv:", line: column: problem (fix)
    (1, "interval_minutes", "0", r"3: interval_minutes: Input should be greater than 0, got '0' \(use a number > 0\)"),
    (0, "kind", "lake", r"2: kind: .*got 'lake' \(use one of"),
    (2, "region", "zj-hz", r"4: region: 'zj-hz' is a city, not a county \(check the columns\)"),
    (2, "region_name", "", None),  # a known county needs no name
    (2, "city", "zj-hz-xh", r"4: city: 'zj-hz-xh' is a county, not a city \(check the columns\)"),
    (0, "points", "flow", r"2: meter_point: station ST-1 does not report 'total' \(its points: flow\)"),
    (1, "permit_m3", "99", r"3: permit_m3: '99' differs from line 2 for permit P-1 \(give the same value on every row"),
    (2, "plan_annual", "5", r"4: plan_annual: given without a permit id \(fill the permit column or clear this cell\)"),
    (0, "maintenance", "2026-10-12T08:00 2026-10-12T20:00",
     r"2: maintenance: .* is not START\.\.END \(e\.g\. 2026-10-12T08:00\.\.2026-10-12T20:00 note\)"),
    ((0, 1), "plan_annual", "130000",
     r"2: plan_annual: permit P-1 \(lines 2, 3\): the annual plan 130000 m3 is above the permitted .*\(.+\)"),
    (2, "id", "ST-1", r"4: id: station id 'ST-1' is used twice \(give each station its own id\)"),
    (0, "commissioned", "2026-13-01", r"2: commissioned: '2026-13-01' is not a date \(write YYYY-MM-DD"),
    (0, "commissioned", "2026/10/10", None),  # Excel's form of a date
    (0, "lat", "north", r"2: lat: 'north' is not a number \(write e\.g\. 12\.5\)"),
    (0, "lon", "", r"2: lon: '' is not a number \(write e\.g\. 12\.5\)"),  # lat without lon
    (0, "lat", "95", r"2: lat: Input should be less than or equal to 90, got 95"),
])
def test_a_bad_csv_names_row_and_column_and_changes_nothing(cloud, tmp_path, row, column, value, expected):
    rows = export_csv(cloud)
    for i in row if isinstance(row, tuple) else (row,):
        rows[i][column] = value
    src = write_csv(tmp_path / "bad.csv", rows)
    out = watertel("cloud", "import", str(src), "--config", str(cloud), "--dry-run")
    if expected is None:
        assert out.returncode == 0, out.stderr
        return
    assert out.returncode == 1
    assert re.search(rf"^{re.escape(str(src))}:{expected}", out.stderr, re.M), out.stderr
    assert (tmp_path / "registry.yaml").read_text(encoding="utf-8") == REGISTRY
    assert not (tmp_path / "registry.yaml.bak").exists()


def test_an_unknown_column_and_a_missing_one_are_refused(cloud, tmp_path):
    src = tmp_path / "cols.csv"
    src.write_text("id,name,colour,commissioned\nST-1,x,red,2026-01-01\n", encoding="utf-8")
    out = watertel("cloud", "import", str(src), "--config", str(cloud))
    assert out.returncode == 1
    assert f"{src}:1: colour: unknown column (the columns are: id, name, province," in out.stderr
    assert f"{src}:1: region: required column is missing (the header needs at least id,region,commissioned)" \
        in out.stderr


def test_a_bad_yaml_names_its_line_and_nothing_changes(cloud, tmp_path):
    src = tmp_path / "bad.yaml"
    src.write_text(REGISTRY.replace("interval_minutes: 60", "interval_minutes: -1"), encoding="utf-8")
    out = watertel("cloud", "import", str(src), "--config", str(cloud))
    assert out.returncode == 1
    assert f"{src}:35: stations.2.interval_minutes: Input should be greater than 0" in out.stderr
    assert (tmp_path / "registry.yaml").read_text(encoding="utf-8") == REGISTRY


def test_an_import_that_drops_a_users_region_is_refused(cloud, tmp_path):
    src = tmp_path / "smaller.yaml"
    src.write_text(REGISTRY.replace("          - {id: zj-hz-empty, name: 空区}\n", ""), encoding="utf-8")
    out = watertel("cloud", "import", str(src), "--config", str(cloud))
    assert out.returncode == 1
    assert f"{cloud}: api.users.0.regions: 'zj-hz-empty' is not a region in smaller.yaml" in out.stderr
    assert (tmp_path / "registry.yaml").read_text(encoding="utf-8") == REGISTRY


def test_a_station_with_two_meters_exports_as_yaml_only(cloud, tmp_path):
    registry = tmp_path / "registry.yaml"
    registry.write_text(REGISTRY.replace("      - ST-1\n", "      - ST-1\n      - {station: ST-2, point: total}\n"),
                        encoding="utf-8")
    out = watertel("cloud", "export", "--config", str(cloud), "--format", "csv")
    assert out.returncode == 1 and "station ST-2 has 2 meters (ST-2/total, ST-2/energy)" in out.stderr
    assert "--format yaml" in out.stderr
    assert watertel("cloud", "export", "--config", str(cloud)).returncode == 0


def test_other_file_kinds_and_a_config_without_registry_file_are_refused(cloud, tmp_path):
    (tmp_path / "r.json").write_text("{}")
    out = watertel("cloud", "import", str(tmp_path / "r.json"), "--config", str(cloud))
    assert out.returncode == 1 and "reads .yaml, .yml or .csv" in out.stderr
    bare = tmp_path / "bare.yaml"
    bare.write_text("data_dir: data\n")
    out = watertel("cloud", "export", "--config", str(bare))
    assert out.returncode == 1 and "registry_file: not set" in out.stderr

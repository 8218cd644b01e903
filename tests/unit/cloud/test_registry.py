"""The station registry: a good file loads into a region tree; bad ones fail as file:line: key: problem."""

from __future__ import annotations

import datetime as dt
import re
import textwrap

import pytest

from watertel.cloud.config import load_cloud_config
from watertel.cloud.registry import StationKind, load_registry
from watertel.config import ConfigError

from tests.support.paths import ROOT

GOOD = """\
provinces:
  - id: zj
    name: 浙江省
    cities:
      - id: zj-hz
        name: 杭州市
        counties:
          - {id: zj-hz-xh, name: 西湖区}
          - {id: zj-hz-yh, name: 余杭区}
stations:
  - id: ST-1
    name: 三墩取水口
    region: zj-hz-xh
    kind: intake
    interval_minutes: 5
    points: [flow, total]
    commissioned: 2026-10-10
    maintenance:
      - {start: "2026-10-12T08:00", end: "2026-10-12T20:00", note: pump replaced}
  - id: ST-2
    region: zj-hz-yh
    interval_minutes: 60
    commissioned: 2026-01-01
    decommissioned: 2026-12-01
"""


def write(tmp_path, text: str):
    path = tmp_path / "registry.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_good_registry_loads_with_its_region_tree(tmp_path):
    reg = load_registry(write(tmp_path, GOOD))
    assert [s.id for s in reg.stations] == ["ST-1", "ST-2"]
    st = reg.stations[0]
    assert st.kind is StationKind.INTAKE and st.interval_ms == 300_000 and st.points == ["flow", "total"]
    assert st.maintenance[0].start == dt.datetime(2026, 10, 12, 8)
    assert reg.ancestry("zj-hz-xh") == ["zj-hz-xh", "zj-hz", "zj"]
    assert reg.path("zj-hz-yh") == "zj/zj-hz/zj-hz-yh" and reg.levels["zj-hz"] == "city"
    assert [s.id for s in reg.stations_in("zj-hz-yh")] == ["ST-2"]
    assert [s.id for s in reg.stations_in("zj")] == ["ST-1", "ST-2"]


@pytest.mark.parametrize("change, expected", [
    (("interval_minutes: 5", "interval_minutes: 0"),
     r":15: stations\.0\.interval_minutes: Input should be greater than 0, got 0 \(use a number > 0\)"),
    (("kind: intake", "kind: lake"), r":14: stations\.0\.kind: .*got 'lake' \(use one of"),
    (("region: zj-hz-xh", "region: zj-hz"), r":13: stations\.0\.region: 'zj-hz' is a city or province \(use a county id\)"),
    (("region: zj-hz-xh", "region: nowhere"), r":13: stations\.0\.region: 'nowhere' is not a region in this file"),
    (("id: ST-2", "id: ST-1"), r":20: stations\.1\.id: station id 'ST-1' is used twice"),
    (("{id: zj-hz-yh", "{id: zj-hz-xh"), r":9: provinces\.0\.cities\.0\.counties\.1\.id: region id 'zj-hz-xh' is used twice"),
    (("decommissioned: 2026-12-01", "decommissioned: 2025-12-01"),
     r":20: stations\.1: decommissioned must be after commissioned \(2026-01-01\), got 2025-12-01"),
    (('end: "2026-10-12T20:00"', 'end: "2026-10-12T07:00"'), r":19: stations\.0\.maintenance\.0: end must be after start"),
    (("    commissioned: 2026-10-10\n", ""), r":11: stations\.0\.commissioned: required key is missing"),
    (("    kind: intake\n", "    kind: intake\n    colour: red\n"), r":15: stations\.0\.colour: unknown key"),
    (("    kind: intake\n", "    kind: intake\n    location: {lat: 30.3, lon: 200}\n"),
     r":15: stations\.0\.location\.lon: Input should be less than or equal to 180, got 200"),
])
def test_bad_registries_are_refused_naming_file_line_and_key(tmp_path, change, expected):
    path = write(tmp_path, GOOD.replace(*change, 1))
    with pytest.raises(ConfigError) as caught:
        load_registry(path)
    problems = caught.value.problems
    assert all(p.startswith(f"{path}:") for p in problems), problems
    assert re.search(expected, problems[0]), problems


def test_the_cloud_config_names_the_registry_and_the_rate_settings(tmp_path):
    (tmp_path / "cloud.yaml").write_text("data_dir: data\nregistry_file: registry.yaml\n"
                                         "quality: {timezone: Asia/Urumqi, on_time_minutes: 30, targets: {upload_rate: 0.9}}\n")
    cfg = load_cloud_config(tmp_path / "cloud.yaml")
    assert cfg.registry_file == tmp_path / "registry.yaml"
    assert cfg.quality.timezone == "Asia/Urumqi" and cfg.quality.on_time_minutes == 30
    assert cfg.quality.targets.upload_rate == 0.9 and cfg.quality.targets.timeliness == 0.95
    (tmp_path / "bad.yaml").write_text("data_dir: data\nquality:\n  timezone: Mars/Olympus\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:3: quality.timezone: unknown time zone, got 'Mars/Olympus'"):
        load_cloud_config(tmp_path / "bad.yaml")


def test_the_shipped_example_registry_loads():
    reg = load_registry(ROOT / "deploy" / "registry.example.yaml")
    assert [s.id for s in reg.stations] == ["ST-0001", "ST-0001-WQ"] and reg.path("zj-hz-xh") == "zj/zj-hz/zj-hz-xh"


# --- time-compressed runs (the fleet simulator): intervals in seconds, service from a moment --------


def test_a_station_may_report_every_few_seconds_from_a_moment_of_the_day(tmp_path):
    from zoneinfo import ZoneInfo

    from watertel.cloud.registry import to_ms

    text = GOOD.replace("interval_minutes: 60", "interval_seconds: 5").replace(
        "commissioned: 2026-01-01\n    decommissioned: 2026-12-01",
        "commissioned: 2026-11-30T09:15:00+08:00\n    decommissioned: '2026-11-30T09:20:00+08:00'")
    st = load_registry(write(tmp_path, text)).stations[1]
    assert st.interval_seconds == 5 and st.interval_minutes is None and st.interval_ms == 5_000
    shanghai = ZoneInfo("Asia/Shanghai")
    assert isinstance(st.decommissioned, dt.datetime)  # a quoted date-time keeps its time and offset
    assert to_ms(st.commissioned, shanghai) == int(dt.datetime(2026, 11, 30, 1, 15, tzinfo=dt.timezone.utc).timestamp() * 1000)
    assert to_ms(st.decommissioned, ZoneInfo("UTC")) - to_ms(st.commissioned, shanghai) == 300_000
    first = load_registry(write(tmp_path, text.replace("commissioned: 2026-11-30T09:15:00+08:00",
                                                        "commissioned: 2026-11-30T00:00:00+08:00"))).stations[1]
    assert isinstance(first.commissioned, dt.datetime) and first.commissioned.utcoffset() == dt.timedelta(hours=8)
    dates = load_registry(write(tmp_path, GOOD)).stations[1]
    assert type(dates.commissioned) is dt.date and dates.interval_ms == 3_600_000  # existing files read as before


@pytest.mark.parametrize("change, expected", [
    (("interval_minutes: 60", "interval_minutes: 60\n    interval_seconds: 5"),
     r":20: stations\.1: give exactly one of interval_minutes and interval_seconds \(got both\)"),
    (("    interval_minutes: 60\n", ""),
     r":20: stations\.1: give exactly one of interval_minutes and interval_seconds \(got neither\)"),
    (("interval_minutes: 60", "interval_seconds: 0"),
     r":22: stations\.1\.interval_seconds: Input should be greater than 0, got 0 \(use a number > 0\)"),
    (("decommissioned: 2026-12-01", "decommissioned: 2025-12-31T08:00:00"),
     r":20: stations\.1: decommissioned must be after commissioned \(2026-01-01\), got 2025-12-31 08:00:00"),
    (("commissioned: 2026-01-01", "commissioned: 2026-12-02T10:00:00+08:00"),  # after 2026-12-01 in every zone
     r":20: stations\.1: decommissioned must be after commissioned \(2026-12-02 10:00:00\+08:00\), got 2026-12-01"),
    (("decommissioned: 2026-12-01", "decommissioned: 2026-12-01T25:00"), r":24: stations\.1\.decommissioned\.date: .*hour value is outside"),
])
def test_bad_second_intervals_and_service_moments_are_refused(tmp_path, change, expected):
    path = write(tmp_path, GOOD.replace(*change, 1))
    with pytest.raises(ConfigError) as caught:
        load_registry(path)
    assert re.search(expected, caught.value.problems[0]), caught.value.problems


def test_a_moment_and_a_date_in_unknown_zones_are_only_refused_when_wrong_in_every_zone(tmp_path):
    # 2026-12-01T10:00+08:00 is 02:00 UTC; the local midnight ending 2026-11-30 is 12:00 UTC in UTC-12
    text = GOOD.replace("commissioned: 2026-01-01", "commissioned: 2026-12-01T10:00:00+08:00")
    st = load_registry(write(tmp_path, text)).stations[1]
    assert st.decommissioned == dt.date(2026, 12, 1)

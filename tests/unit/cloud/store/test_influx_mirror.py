"""The InfluxDB mirror: line protocol, batching, retry, and ingest never waiting on InfluxDB.

Most tests run against a small HTTP server started here on a free loopback port that implements
POST /api/v2/write (no InfluxDB 2/3 server can be installed on Debian: its InfluxDB 1.6 lacks that
endpoint). ``test_a_real_influxdb_gets_the_readings_and_returns_them`` writes to and queries a real
InfluxDB through influxdb-client when INFLUX_URL is set (with INFLUX_TOKEN, INFLUX_ORG,
INFLUX_BUCKET); it skips only when INFLUX_URL is unset.


This file holds the tests that need no server and start no process; the others are in
tests/integration/cloud/store/test_influx_mirror.py."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from watertel.cloud.config import load_cloud_config
from watertel.cloud.store.config import InfluxConfig
from watertel.cloud.store.influx_mirror import encode, line
from watertel.readings import Quality, Reading

from tests.support.paths import ROOT

TOKEN = "s3cret-token-never-logged"


# --- line protocol -------------------------------------------------------------------------------


@pytest.mark.parametrize("reading, expected", [
    (Reading("ST-1", "flow", 1_764_432_000_123, 12.5, "m3/h"),
     "reading,point=flow,quality=ok,station=ST-1,unit=m3/h value=12.5 1764432000123"),
    (Reading("pump house 3", "level,a=b", 5, 3.0, "m", Quality.OUT_OF_RANGE),
     r"reading,point=level\,a\=b,quality=out_of_range,station=pump\ house\ 3,unit=m value=3 5"),
    (Reading("城东水厂 1号井", "flow", 7, -0.25, "m³/h"), r"reading,point=flow,quality=ok,station=城东水厂\ 1号井,unit=m³/h value=-0.25 7"),
    (Reading("ST=2", "total", 8, 1e20, ""), r"reading,point=total,quality=ok,station=ST\=2 value=1e+20 8"),  # no empty tag
    (Reading("a\nb", "p", 9, 1.0, "x\\"), r"reading,point=p,quality=ok,station=a\nb,unit=x\  value=1 9"),
])
def test_line_protocol_escapes_tags_like_influxdb_client(reading, expected):
    from influxdb_client import Point, WritePrecision

    assert line(reading) == expected
    oracle = (Point("reading").tag("station", reading.station).tag("point", reading.point)
              .tag("quality", reading.quality.name.lower()).tag("unit", reading.unit or None)
              .field("value", float(reading.value)).time(reading.t_ms, WritePrecision.MS))
    assert line(reading) == oracle.to_line_protocol()


def test_non_finite_values_are_skipped_and_counted():
    rs = [Reading("S", "p", 1, math.nan, "m", Quality.TIMEOUT), Reading("S", "p", 2, math.inf, "m"),
          Reading("S", "p", 3, -math.inf, "m"), Reading("S", "p", 4, 2.0, "m")]
    assert [line(r) for r in rs[:3]] == [None, None, None]
    assert encode(rs) == (b"reading,point=p,quality=ok,station=S,unit=m value=2 4", 3)
    assert line(rs[3], measurement="water level") == "water\\ level,point=p,quality=ok,station=S,unit=m value=2 4"


# --- batching, retry, failure --------------------------------------------------------------------


# --- configuration -------------------------------------------------------------------------------


def test_the_mirror_is_off_by_default_and_needs_a_token_file_when_on(tmp_path):
    (tmp_path / "cloud.yaml").write_text("data_dir: data\n")
    assert load_cloud_config(tmp_path / "cloud.yaml").influx.enabled is False
    with pytest.raises(ValidationError, match="enabled: needs org, bucket and token_file"):
        InfluxConfig(enabled=True, org="o")
    (tmp_path / "cloud.yaml").write_text("data_dir: data\ninflux: {enabled: true, org: o, token_file: secrets/t}\n")
    with pytest.raises(Exception, match=r"influx.token_file: .*secrets/t does not exist"):
        load_cloud_config(tmp_path / "cloud.yaml")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "t").write_text("x")
    assert load_cloud_config(tmp_path / "cloud.yaml").influx.token_file == tmp_path / "secrets" / "t"


def test_the_commented_example_in_cloud_example_yaml_is_valid(tmp_path):
    import yaml

    text = (ROOT / "deploy" / "cloud.example.yaml").read_text(encoding="utf-8")
    block = text.split("# influx:", 1)[1].split("\n\n", 1)[0]
    doc = yaml.safe_load("influx:" + "\n".join(x.replace("#", "", 1) for x in block.splitlines()))
    assert InfluxConfig(**doc["influx"]).enabled is True


# --- a real InfluxDB 2/3 -------------------------------------------------------------------------

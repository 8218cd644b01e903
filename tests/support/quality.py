"""The four rates' test data: a registry of regions and stations, readings stored the way ingest
stores them with chosen arrival times, and the rollup tables read back."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import textwrap
from zoneinfo import ZoneInfo
from pathlib import Path

from watertel.cloud.quality.config import RatesConfig
from watertel.cloud.registry import load_registry
from watertel.cloud.store.sql import SqlStore
from watertel.envelope import Envelope
from watertel.readings import Quality, Reading
from watertel.cloud.store.sqlite import SqliteStore

SH = ZoneInfo("Asia/Shanghai")
CFG = RatesConfig()
MIN, HOUR, DAY = 60_000, 3_600_000, 86_400_000
SEQ = itertools.count(1)
REGIONS = """\
provinces:
  - id: zj
    name: 浙江省
    cities:
      - id: hz
        name: 杭州市
        counties: [{id: xh, name: 西湖区}, {id: yh, name: 余杭区}, {id: empty, name: 空县}]
      - id: nb
        name: 宁波市
        counties: [{id: hs, name: 海曙区}]
stations:
"""
STATIONS = """\
  - {id: A, name: 三墩取水口, region: xh, interval_minutes: 1440, commissioned: 2026-01-01}
  - {id: B, region: yh, interval_minutes: 1440, commissioned: 2026-01-01}
  - {id: C, region: hs, interval_minutes: 1440, commissioned: 2026-10-06}
"""


def registry(tmp_path, stations: str):
    path = tmp_path / "registry.yaml"
    path.write_text(REGIONS + textwrap.indent(textwrap.dedent(stations), "  "), encoding="utf-8")
    return load_registry(path)


def local(day: int, hour: float = 0, month: int = 10, year: int = 2026) -> int:
    """Unix ms of a local (Asia/Shanghai) time."""
    return int(dt.datetime(year, month, day, tzinfo=SH).timestamp() * 1000 + hour * HOUR)


def put(store: SqlStore, received_ms: int, *readings: tuple) -> None:
    """Store readings (station, t_ms[, point, quality]) as one envelope that arrived at ``received_ms``,
    through the back-end's own insert (duplicates are dropped there, as at ingest)."""
    rs = tuple(Reading(r[0], r[2] if len(r) > 2 else "flow", r[1], 1.0, "m3/h", r[3] if len(r) > 3 else Quality.OK)
               for r in readings)
    env = Envelope("gw-1", "k1", next(SEQ), b"\0" * 32, received_ms, rs, os.urandom(32))
    for r in rs:
        getattr(store, "_ensure_partition", lambda t: None)(r.t_ms)
    with store._write():
        store._insert(env, received_ms)


def on_time(store: SqlStore, station: str, t_ms: int, quality: Quality = Quality.OK) -> None:
    put(store, t_ms + 2 * MIN, (station, t_ms, "flow", quality))


def rate_days(store: SqlStore, station: str) -> dict[int, tuple]:
    rows = store._rows("SELECT day_ms, basis, received, on_time, future, flagged FROM rate_days"
                       " WHERE station = ? ORDER BY day_ms", (station,))
    return {d: tuple(rest) for d, *rest in rows}


def marks(store: SqlStore) -> list[tuple]:
    return [tuple(r) for r in store._rows("SELECT station, bucket FROM rollup_dirty ORDER BY station, bucket")]


def ten_days_of_three_stations(tmp_path: Path) -> Path:
    """A cloud config (its path) with a registry and a SQLite store holding ten days of three
    stations: A daily, B missing days 3 and 4, C from day 6 and always late."""
    (tmp_path / "registry.yaml").write_text(REGIONS + STATIONS, encoding="utf-8")
    (tmp_path / "cloud.yaml").write_text("data_dir: data\nregistry_file: registry.yaml\n")
    store = SqliteStore(tmp_path / "data" / "watertel.db")
    for day in range(1, 11):
        t = local(day, 8)
        put(store, t + MIN, ("A", t))
        if day not in (3, 4):
            put(store, t + MIN, ("B", t))
        if day >= 6:
            put(store, t + 2 * HOUR, ("C", t))  # always late
    store.close()
    return tmp_path / "cloud.yaml"

"""Permits on a registry and counter readings stored as ingest stores them, for the over-permit
alarms and the rates report's permit list."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import textwrap

from watertel.cloud.registry import load_registry
from watertel.envelope import Envelope
from watertel.readings import Quality, Reading

from tests.support.quality import HOUR, SH

SEQ = itertools.count(1)
REGIONS = """\
provinces:
  - {id: zj, name: 浙江省, cities: [{id: hz, name: 杭州市, counties: [{id: xh, name: 西湖区}]}]}
stations:
  - {id: ST-1, region: xh, interval_minutes: 60, points: [flow, total], commissioned: 2025-01-01}
  - {id: ST-2, region: xh, interval_minutes: 60, commissioned: 2025-01-01}
  - {id: WELL-3, region: xh, kind: well, interval_minutes: 60, commissioned: 2025-01-01}
"""
# --- the rates report ----------------------------------------------------------------------------
REPORT_PERMITS = """\
- {id: P-1, holder: 某食品公司, permitted_m3: 1000, meters: [ST-1]}
- {id: P-2, holder: 灌区, permitted_m3: 1000, meters: [ST-2]}
"""


def registry(tmp_path, permits: str):
    path = tmp_path / "registry.yaml"
    path.write_text(REGIONS + "permits:\n" + textwrap.indent(textwrap.dedent(permits), "  "), encoding="utf-8")
    return load_registry(path)


def at(month: int, day: int, hour: float = 0, year: int = 2026) -> int:
    """Unix ms of a local (Asia/Shanghai) time."""
    return int(dt.datetime(year, month, day, tzinfo=SH).timestamp() * 1000 + hour * HOUR)


def put(store, *readings: tuple) -> None:
    """Store (station, point, t_ms, value[, quality]) as one envelope through the back-end's insert."""
    rs = tuple(Reading(r[0], r[1], r[2], r[3], "kWh" if r[1] == "energy" else "m3", r[4] if len(r) > 4 else Quality.OK)
               for r in readings)
    env = Envelope("gw-1", "k1", next(SEQ), b"\0" * 32, max(r.t_ms for r in rs), rs, os.urandom(32))
    with store._write():
        store._insert(env, max(r.t_ms for r in rs))


def fill(store) -> None:
    put(store, ("ST-1", "total", at(1, 1, 12), 0.0), ("ST-2", "total", at(1, 1, 12), 0.0))
    put(store, ("ST-1", "total", at(1, 11, 12), 850.0), ("ST-2", "total", at(1, 11, 12), 500.0))
    put(store, ("ST-1", "total", at(2, 5, 12), 2000.0))  # after the period

"""`watertel alarms backtest`: the alarms a month of readings would have raised, before the rules go live.

The readings are replayed through the real :class:`~cloud.alarms.engine.AlarmEngine` (every rule
it has: device faults, clock, totaliser resets, water quality, consecutive zeros, spikes, volume
change, night flow, mass balance, burst; on its timers data stopped and the permits) on a
throw-away SQLite store, with a clock that follows the sample times: each sample time's readings
are stored and judged as if they arrived when sampled, and the timed checks run every
``alarms.check_every_s`` / ``alarms.permits_every_s`` of sample time in between, up to the last
sample of the file. The alarms are then read back from the store. The lifecycle's flapping hold,
escalation and notifications are not run: each raise and clear is listed as the rules made it.

Both files are CSV with a header line, read by ``cloud/csv_tables`` (UTF-8 with or without a BOM,
or GB18030/GBK as Excel on Chinese Windows saves it); columns are matched by name, others are
ignored; times are ISO 8601 or Excel's ``2026/10/1 8:05``.

Readings (one row per sample, in any order)::

    station,point,sample_time,value,quality,unit
    ST-0001,flow,2026-10-01T00:05:00+08:00,132.5,ok,m3/h
    ST-0001,turbidity,2026-10-01T00:05:00+08:00,,sensor_fault,

* ``point``: named as in the profiles (``flow``, ``total``, ``pressure``, ``free_chlorine``,
  ``turbidity``, ``ph``, ``energy``, …).
* ``sample_time``: ISO 8601; without an offset, local time in ``--tz``.
* ``quality``: empty or ``ok``, or a watertel quality name (``timeout``, ``exception``,
  ``out_of_range``, ``sensor_fault``, ``comm_error``, ``total_rollover``, ``total_reset``,
  ``clock_unsynced``); ``value`` may be empty only when the quality says no value was read.
* ``unit`` is optional (used in the messages).

Stations (one row per station)::

    station,region,kind,interval_minutes,permit_m3,permit_year_start,area,area_role
    ST-0001,zj/hz/xh,intake,5,120000,01-01,,
    DMA-IN,zj/hz/xh,network,5,,,DMA-1,inlet

* ``region``: ``province/city/county``; ``kind``: a registry station kind (intake, well, plant,
  network, quality, pressure, pump, level, drainage, other); ``interval_minutes``: the expected
  reporting interval (data stopped).
* ``permit_m3`` (optional): a withdrawal permit with the station's id, counting its ``total``
  point, over permit years starting on ``permit_year_start`` (MM-DD, default 01-01).
* ``area`` and ``area_role`` (optional, together): the metered area (``alarms.areas`` of the
  mass balance) the station's flow goes into, as ``inlet``, ``outlet`` or ``consumer``; one area
  per station. Areas given in the rules file too must have other ids.
* ``commissioned`` / ``decommissioned`` (optional ISO dates): otherwise every station is in
  service from the file's first sample time.

Output: a list of alarms ``{rule, station, point, severity, raised_at, cleared_at, details}``
(``cleared_at`` null when still open at the file's end; over-permit alarms carry the permit id,
which is the station id, and point ``permit``), as JSON or CSV. ``--rules`` takes the
``alarms:`` section (or a cloud config containing one) as documented in ``cloud/alarms/config.py``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from watertel.cloud.alarms.backtest_csv import StationTable, load_station_table, stage_readings
from watertel.cloud.alarms.config import AlarmsConfig
from watertel.cloud.alarms.engine import AlarmEngine
from watertel.cloud.alarms.lifecycle import LifecycleConfig
from watertel.cloud.store.sqlite import SqliteStore
from watertel.config import ConfigError, parse_yaml, validate
from watertel.envelope import GENESIS_HASH, Envelope
from watertel.readings import Quality, Reading

FIELDS = ("rule", "station", "point", "severity", "raised_at", "cleared_at", "details")
GATEWAY = "backtest"
PROGRESS_EVERY = 100_000  # readings


class _Clock:
    """The engine's clock: the replay sets it to the sample time being judged."""

    def __init__(self, t_ms: int) -> None:
        self.t_ms = t_ms

    def __call__(self) -> float:
        return self.t_ms / 1000


def load_rules(path: Path | None) -> AlarmsConfig:
    """The ``alarms:`` settings of a YAML file: the section itself, or a file with an ``alarms:`` key."""
    if path is None:
        return AlarmsConfig()
    data, node = parse_yaml(path)
    if isinstance(data, dict) and "alarms" in data:
        data = data["alarms"]
        node = next((v for k, v in getattr(node, "value", []) if getattr(k, "value", None) == "alarms"), None)
    return validate(path, data, node, AlarmsConfig)


def _with_areas(cfg: AlarmsConfig, table: StationTable, rules_path: Path | None) -> AlarmsConfig:
    if not table.areas:
        return cfg
    clash = sorted({a.id for a in cfg.areas} & {a.id for a in table.areas})
    if clash:
        raise ConfigError(table.path, [f"{table.path}: area: {', '.join(clash)} also defined under alarms.areas in"
                                       f" {rules_path} (give the areas in one place)"])
    data = cfg.model_dump(exclude_unset=True)
    data["areas"] = [a.model_dump() for a in cfg.areas] + [a.model_dump() for a in table.areas]
    return AlarmsConfig.model_validate(data)


def backtest(readings: Path, stations: Path, rules: Path | None = None, tz: ZoneInfo = ZoneInfo("Asia/Shanghai"),
             progress: TextIO | None = None) -> list[dict]:
    """Replay ``readings`` through the alarm engine; return the alarms raised, oldest first."""
    table = load_station_table(stations, tz)
    cfg = _with_areas(load_rules(rules), table, rules)
    with tempfile.TemporaryDirectory(prefix="watertel-backtest-") as tmp:
        staging = sqlite3.connect(Path(tmp) / "staging.db")
        try:
            span = stage_readings(readings, set(table.rows), tz, staging, progress)
            if span is None:
                return []
            registry = table.registry(span[0])
            store = SqliteStore(Path(tmp) / "store.db")
            store.db.execute("PRAGMA synchronous=OFF")  # a throw-away store: no fsync per poll
            try:
                clock = _Clock(span[0])
                engine = AlarmEngine(store, cfg, registry, tz, clock,
                                     LifecycleConfig.model_validate({"flapping": {"enabled": False}}))
                _replay(_polls(staging), store, engine, clock, cfg, bool(registry.permits), span, progress)
                return [_row(a, tz) for a in sorted(store.alarms(), key=lambda a: (a["raised_ms"], a["id"]))]
            finally:
                store.close()
        finally:
            staging.close()


def _polls(staging: sqlite3.Connection) -> Iterator[tuple[int, list[Reading]]]:
    """(sample time, readings) in time order, read in chunks (the file may not fit in memory)."""
    cur = staging.execute("SELECT t_ms, station, point, value, unit, quality FROM rows ORDER BY t_ms, station, line")
    t_now, batch = None, []
    while rows := cur.fetchmany(10_000):
        for t_ms, station, point, value, unit, quality in rows:
            if t_ms != t_now and batch:
                yield t_now, batch
                batch = []
            t_now = t_ms
            batch.append(Reading(station, point, t_ms, float("nan") if value is None else value, unit, Quality(quality)))
    if batch:
        yield t_now, batch


def _replay(polls: Iterator[tuple[int, list[Reading]]], store: SqliteStore, engine: AlarmEngine, clock: _Clock,
            cfg: AlarmsConfig, permits: bool, span: tuple[int, int], progress: TextIO | None) -> None:
    """Store and judge each sample time's readings; run the timed checks at their times in between."""
    step_stop, step_permit = int(cfg.check_every_s * 1000), int(cfg.permits_every_s * 1000)
    next_stop, next_permit = span[0] + step_stop, span[0] + step_permit if permits else None
    prev_hash, seq, done = GENESIS_HASH, 0, 0

    def timers_until(t_ms: int) -> None:
        nonlocal next_stop, next_permit
        while next_stop <= t_ms or (next_permit is not None and next_permit <= t_ms):
            if next_permit is not None and next_permit < next_stop:
                clock.t_ms, next_permit = next_permit, next_permit + step_permit
                engine.check_permits()
            else:
                clock.t_ms, next_stop = next_stop, next_stop + step_stop
                engine.check_data_stopped()

    for t_ms, readings in polls:
        timers_until(t_ms - 1)  # a check at the very sample time runs after the sample arrived
        clock.t_ms, seq = t_ms, seq + 1
        this_hash = seq.to_bytes(32, "big")
        accepted = store.accept(Envelope(GATEWAY, GATEWAY, seq, prev_hash, t_ms, tuple(readings), this_hash))
        prev_hash = this_hash
        engine.on_readings(accepted.new_readings)
        if progress is not None and (done + len(readings)) // PROGRESS_EVERY > done // PROGRESS_EVERY:
            print(f"replayed {done + len(readings):,} readings (to {_iso(t_ms, engine.tz)})", file=progress, flush=True)
        done += len(readings)
    timers_until(span[1])


def _iso(t_ms: int | None, tz: ZoneInfo) -> str | None:
    return None if t_ms is None else dt.datetime.fromtimestamp(t_ms / 1000, tz).isoformat(timespec="seconds")


def _row(alarm: dict, tz: ZoneInfo) -> dict:
    return {"rule": alarm["type"], "station": alarm["station"], "point": alarm["point"], "severity": alarm["severity"],
            "raised_at": _iso(alarm["raised_ms"], tz), "cleared_at": _iso(alarm["cleared_ms"], tz),
            "details": alarm["message"]}


def render(alarms: list[dict], fmt: str) -> str:
    """The alarms as JSON (a list of objects) or CSV (``FIELDS`` as the header)."""
    if fmt == "json":
        return json.dumps(alarms, ensure_ascii=False, indent=1) + "\n"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(alarms)
    return out.getvalue()

"""One store test suite, run against both back-ends: SQLite and a real PostgreSQL server.

This file holds the tests that need a real server or run a command; the others are in
tests/unit/cloud/store/test_store.py."""

from __future__ import annotations

import math
import threading
import time

import pytest

from watertel.cloud.store.sql import SqlStore
from watertel.cloud.store.sqlite import SqliteStore
from watertel.crypto import SM2PrivateKey
from watertel.envelope import GENESIS_HASH, ChainState, Envelope, open_envelope, seal
from watertel.readings import Quality, Reading

from tests.support.stores import UNDO_VERSION_7, UNDO_VERSION_8, UNDO_VERSION_9

KEY = SM2PrivateKey.generate()
T0 = 1_793_404_800_000  # 2026-10-31T00:00:00Z: a month boundary a day later


def chain(batches: list[list[Reading]], state: ChainState = ChainState()) -> list[Envelope]:
    envelopes = []
    for readings in batches:
        data, state = seal(readings, KEY, "gw-1", "k1", state, int(time.time() * 1000))
        envelopes.append(open_envelope(data, lambda g, k: KEY.public))
    return envelopes


def r(i: int, value: float | None = None, point: str = "flow") -> Reading:
    return Reading("ST-1", point, T0 + i * 60_000, float(i) if value is None else value, "m3/h", Quality.OK)


def test_each_reading_once_whatever_the_delivery_order(open_store):
    store = open_store()
    envs = chain([[r(0), r(1)], [r(2), r(3)], [r(4), r(5)]])
    results = [store.accept(e) for e in (envs[2], envs[0], envs[2], envs[1], envs[0])]
    assert [a.status for a in results] == ["stored", "stored", "duplicate", "stored", "duplicate"]
    assert results[0].gap_before and not results[1].gap_before and not results[3].gap_before
    assert [x.value for x in store.readings()] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert store.counts()["envelopes"] == 3 and store.counts()["readings"] == 6


def test_new_readings_are_reported_and_overlapping_samples_count_as_duplicates(open_store):
    store = open_store()
    first, second = chain([[r(0), r(1)], [r(1), r(2)]])  # the edge re-sampled minute 1
    assert len(store.accept(first).new_readings) == 2
    again = store.accept(second)
    assert again.new_readings == (r(2),) and again.duplicate_readings == 1


def test_reused_sequence_numbers_and_forks_are_refused(open_store):
    store = open_store()
    envs = chain([[r(0)], [r(1)]])
    for e in envs:
        store.accept(e)
    other = chain([[r(7)], [r(8)]])  # a second chain from genesis: same seq numbers, other bytes
    assert store.accept(other[1]).reason == "seq_reused"
    fork = chain([[r(9)]], ChainState(3, b"\x07" * 32))[0]
    assert store.accept(fork).reason == "chain_mismatch"
    restart = chain([[r(10)]], ChainState(10**12, GENESIS_HASH))[0]
    assert store.accept(restart).status == "stored"


def test_values_flags_and_the_whole_sequence_range_survive(open_store):
    store = open_store()
    odd = [Reading("ST-1", "ph", T0, math.nan, "pH", Quality.TIMEOUT), Reading("ST-1", "t", T0, -1.5e-300, "degC"),
           Reading("ST-2", "q", T0 + 86_400_000 * 2, 12.345678901234567, "m3", Quality.SENSOR_FAULT)]  # next month
    (env,) = chain([odd], ChainState(2**64 - 1, GENESIS_HASH))
    assert store.accept(env).status == "stored"
    got = {(x.station, x.point): x for x in store.readings()}
    assert math.isnan(got["ST-1", "ph"].value) and got["ST-1", "ph"].quality is Quality.TIMEOUT
    assert got["ST-1", "t"].value == -1.5e-300 and got["ST-2", "q"] == odd[2]
    assert store.accept(env).status == "duplicate"


def test_latest_quarantine_and_alarms(open_store):
    store = open_store()
    for e in chain([[r(0, point="flow"), r(0, 5.0, point="pressure")], [r(1, 7.0, point="flow")]]):
        store.accept(e)
    assert [(x["point"], x["value"]) for x in store.latest()] == [("flow", 7.0), ("pressure", 5.0)]
    store.quarantine("watertel/gw-9/up", b"\x00junk", "bad_signature", "signature does not verify")
    assert store.counts()["refused"] == {"bad_signature": 1}
    assert store.raise_alarm("ST-1", "flow", "spike", "red", "jump", T0) is True
    assert store.raise_alarm("ST-1", "flow", "spike", "red", "jump again", T0 + 1) is False
    assert store.clear_alarm("ST-1", "flow", "spike", T0 + 2) is True
    assert store.raise_alarm("ST-1", "flow", "spike", "red", "back", T0 + 3) is True
    assert [a["state"] for a in store.alarms()] == ["raised", "cleared"]
    assert store.station_stats()[0]["open_alarms"] == 1


def test_two_workers_racing_on_the_same_envelopes_store_each_reading_once(open_store):
    stores = [open_store(), open_store()]
    envs = chain([[r(i * 10 + j) for j in range(10)] for i in range(30)])
    outcomes: list[str] = []

    def work(store: SqlStore, order: list[Envelope]) -> None:
        outcomes.extend(store.accept(e).status for e in order)

    threads = [threading.Thread(target=work, args=(stores[0], envs)),
               threading.Thread(target=work, args=(stores[1], envs[::-1]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["duplicate"] * 30 + ["stored"] * 30
    assert [x.value for x in stores[0].readings()] == [float(i) for i in range(300)]


def test_postgres_partitions_readings_by_month(postgres):
    from watertel.cloud.store.postgres import PostgresStore

    store = PostgresStore(postgres)
    try:
        store.accept(chain([[r(0), r(60 * 24 + 1)]])[0])  # 31 Oct and 1 Nov
        rows = store._rows("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                           "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'readings' ORDER BY 1")
        assert [name for (name,) in rows] == ["readings_p202610", "readings_p202611"]
        assert len(store.readings()) == 2
    finally:
        store.close()


def test_an_older_store_is_refused_until_migrated_and_keeps_its_data(open_store):
    from watertel.cloud.store import SCHEMA_VERSION, StoreError

    store = open_store()
    store.accept(chain([[r(0), r(1)]])[0])
    # what the first released schema (version 1) looked like: no envelopes_received index, no audit log
    store._execute("DROP INDEX envelopes_received")
    store._execute("DROP TABLE audit")
    for sql in UNDO_VERSION_9 + UNDO_VERSION_8 + UNDO_VERSION_7:
        store._execute(sql)
    if isinstance(store, SqliteStore):
        store.db.execute("PRAGMA user_version = 1")
    else:
        store._execute("UPDATE schema_version SET version = 1")
    with pytest.raises(StoreError, match="older than this watertel .*watertel cloud migrate"):
        open_store()
    open_store(migrate=True)
    again = open_store()
    assert [x.value for x in again.readings()] == [0.0, 1.0]
    index = "SELECT name FROM sqlite_master WHERE name = 'envelopes_received'" if isinstance(again, SqliteStore) \
        else "SELECT indexname FROM pg_indexes WHERE indexname = 'envelopes_received'"
    assert again._rows(index) and SCHEMA_VERSION == 9
    assert again._rows("SELECT count(*) FROM audit") == [(0,)]  # version 3: the audit log (cloud/audit.py)
    assert again._rows("SELECT count(*) FROM rate_days") == [(0,)]  # version 4: rates rollups (test_quality_rollups.py)
    assert again._rows("SELECT count(*) FROM point_hours") == [(0,)]  # version 6: hour rollups (test_hourly_rollups.py)


def test_a_version_2_store_is_migrated_to_the_audit_log(open_store):
    from watertel.cloud import audit
    from watertel.cloud.store import StoreError

    store = open_store()
    store.accept(chain([[r(0)]])[0])
    store._execute("DROP TABLE audit")  # what schema version 2 looked like
    for sql in UNDO_VERSION_9 + UNDO_VERSION_8 + UNDO_VERSION_7:
        store._execute(sql)
    if isinstance(store, SqliteStore):
        store.db.execute("PRAGMA user_version = 2")
    else:
        store._execute("UPDATE schema_version SET version = 2")
    with pytest.raises(StoreError, match="schema version 2, older than this watertel"):
        open_store()
    again = open_store(migrate=True)
    audit.append(again, actor="a", role="admin", client="::1", method="POST", path="/api/x", summary="", status=200)
    assert audit.verify(again) == audit.Verdict(1) and [x.value for x in again.readings()] == [0.0]


def test_a_version_4_store_is_migrated_to_the_alarm_lifecycle(open_store):
    """Version 5: alarm history and status, work orders, the notification outbox; an alarm raised
    before it (no status row) is handled like a new one, and stays the only open one when acknowledged."""
    from watertel.cloud.store import StoreError

    store = open_store()
    for table in ("alarm_history", "alarm_status", "work_orders", "notify_outbox", "notify_cursor"):
        store._execute(f"DROP TABLE {table}")  # what schema version 4 looked like
    store._execute("DROP INDEX alarms_open")
    store._execute("CREATE UNIQUE INDEX alarms_open ON alarms(station, point, type) WHERE state = 'raised'")
    for sql in UNDO_VERSION_9 + UNDO_VERSION_8 + UNDO_VERSION_7:
        store._execute(sql)
    store._execute("INSERT INTO alarms (station, point, type, severity, state, message, raised_ms)"
                   " VALUES ('ST-1', 'flow', 'spike', 'red', 'raised', 'old', 1)")
    if isinstance(store, SqliteStore):
        store.db.execute("PRAGMA user_version = 4")
    else:
        store._execute("UPDATE schema_version SET version = 4")
    with pytest.raises(StoreError, match="schema version 4, older than this watertel"):
        open_store()
    again = open_store(migrate=True)
    (alarm,) = again.alarms(open_only=True)
    assert (alarm["message"], alarm["level"], alarm["acked_by"]) == ("old", 0, None)
    assert again.acknowledge(alarm["id"], "op", 2)["state"] == "acknowledged"
    assert not again.raise_alarm("ST-1", "flow", "spike", "red", "again", 3), "acknowledged is still open"
    assert [h["action"] for h in again.alarm_history(alarm["id"])] == ["acknowledged"]
    assert again.clear_alarm("ST-1", "flow", "spike", 4) and again.raise_alarm("ST-1", "flow", "spike", "red", "new", 5)


def test_a_version_6_store_is_migrated_to_alarm_message_codes(open_store):
    """Version 7: an alarm keeps its message as data (code and parameters, cloud/alarms/messages.py)
    beside the text; alarms raised before read with no code and no parameters (shown by their text)."""
    from watertel.cloud.store import StoreError

    store = open_store()
    store.raise_alarm("ST-1", "turbidity", "water_quality", "orange", "turbidity 1.5 NTU above 1", 1)
    for sql in UNDO_VERSION_9 + UNDO_VERSION_8 + UNDO_VERSION_7:  # what schema version 6 looked like
        store._execute(sql)
    if isinstance(store, SqliteStore):
        store.db.execute("PRAGMA user_version = 6")
    else:
        store._execute("UPDATE schema_version SET version = 6")
    with pytest.raises(StoreError, match="schema version 6, older than this watertel"):
        open_store()
    again = open_store(migrate=True)
    (old,) = again.alarms(open_only=True)
    assert (old["message"], old["message_code"], old["message_params"]) == ("turbidity 1.5 NTU above 1", "", {})
    params = {"point": "ph", "value": 9.1, "unit": "", "limit": 8.5, "since_ms": 2, "note": "中文 ok"}
    assert again.raise_alarm("ST-1", "ph", "water_quality", "orange", "ph 9.1 above 8.5", 3,
                             code="water_quality.above", params=params)
    new = next(a for a in again.alarms(open_only=True) if a["point"] == "ph")
    assert (new["message_code"], new["message_params"]) == ("water_quality.above", params)
    assert again.clear_alarm("ST-1", "ph", "water_quality", 4)
    (record,) = again.alarm_records([new["id"]])
    assert (record.state, record.message_code, record.message_params) == ("cleared", "water_quality.above", params)


def test_a_store_from_a_newer_watertel_is_refused(open_store, request):
    from watertel.cloud.store import SCHEMA_VERSION, StoreError

    store = open_store()
    if isinstance(store, SqliteStore):
        store.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    else:
        store._execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}, newer than this watertel"):
        open_store()


def test_retention_removes_exactly_the_old_readings(open_store):
    import asyncio

    from watertel.cloud.service import apply_retention

    store = open_store()
    now_ms = int(time.time() * 1000)
    day = 86_400_000
    ages = [500, 401, 400.5, 399, 30, 0]  # days
    readings = [Reading("ST-1", "flow", now_ms - int(a * day), float(a), "m3/h") for a in ages]
    for env in chain([readings[:3], readings[3:]]):
        store.accept(env)
    assert asyncio.run(apply_retention(store, raw_days=400, pause_s=0)) == 3
    assert sorted(r.value for r in store.readings()) == [0.0, 30.0, 399.0]
    assert store.counts()["envelopes"] == 2, "envelopes (the chain) are kept"


def test_workers_starting_together_on_a_new_sqlite_file_all_open_it(tmp_path):
    """Ingest workers are processes: each opens the new file at once; one sets it up, all open it."""
    import subprocess
    import sys

    at = time.time() + 3  # all imports done by then: the opens collide
    code = (f"import time; from pathlib import Path; from cloud.store.sqlite import SqliteStore\n"
            f"time.sleep(max(0, {at} - time.time())); SqliteStore(Path({str(tmp_path / 'new.db')!r}))")
    procs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) for _ in range(6)]
    failures = [p.communicate(timeout=60)[1] for p in procs if p.wait(60) != 0]
    assert failures == []

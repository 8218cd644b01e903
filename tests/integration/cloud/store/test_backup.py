"""Online backup while envelopes keep arriving, and restore into an empty store: every reading
committed before the backup began is there, and every restored envelope has all its readings."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
import yaml

from watertel.cloud.config import load_cloud_config
from watertel.cloud.store import open_store
from watertel.cloud.store import SCHEMA_VERSION
from watertel.crypto import SM2PrivateKey
from watertel.envelope import ChainState, open_envelope, seal
from watertel.readings import Reading

from tests.support.stores import UNDO_VERSION_7, UNDO_VERSION_9

KEY = SM2PrivateKey.generate()


def cloud_yaml(path, data_dir, dsn: str | None):
    path.write_text(yaml.safe_dump({"data_dir": str(data_dir),
                                    **({"store": {"kind": "postgres", "dsn": dsn}} if dsn else {})}))
    return path


def watertel(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "watertel", *args], capture_output=True, text=True, timeout=120)


class Writer(threading.Thread):
    """Stores envelopes of 20 readings back to back until told to stop, like a busy ingest worker."""

    def __init__(self, cfg) -> None:
        super().__init__(name="writer")
        self.store, self.stop, self.state, self.n = open_store(cfg.store, cfg.data_dir), threading.Event(), ChainState(), 0

    def run(self) -> None:
        while not self.stop.is_set():
            readings = [Reading("S1", "flow", 1_700_000_000_000 + (self.n * 20 + j) * 1000, float(j), "m3/h") for j in range(20)]
            data, self.state = seal(readings, KEY, "gw-1", "k1", self.state, 0)
            assert self.store.accept(open_envelope(data, lambda g, k: KEY.public)).status == "stored"
            self.n += 1
        self.store.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_backup_under_load_then_restore(kind, request, tmp_path):
    dsn = fresh = None
    if kind == "postgres":
        dsn, fresh = request.getfixturevalue("postgres"), request.getfixturevalue("postgres_server").new_database()
    live = cloud_yaml(tmp_path / "live.yaml", tmp_path / "live", dsn)
    writer = Writer(load_cloud_config(live))
    writer.start()
    try:
        while writer.n < 50:
            time.sleep(0.01)
        loaded = load_cloud_config(live)
        reader = open_store(loaded.store, loaded.data_dir)
        before = {r.key() for r in reader.readings()}  # committed before the backup began
        reader.close()
        done = watertel("cloud", "backup", "--config", str(live), "--out", str(tmp_path / "backup.bin"))
        assert done.returncode == 0, done.stderr
        at_end = writer.n
    finally:
        writer.stop.set()
        writer.join(30)
    assert at_end > 50 + 5, "the writer kept going during the backup"

    again = watertel("cloud", "backup", "--config", str(live), "--out", str(tmp_path / "backup.bin"))
    assert again.returncode == 1 and "never overwrites" in again.stderr

    target = cloud_yaml(tmp_path / "restored.yaml", tmp_path / "restored", fresh)
    done = watertel("cloud", "restore", str(tmp_path / "backup.bin"), "--config", str(target))
    assert done.returncode == 0, done.stderr
    restored_cfg = load_cloud_config(target)
    store = open_store(restored_cfg.store, restored_cfg.data_dir)
    try:
        restored = store.readings()
        envelopes = store._rows("SELECT count(*), coalesce(sum(n), 0) FROM envelopes")[0]
    finally:
        store.close()
    assert before <= {r.key() for r in restored}
    assert envelopes[1] == len(restored), "every restored envelope has all its readings"

    twice = watertel("cloud", "restore", str(tmp_path / "backup.bin"), "--config", str(target))
    assert twice.returncode == 1 and "--force" in twice.stderr


def test_the_service_refuses_a_store_from_a_newer_version_with_a_clear_message(tmp_path):
    import sqlite3

    from watertel.cloud.store import SCHEMA_VERSION

    (tmp_path / "data").mkdir()
    with sqlite3.connect(tmp_path / "data" / "watertel.db") as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    done = watertel("cloud", "ingest", "--config", str(cloud_yaml(tmp_path / "c.yaml", tmp_path / "data", None)))
    assert done.returncode == 1 and "newer than this watertel knows" in done.stderr and "Traceback" not in done.stderr


def test_cloud_migrate_upgrades_a_first_schema_store(tmp_path):
    import sqlite3

    cfg = cloud_yaml(tmp_path / "c.yaml", tmp_path / "data", None)
    assert watertel("cloud", "migrate", "--config", str(cfg)).returncode == 0  # a new store: made at the latest
    with sqlite3.connect(tmp_path / "data" / "watertel.db") as db:
        db.execute("DROP INDEX envelopes_received")
        for table in ("audit", "rate_days", "rollup_dirty", "rollup_claimed"):  # what migrations 3 and 4 add
            db.execute(f"DROP TABLE {table}")
        for sql in UNDO_VERSION_9 + UNDO_VERSION_7:
            db.execute(sql)
        db.execute("PRAGMA user_version = 1")
    refused = watertel("cloud", "ingest", "--config", str(cfg))
    assert refused.returncode == 1 and "watertel cloud migrate" in refused.stderr
    done = watertel("cloud", "migrate", "--config", str(cfg))
    assert done.returncode == 0 and f"schema version {SCHEMA_VERSION}" in done.stdout, done.stderr

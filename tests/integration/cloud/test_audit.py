"""The audit log: a row for every write through the API, SM3-chained so `watertel audit verify`
finds an edited, deleted or inserted row, on both store back-ends; and the store migration that
adds it (schema version 2 → 3).

This file holds the tests that need a real server or run a command; the others are in
tests/unit/cloud/test_audit.py."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest
import yaml

from watertel.cloud import audit
from watertel.cloud.api.app import create_app
from watertel.cloud.config import ApiConfig
from watertel.cloud.users import UserEntry
from watertel.cloud.store import SCHEMA_VERSION, SqlStore, StoreError
from watertel.cloud.store.sqlite import SqliteStore

from tests.support.api import PASSWORD, Client, legacy_scrypt_hash, serve
from tests.support.audit import T0, add
from tests.support.stores import UNDO_VERSION_7, UNDO_VERSION_9


def watertel(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "watertel", *args], capture_output=True, text=True, timeout=120)


def cloud_yaml(tmp_path, dsn: str | None = None):
    path = tmp_path / "cloud.yaml"
    path.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data"),
                                    **({"store": {"kind": "postgres", "dsn": dsn}} if dsn else {})}))
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request, tmp_path):
    """(store, cloud.yaml for it) on a fresh database of each back-end."""
    if request.param == "sqlite":
        store: SqlStore = SqliteStore(tmp_path / "data" / "watertel.db")
        cfg = cloud_yaml(tmp_path)
    else:
        from watertel.cloud.store.postgres import PostgresStore

        dsn = request.getfixturevalue("postgres")
        store, cfg = PostgresStore(dsn), cloud_yaml(tmp_path, dsn)
    yield store, cfg
    store.close()


def test_writes_through_the_api_are_audited_and_the_log_is_for_admins(tmp_path):
    store = SqliteStore(tmp_path / "w.db")
    scrypt = legacy_scrypt_hash(PASSWORD)
    users = [UserEntry(username="boss", password_hash=scrypt, role="admin"),
             UserEntry(username="ops", password_hash=scrypt, role="operator")]
    base, server, thread = serve(create_app(store, ApiConfig(users=users, login_max_failures=2)))
    try:
        ops, boss = Client(base), Client(base)
        assert ops.login("ops", "wrong")[0] == 401
        assert ops.login("ops", "wrong")[0] == 401
        assert ops.login("ops")[0] == 429
        assert ops.login("nobody", "x")[0] == 401
        assert boss.login("boss")[0] == 200
        assert boss.call("GET", "/api/latest")[0] == 200  # reads are not audited
        assert boss.call("POST", "/api/logout")[0] == 403  # refused for want of the CSRF header: audited too
        status, rows, _ = boss.call("GET", "/api/audit?limit=3")
        assert status == 200 and [r["id"] for r in rows] == [6, 5, 4]
        assert Client(base).call("GET", "/api/audit")[0] == 401
        assert boss.call("POST", "/api/logout", headers={"X-CSRF-Token": boss.csrf})[0] == 200
        assert boss.call("GET", "/api/audit")[0] == 401
    finally:
        server.should_exit = True
        thread.join(10)
    entries = list(reversed(audit.recent(store)))
    assert [(e.actor, e.role, e.method, e.path, e.summary, e.status) for e in entries] == [
        ("ops", "", "POST", "/api/login", "login (cookie): wrong username or password", 401),
        ("ops", "", "POST", "/api/login", "login (cookie): wrong username or password", 401),
        ("ops", "", "POST", "/api/login", "login (cookie): too many failures", 429),
        ("nobody", "", "POST", "/api/login", "login (cookie): wrong username or password", 401),
        ("boss", "admin", "POST", "/api/login", "login (cookie)", 200),
        ("boss", "admin", "POST", "/api/logout", "logout", 403),
        ("boss", "admin", "POST", "/api/logout", "logout", 200),
    ]
    assert {e.client for e in entries} == {"127.0.0.1"}
    assert all(PASSWORD not in repr(e) and "wrong" not in e.client for e in entries)  # no password recorded
    assert audit.verify(store) == audit.Verdict(7)
    assert [e.id for e in audit.recent(store, 2, before_id=4)] == [3, 2]
    store.close()


def test_verify_reports_ok_with_the_count(any_store):
    store, cfg = any_store
    done = watertel("audit", "verify", "--config", str(cfg))
    assert done.returncode == 0 and done.stdout.startswith("ok: 0 entries (plain SM3"), done.stderr
    entries = add(store, 5)
    assert entries[0].prev_hash == audit.GENESIS and entries[3].prev_hash == entries[2].hash
    done = watertel("audit", "verify", "--config", str(cfg))
    assert done.returncode == 0 and done.stdout.startswith("ok: 5 entries (plain SM3"), done.stderr


@pytest.mark.parametrize("tamper, broken, problem", [
    ("UPDATE audit SET summary = 'nothing happened' WHERE id = 3", 3, "content does not match its hash"),
    ("UPDATE audit SET status = 403 WHERE id = 5", 5, "content does not match its hash"),
    ("UPDATE audit SET actor = 'someone', hash = '{fake}' WHERE id = 2", 2, "content does not match its hash"),
    ("DELETE FROM audit WHERE id = 4", 4, "row 4 is missing"),
    ("DELETE FROM audit WHERE id = 6", 6, "row 6 is missing"),
    ("DELETE FROM audit WHERE id = 1", 1, "row 1 is missing"),
    ("UPDATE audit SET prev_hash = '{fake}' WHERE id = 2", 2, "link to the previous row is wrong"),
])
def test_verify_finds_the_first_tampered_row_in_the_sqlite_file(tmp_path, tamper, broken, problem):
    store = SqliteStore(tmp_path / "data" / "watertel.db")
    add(store, 8)
    store.close()
    with sqlite3.connect(tmp_path / "data" / "watertel.db") as db:  # straight into the file, as an intruder would
        assert db.execute(tamper.format(fake="ab" * 32)).rowcount == 1
    done = watertel("audit", "verify", "--config", str(cloud_yaml(tmp_path)))
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith(f"audit log broken at row {broken}: ") and problem in done.stdout, done.stdout
    assert f"({broken - 1} rows before it are intact)" in done.stdout


def test_tampering_through_sql_is_found_on_both_back_ends(any_store):
    store, cfg = any_store
    add(store, 3)
    store._execute("UPDATE audit SET path = '/api/other' WHERE id = 2")
    done = watertel("audit", "verify", "--config", str(cfg))
    assert done.returncode == 1 and done.stdout.startswith("audit log broken at row 2:"), done.stdout + done.stderr


def test_two_connections_appending_at_once_keep_one_unbroken_chain(any_store, tmp_path):
    import threading

    store, cfg = any_store
    from watertel.cloud.config import load_cloud_config
    from watertel.cloud.store import open_store

    cloud = load_cloud_config(cfg)
    others = [open_store(cloud.store, cloud.data_dir) for _ in range(2)]
    threads = [threading.Thread(target=add, args=(other, 20)) for other in others]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for other in others:
        other.close()
    assert audit.verify(store) == audit.Verdict(40)


def test_a_version_2_store_gets_the_audit_table_by_migration_and_keeps_its_data(tmp_path):
    cfg = cloud_yaml(tmp_path)
    path = tmp_path / "data" / "watertel.db"
    store = SqliteStore(path)
    store.raise_alarm("ST-1", "flow", "leak", "red", "leak", T0)
    store.close()
    with sqlite3.connect(path) as db:  # what schema version 2 looked like: no audit table
        db.execute("DROP TABLE audit")
        for sql in UNDO_VERSION_9 + UNDO_VERSION_7:
            db.execute(sql)
        db.execute("PRAGMA user_version = 2")
    with pytest.raises(StoreError, match="schema version 2, older than this watertel"):
        SqliteStore(path)
    refused = watertel("audit", "verify", "--config", str(cfg))
    assert refused.returncode == 1 and "watertel cloud migrate" in refused.stderr and "Traceback" not in refused.stderr
    done = watertel("cloud", "migrate", "--config", str(cfg))
    assert done.returncode == 0 and f"schema version {SCHEMA_VERSION}" in done.stdout, done.stderr
    store = SqliteStore(path)
    assert [a["type"] for a in store.alarms()] == ["leak"]
    add(store, 2)
    assert audit.verify(store).ok and store._rows("PRAGMA user_version") == [(SCHEMA_VERSION,)]
    store.close()

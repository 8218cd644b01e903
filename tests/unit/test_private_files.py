"""Files the service writes are 0600 whatever the umask (issue 21: users.yaml rewritten by the API,
backups and the database were 0644): written under umask 022 here, as a shell's default."""

from __future__ import annotations

import os
import stat

import pytest

from watertel import private
from watertel.cloud.files import write_atomic
from watertel.cloud.store import SqliteStoreConfig
from watertel.cloud.store.backup import backup, restore
from watertel.cloud.store.sqlite import SqliteStore
from watertel.edge_agent.buffer import Buffer
from watertel.keys import write_key_pair


@pytest.fixture(autouse=True)
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_file_written_atomically_and_its_backup_copy_are_0600(tmp_path):
    users = tmp_path / "users.yaml"
    users.write_text("users: []\n")  # made by hand: 0644
    assert mode(users) == 0o644
    write_atomic(users, "users: [{username: a}]\n")
    assert mode(users) == 0o600 and mode(tmp_path / "users.yaml.bak") == 0o600
    write_atomic(tmp_path / "new.yaml", b"x")
    assert mode(tmp_path / "new.yaml") == 0o600


def test_both_files_of_a_key_pair_are_0600(tmp_path):
    secret, public = write_key_pair(tmp_path / "keys", "gw-1")
    assert mode(secret) == mode(public) == 0o600
    secret, public = write_key_pair(tmp_path / "keys", "gw-1", force=True)
    assert mode(secret) == mode(public) == 0o600


def test_the_database_and_its_wal_and_shm_are_0600_even_if_made_wider_before(tmp_path):
    store = SqliteStore(tmp_path / "watertel.db")
    store.quarantine("watertel/gw-1/up", b"x", "bad_magic", "")  # a write: the WAL and shm exist
    for name in ("watertel.db", "watertel.db-wal", "watertel.db-shm"):
        assert mode(tmp_path / name) == 0o600, name
    store.close()
    os.chmod(tmp_path / "watertel.db", 0o644)  # a store from before this change
    SqliteStore(tmp_path / "watertel.db").close()
    assert mode(tmp_path / "watertel.db") == 0o600


def test_a_backup_and_a_restored_store_are_0600(tmp_path):
    store = SqliteStore(tmp_path / "data" / "watertel.db")
    store.quarantine("watertel/gw-1/up", b"x", "bad_magic", "")
    store.close()
    backup(SqliteStoreConfig(), tmp_path / "data", tmp_path / "backup.db")
    assert mode(tmp_path / "backup.db") == 0o600
    restore(SqliteStoreConfig(), tmp_path / "restored", tmp_path / "backup.db")
    assert mode(tmp_path / "restored" / "watertel.db") == 0o600


def test_the_edge_buffer_is_0600(tmp_path):
    Buffer(tmp_path / "buffer.db", "gw-1").close()
    assert mode(tmp_path / "buffer.db") == 0o600


def test_create_narrows_a_file_that_existed_wider(tmp_path):
    path = tmp_path / "f"
    path.write_text("old")
    os.chmod(path, 0o666)
    private.write(path, "new")
    assert mode(path) == 0o600 and path.read_text() == "new"
    with pytest.raises(FileExistsError):
        private.create(path, exclusive=True)

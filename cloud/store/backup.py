"""Online backup and restore of the cloud store, while ingest keeps running.

SQLite: the online backup API copies a consistent snapshot page by page into a new file, which
is checked (``integrity_check``) before it replaces anything. PostgreSQL: ``pg_dump -Fc`` (a
consistent snapshot by itself) and ``pg_restore`` into an empty database. A backup file says in
its first bytes which kind it is, so ``restore`` needs only the file and the configuration.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from watertel import private
from watertel.cloud.store.config import PostgresStoreConfig, StoreConfig, sqlite_path
from watertel.errors import OperatorError

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


class BackupError(OperatorError):
    """A backup or restore that cannot be done; the message says why and what to do."""


def _pg_tool(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)), None)
    if not found:
        raise BackupError(f"{name} not found: install the PostgreSQL client (Debian: postgresql-client)")
    return str(found)


def _libpq_env(settings: PostgresStoreConfig) -> dict[str, str]:
    """The password goes to pg_dump/pg_restore through the environment, never the command line."""
    env = dict(os.environ)
    if settings.password_file:
        env["PGPASSWORD"] = settings.password_file.read_text().strip()
    return env


def backup(settings: StoreConfig, data_dir: Path, out: Path) -> int:
    """Write a consistent copy of the store (``settings``; SQLite: in ``data_dir``) to ``out``
    (never over an existing file); its size."""
    if out.exists():
        raise BackupError(f"{out} exists: choose a new file name (a backup never overwrites)")
    partial = out.with_name(out.name + ".partial")
    private.touch(partial)  # 0600 from the start: a backup holds everything the store holds
    if isinstance(settings, PostgresStoreConfig):
        done = subprocess.run([_pg_tool("pg_dump"), "-Fc", "-f", str(partial), "-d", settings.dsn],
                              capture_output=True, text=True, env=_libpq_env(settings))
        if done.returncode:
            partial.unlink(missing_ok=True)
            raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
    else:
        _sqlite_copy(sqlite_path(data_dir), partial)
    private.restrict(partial)
    os.replace(partial, out)
    return out.stat().st_size


def _sqlite_copy(source: Path, target: Path) -> None:
    if not source.exists():
        raise BackupError(f"no store at {source}: has the cloud service run with this configuration?")
    src = sqlite3.connect(source)
    private.touch(target)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # all pages in one step: a snapshot as of one transaction
        (verdict,) = dst.execute("PRAGMA integrity_check").fetchone()
        if verdict != "ok":
            raise BackupError(f"the copy failed its integrity check: {verdict}")
    finally:
        dst.close()
        src.close()


def restore(settings: StoreConfig, data_dir: Path, backup_file: Path, force: bool = False) -> None:
    """Bring a backup back into the store ``settings`` name, which must be empty (or ``force``)."""
    head = backup_file.read_bytes()[:16] if backup_file.exists() else b""
    postgres = isinstance(settings, PostgresStoreConfig)
    if head.startswith(PGDUMP_MAGIC) != postgres or not head.startswith((SQLITE_MAGIC, PGDUMP_MAGIC)):
        raise BackupError(f"{backup_file} is not a {settings.kind} backup made by `watertel cloud backup`")
    if postgres:
        args = [_pg_tool("pg_restore"), "--exit-on-error", "-d", settings.dsn, *(["--clean", "--if-exists"] if force else []),
                str(backup_file)]
        done = subprocess.run(args, capture_output=True, text=True, env=_libpq_env(settings))
        if done.returncode:
            raise BackupError(f"pg_restore failed (restore into an empty database, or use --force): {done.stderr.strip()}")
        return
    target = sqlite_path(data_dir)
    if target.exists() and not force:
        raise BackupError(f"{target} exists: stop the service and restore into an empty data_dir (or use --force)")
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name("watertel.db.restoring")
    _sqlite_copy(backup_file, staged)
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(staged, target)

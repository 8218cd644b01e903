"""A throw-away PostgreSQL cluster (initdb in a temporary folder, a free loopback port), for
`watertel soak --postgres`, the benchmarks and the tests."""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg

from watertel.ports import free_port
from watertel.shell.processes import StartupError


def find_pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else (Path(shutil.which("initdb")).parent if shutil.which("initdb") else None)


class Postgres:
    """A throw-away PostgreSQL cluster (initdb in a temporary folder, free loopback port).

    PostgreSQL refuses to run as root: as root the cluster belongs to the ``postgres`` user.
    """

    def __init__(self, bindir: Path) -> None:
        self.bindir, self.port = bindir, free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="watertel-pg-"))
        self.user = "postgres" if os.geteuid() == 0 else getpass.getuser()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")

    def _run(self, *argv: str) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *argv], capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        data = self.dir / "data"
        done = self._run(str(self.bindir / "initdb"), "-D", str(data), "-U", self.user, "-A", "trust", "-E", "UTF8")
        if done.returncode != 0:
            raise StartupError(f"initdb failed: {done.stderr.strip()}")
        done = self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-l", str(self.dir / "log"), "-w", "start", "-o",
                         f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=on")
        if done.returncode != 0:
            raise StartupError(f"PostgreSQL did not start: {done.stderr.strip()} {(self.dir / 'log').read_text()}")

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname={dbname}"

    def new_database(self) -> str:
        """A new, empty database; its DSN."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.dsn(name)

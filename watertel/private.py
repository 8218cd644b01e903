"""Files only the service's own user may read: 0600 whatever the umask (issue 21).

Users with their password hashes, gateway keys, backups, the database and its -wal/-shm: a
umask of 022 made them readable by every local account. ``create`` makes a file 0600 from its
first byte (``O_CREAT`` with mode 0600, then ``fchmod``, as a file that already existed keeps
its old mode otherwise); ``restrict`` brings an existing file (and a database's companions) to
0600. The umask can only take bits away from 0600, so nothing is ever created wider.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

MODE = 0o600
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")  # SQLite gives them the database file's mode when it creates them


def create(path: Path, exclusive: bool = False) -> BinaryIO:
    """Open ``path`` for writing (truncated), mode 0600; ``exclusive``: fail if it exists."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, MODE)
    try:
        os.fchmod(fd, MODE)
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


def write(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` in place, mode 0600 (not atomic: see cloud/files.py for that)."""
    with create(path) as f:
        f.write(data.encode() if isinstance(data, str) else data)


def restrict(path: Path, sqlite: bool = False) -> None:
    """Make ``path`` 0600 if it exists (``sqlite``: its -wal, -shm and -journal files too).

    A file of another user (a store opened read-only by an operator's account) is left as its
    owner set it: only the owner may change it, and its mode is then the owner's choice."""
    for target in [path, *(path.with_name(path.name + s) for s in SQLITE_COMPANIONS if sqlite)]:
        try:
            os.chmod(target, MODE)
        except (FileNotFoundError, PermissionError):
            pass


def touch(path: Path) -> None:
    """Create ``path`` empty and 0600 if it does not exist yet (e.g. before SQLite opens it, so
    the database and the companions SQLite derives from it are 0600 from the start)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, MODE))
    except FileExistsError:
        pass

"""Files the service writes while running (registry, users, gateways, notifications, reports,
fleet status): replaced whole, so a reader or a power cut finds the old file or the new one, and
0600 whatever the umask (watertel/private.py), the ``.bak`` too."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from watertel import private


def write_atomic(path: Path, data: str | bytes, *, backup: bool = True, durable: bool = True) -> None:
    """Replace ``path`` by ``data`` through a temp file and a rename: readers see the old file or
    the new one, never half of either.

    ``durable`` (fsync of the file, and of the folder after the rename) makes that hold through a
    power cut too: for the files people edit and the reports; off only for soft state rewritten
    every few seconds (fleet status). ``backup`` keeps the previous file as ``.bak``.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with private.create(tmp) as f:
            f.write(data.encode() if isinstance(data, str) else data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        if backup and path.exists():
            saved = path.with_name(path.name + ".bak")
            shutil.copy2(path, saved)
            private.restrict(saved)  # copy2 copied the old file's mode (a hand-made file may be 0644)
            with open(saved, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    if durable:
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)  # the rename itself survives a power cut
        finally:
            os.close(fd)

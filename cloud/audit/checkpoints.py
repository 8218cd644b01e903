"""Signed checkpoints of the audit chain's head, kept outside the database.

A checkpoint says "at ``t_ms`` the log ended at row ``seq`` whose hash was ``head``; its first
``legacy`` rows predate the key", signed with the cloud's SM2 key. One JSON object per line of
the checkpoint file, appended (and logged), e.g.::

    {"kind":"head","seq":120,"head":"9f…","t_ms":1765152000000,"legacy":0,"sig":"MEUCI…"}

Whoever can write the database but not this file (nor the signing key) cannot cut rows off the
chain's end unseen: the last checkpoint names a row that is gone. ``kind: restore`` marks a
backup restored (`watertel cloud restore`): the log legitimately went back, so the checks start
again from that checkpoint; the earlier ones stay in the file as history.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from watertel.crypto import SM2PrivateKey, SM2PublicKey

DOMAIN = b"watertel audit checkpoint v1\n"  # a signature for nothing else verifies here
KINDS = ("head", "restore")


@dataclass(frozen=True)
class Checkpoint:
    kind: str  # head | restore
    seq: int  # the last row's id (0: an empty log)
    head: str  # its hash (hex; GENESIS for an empty log)
    t_ms: int
    legacy: int  # rows at the start sealed without the key (written before it existed)

    def message(self) -> bytes:
        return DOMAIN + json.dumps([self.kind, self.seq, self.head, self.t_ms, self.legacy],
                                   separators=(",", ":")).encode()

    def line(self, key: SM2PrivateKey) -> str:
        """The signed line for the checkpoint file (no newline)."""
        sig = base64.b64encode(key.sign(self.message())).decode()
        return json.dumps({**asdict(self), "sig": sig}, separators=(",", ":"))


class CheckpointError(ValueError):
    """A line of the checkpoint file that does not hold or whose signature does not verify."""


def parse(line: str, public: SM2PublicKey) -> Checkpoint:
    """One line back into a checkpoint, its signature checked."""
    try:
        data = json.loads(line)
        sig = base64.b64decode(data.pop("sig"), validate=True)
        cp = Checkpoint(**data)
        valid = cp.kind in KINDS and isinstance(cp.seq, int) and isinstance(cp.legacy, int) and isinstance(cp.t_ms, int)
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        raise CheckpointError(f"not a checkpoint ({type(err).__name__})") from None
    if not valid:
        raise CheckpointError("not a checkpoint (bad kind or numbers)")
    if not public.verify(sig, cp.message()):
        raise CheckpointError("its signature does not verify with the signing key")
    return cp


def read(path: Path, public: SM2PublicKey,
         cache: dict[str, Checkpoint] | None = None) -> tuple[list[Checkpoint], list[str]]:
    """Every checkpoint of the file in order, and a problem per line that is not a valid one
    (``line N: why``); a missing file has none. ``cache``: lines verified before (the API's
    check runs on every visit of the admin page: only new lines cost a signature check)."""
    if not path.exists():
        return [], []
    found, problems = [], []
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            cp = cache[line] if cache is not None and line in cache else parse(line, public)
        except CheckpointError as err:
            problems.append(f"{path.name} line {n}: {err}")
            continue
        found.append(cp)
        if cache is not None:
            cache[line] = cp
    return found, problems


def last(path: Path, public: SM2PublicKey, tail_bytes: int = 65536) -> Checkpoint | None:
    """The file's last valid checkpoint, read from its end (a process starting needs only that)."""
    if not path.exists():
        return None
    with open(path, "rb") as f:
        f.seek(max(0, f.seek(0, os.SEEK_END) - tail_bytes))
        lines = f.read().decode("utf-8", errors="replace").splitlines()
    for line in reversed(lines):
        try:
            return parse(line, public)
        except CheckpointError:
            continue
    if path.stat().st_size <= tail_bytes:
        return None
    found = read(path, public)[0]  # none valid in the tail: the whole file
    return found[-1] if found else None


def current_epoch(checkpoints: list[Checkpoint]) -> list[Checkpoint]:
    """The checkpoints since the last restore (that restore's included): the ones the log must match."""
    starts = [i for i, cp in enumerate(checkpoints) if cp.kind == "restore"]
    return checkpoints[starts[-1]:] if starts else checkpoints


def append_line(path: Path, line: str) -> None:
    """Append one line in a single write (O_APPEND: several processes may append), the file 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)

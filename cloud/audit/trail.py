"""The audit trail a process writes: rows sealed with the key, and a signed checkpoint of the
chain's head after every ``checkpoint_every_entries`` rows it appended, every
``checkpoint_every_minutes`` while the head moves (the service's timer) and when it stops.

``AuditTrail.open`` loads the key and the signing key (creating them at the first start) and
learns how many rows predate the key (from the last checkpoint; at the first start, every row so
far): every checkpoint records that number, and those rows stay plain SM3 and keep verifying as a
legacy prefix (they are not rewritten: a rewrite is exactly what the chain exists to show). The
service writes a checkpoint as it starts, a command after its row.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from watertel.cloud.audit import checkpoints as cps
from watertel.cloud.audit.chain import GENESIS, Entry, append
from watertel.cloud.audit.config import AuditConfig, AuditFiles
from watertel.cloud.audit.keys import load_key, load_signing_key
from watertel.cloud.audit.verify import Verdict, find_legacy, verify
from watertel.cloud.store import SqlStore, now_ms
from watertel.crypto import SM2PrivateKey
from watertel.errors import OperatorError

log = logging.getLogger("watertel.audit")
announced = logging.getLogger("watertel.audit.checkpoints")  # logged whatever the verbosity (watertel/logs.py)


@dataclass(eq=False)
class AuditTrail:
    store: SqlStore
    key: bytes | None  # None: plain SM3 rows and no checkpoints (a bare app in tests)
    signer: SM2PrivateKey | None = None
    files: AuditFiles | None = None
    every_entries: int = 100
    announce: bool = False  # log each checkpoint even when quiet (the service: a copy in the shipped log)
    legacy: int = 0
    since_checkpoint: int = 0
    last_seq: int = -1  # the head of this process's last checkpoint
    lock: threading.Lock = field(default_factory=threading.Lock)
    verified: dict[str, cps.Checkpoint] = field(default_factory=dict)  # checkpoint lines whose signature held

    @classmethod
    def open(cls, store: SqlStore, cfg: AuditConfig, data_dir: Path, command_key: Path | None,
             announce: bool = False) -> AuditTrail:
        """The configured trail, its files created if missing (nothing signed yet).
        ``announce``: log every checkpoint at info whatever the verbosity (the service does)."""
        files = cfg.files(data_dir, command_key)
        key, made = load_key(files.key, create=True)
        assert key is not None
        signer = load_signing_key(files.signing_key, create=not files.signing_key_shared)
        if signer is None:
            raise OperatorError(f"{files.signing_key}: the audit checkpoints' signing key (command_key) does not exist")
        trail = cls(store, key, signer, files, cfg.checkpoint_every_entries, announce)
        last = cps.last(files.checkpoints, signer.public)
        # the first start with a key: every row so far predates it; no checkpoint yet: find them
        trail.legacy = last.legacy if last else store.audit_head()[0] if made else find_legacy(store, key)
        return trail

    @classmethod
    def reader(cls, store: SqlStore, cfg: AuditConfig, data_dir: Path, command_key: Path | None) -> AuditTrail:
        """The trail for checking only: nothing created (a log from before keys verifies as plain SM3)."""
        files = cfg.files(data_dir, command_key)
        return cls(store, load_key(files.key)[0], load_signing_key(files.signing_key), files, cfg.checkpoint_every_entries)

    def append(self, **row) -> Entry:
        """Append a row (``chain.append``'s fields) and checkpoint after every N rows."""
        entry = append(self.store, key=self.key, **row)
        with self.lock:
            self.since_checkpoint += 1
            due = self.since_checkpoint >= self.every_entries
        if due:
            try:
                self.checkpoint()
            except Exception:  # the row is in; the next checkpoint (timer, shutdown) covers it
                log.exception("audit checkpoint failed", extra={"file": str(self.files and self.files.checkpoints)})
        return entry

    def checkpoint(self, force: bool = False, kind: str = "head") -> cps.Checkpoint | None:
        """Sign the chain's head into the checkpoint file and the log (unless it has not moved
        since this process's last one and ``force`` is false)."""
        if self.signer is None or self.files is None:
            return None
        seq, head = self.store.audit_head()
        with self.lock:
            if seq == self.last_seq and not force:
                return None
            self.since_checkpoint, self.last_seq = 0, seq
            cp = cps.Checkpoint(kind, seq, head or GENESIS, now_ms(), self.legacy)
            cps.append_line(self.files.checkpoints, cp.line(self.signer))
        (announced if self.announce else log).info("audit checkpoint", extra={"kind": kind, "seq": seq, "head": cp.head,
                                                                              "legacy": self.legacy})
        return cp

    def restored(self) -> cps.Checkpoint | None:
        """After a backup was restored into the store: a ``restore`` checkpoint, from which the
        log is checked again (its legacy rows counted anew)."""
        if self.key is None:
            return None
        self.legacy = find_legacy(self.store, self.key)
        return self.checkpoint(force=True, kind="restore")

    def verify(self) -> Verdict:
        """The whole chain checked against the key and the current checkpoints (verify.py)."""
        if self.files is None:
            return verify(self.store, self.key)
        if self.key is None or self.signer is None:
            missing = [str(f) for f, v in ((self.files.key, self.key), (self.files.signing_key, self.signer)) if v is None]
            if self.files.checkpoints.exists() or self.key is not None:  # keyed once: the missing file was removed
                verdict = verify(self.store, self.key)
                return Verdict(**{**verdict.__dict__, "notes": (f"missing: {', '.join(missing)}: keyed rows and"
                                                                " checkpoints cannot be checked",)})
            return verify(self.store)  # a log from before keys: plain SM3 rows only
        found, problems = cps.read(self.files.checkpoints, self.signer.public, self.verified)
        epoch = cps.current_epoch(found)
        if not epoch:
            problems.append(f"{self.files.checkpoints}: no checkpoint: whether the newest rows were deleted cannot"
                            " be told (the service writes one at every start)")
        verdict = verify(self.store, self.key, epoch)
        return Verdict(**{**verdict.__dict__, "notes": tuple(problems)})

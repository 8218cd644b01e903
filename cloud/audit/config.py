"""``audit:`` in the cloud config: where the audit log's key and signed checkpoints live, and how
often a checkpoint is written. Every path defaults to the data directory; keep the key and the
checkpoint file where whoever can write the database cannot (another host's mount, or at least
another account's files for a PostgreSQL store), and ship the log, which carries each checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from watertel.config import Strict, resolve

KEY_FILE = "audit.key"
CHECKPOINT_FILE = "audit-checkpoints.jsonl"
SIGNING_KEY_FILE = "audit-signing.key.pem"


@dataclass(frozen=True)
class AuditFiles:
    key: Path  # the HMAC-SM3 key (hex), created 0600 at first start
    checkpoints: Path  # one signed checkpoint per line, appended
    signing_key: Path  # the SM2 private key (PEM) that signs the checkpoints
    signing_key_shared: bool  # True: the cloud's command_key (never created here)


class AuditConfig(Strict):
    """``audit:``; every setting optional."""

    key_file: Path | None = None  # default: <data_dir>/audit.key (created 0600 at first start, never logged)
    checkpoint_file: Path | None = None  # default: <data_dir>/audit-checkpoints.jsonl
    signing_key: Path | None = None  # SM2 key (PEM); default: command_key, else <data_dir>/audit-signing.key.pem (created)
    checkpoint_every_entries: int = Field(100, ge=1)  # a checkpoint after this many rows a process appended
    checkpoint_every_minutes: float = Field(10.0, gt=0)  # and this often while the head moves (and at shutdown)

    def resolved(self, base: Path) -> AuditConfig:
        return self.model_copy(update={k: resolve(base, getattr(self, k))
                                       for k in ("key_file", "checkpoint_file", "signing_key")})

    def files(self, data_dir: Path, command_key: Path | None) -> AuditFiles:
        """The files in use, defaults filled in."""
        signing = self.signing_key or command_key
        return AuditFiles(key=self.key_file or data_dir / KEY_FILE,
                          checkpoints=self.checkpoint_file or data_dir / CHECKPOINT_FILE,
                          signing_key=signing or data_dir / SIGNING_KEY_FILE, signing_key_shared=signing is not None)

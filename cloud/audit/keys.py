"""The audit log's two secrets, files outside the database: the HMAC-SM3 key that seals each row
and the SM2 key that signs the checkpoints. Created 0600 at first start when missing (written to
a temporary file and linked into place, so two processes starting at once agree on one key);
their content is never logged."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from watertel.crypto import SM2PrivateKey, SignatureError
from watertel.errors import OperatorError

log = logging.getLogger("watertel.audit")
KEY_BYTES = 32


def _create(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` (0600) unless it exists; True if this call created it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)  # fails if another process created it first: then theirs is the key
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


def _read(path: Path, what: str, others: int = 0o077) -> str:
    """The file's text; a warning when users beyond its owner (``others``: the mode bits that
    count) may read it."""
    try:
        text = path.read_text()
    except OSError as err:
        raise OperatorError(f"{path}: cannot read the audit {what} ({err.strerror}; run as the service's user)") from None
    if path.stat().st_mode & others:
        log.warning("audit %s readable by others: chmod 600 it", what, extra={"file": str(path)})
    return text


def load_key(path: Path, create: bool = False) -> tuple[bytes | None, bool]:
    """The HMAC key (None if the file is missing and ``create`` is false) and whether this call made it."""
    made = create and not path.exists() and _create(path, secrets.token_hex(KEY_BYTES) + "\n")
    if made:
        log.info("audit key created", extra={"file": str(path)})
    if not path.exists():
        return None, False
    try:
        key = bytes.fromhex(_read(path, "key").strip())
    except ValueError:
        raise OperatorError(f"{path}: not an audit key (hex; delete it only if the log is new)") from None
    if len(key) < 16:
        raise OperatorError(f"{path}: the audit key is {len(key)} bytes, too short (at least 16)")
    return key, made


def load_signing_key(path: Path, create: bool = False) -> SM2PrivateKey | None:
    """The SM2 key that signs checkpoints (None if missing and ``create`` is false)."""
    if create and not path.exists() and _create(path, SM2PrivateKey.generate().to_pem()):
        log.info("audit checkpoint signing key created", extra={"file": str(path)})
    if not path.exists():
        return None
    try:
        return SM2PrivateKey.from_pem(_read(path, "signing key", 0o007))  # command_key may be 0640 for its group
    except SignatureError as err:
        raise OperatorError(f"{path}: not an SM2 private key ({err})") from None

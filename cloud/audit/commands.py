"""The audit row of a command that changes state (`watertel cloud command`, `rollout`, `import`,
`restore`): actor ``cli:<os user>``, role ``cli``, client the host's name, method ``CLI``, path the
command, status its exit status (1 when it raised). The trail is opened before the command acts,
so a command whose row cannot be written does nothing; a checkpoint follows the row. A command
refused before it acted (``OperatorError``, ``ConfigError``: bad input, nothing changed) leaves
no row."""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Callable
from pathlib import Path

from watertel.cloud.audit.config import AuditConfig
from watertel.cloud.audit.trail import AuditTrail
from watertel.cloud.store import open_store
from watertel.cloud.store.config import StoreConfig
from watertel.config import ConfigError
from watertel.errors import OperatorError

REFUSED = (OperatorError, ConfigError)  # raised before a command acts: nothing changed, nothing to record


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container's user)
        return str(os.getuid())


def _row(command: str, summary: str, status: int) -> dict:
    return {"actor": f"cli:{os_user()}", "role": "cli", "client": socket.gethostname(), "method": "CLI",
            "path": command, "summary": summary, "status": status}


def run_audited(store_cfg: StoreConfig, data_dir: Path, audit_cfg: AuditConfig, command_key: Path | None,
                command: str, summary: Callable[[int], str], act: Callable[[], int]) -> int:
    """``act()`` with an audit row written after it, whatever it returned or raised;
    ``summary(status)``: what the row says."""
    store = open_store(store_cfg, data_dir)
    try:
        trail = AuditTrail.open(store, audit_cfg, data_dir, command_key)
        try:
            status = act()
        except REFUSED:
            raise
        except BaseException:
            _record(trail, command, summary(1), 1)
            raise
        _record(trail, command, summary(status), status)
        return status
    finally:
        store.close()


def _record(trail: AuditTrail, command: str, summary: str, status: int) -> None:
    trail.append(**_row(command, summary, status))
    trail.checkpoint()


def record_restore(store_cfg: StoreConfig, data_dir: Path, audit_cfg: AuditConfig, command_key: Path | None,
                   summary: str, status: int) -> None:
    """After `watertel cloud restore` (the store was replaced, so it is opened afresh): its row, and
    a ``restore`` checkpoint when it succeeded (the log went back to the backup's; checks restart there)."""
    store = open_store(store_cfg, data_dir)
    try:
        trail = AuditTrail.open(store, audit_cfg, data_dir, command_key)
        if status != 0:
            _record(trail, "watertel cloud restore", summary, status)
            return
        trail.append(**_row("watertel cloud restore", summary, status))
        trail.restored()
    finally:
        store.close()

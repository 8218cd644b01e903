"""Remote configuration (the ``set_config`` command): validate, swap the file, prove it, or roll back.

The files, all in the folder of the running config (relative paths in the new file resolve the
same way as in the old one)::

    edge.yaml               the configuration in force
    edge.yaml.new.yaml      a pushed candidate, while it is validated (`edge check`'s own loader)
    edge.yaml.previous      the file before the last change: what a rollback restores
    edge.yaml.change.json   the last change: command id, hashes, state, and the answer not yet sent

States of a change: ``probation`` (the new file is in force and must reach a broker and get a
batch acknowledged within ``commands.config_probation_s``), then ``applied`` or ``rolled_back``.
The change file is written before the swap and survives a power cut: an agent that restarts
during probation keeps probing the new file (with a fresh timer), and one that finds the swap
never happened records a rollback. The command is answered once, with the outcome, by whichever
configuration reaches the broker (the new one, or the previous one after a rollback).

Applied in-process: the agent stops its pollers and uplink, seals what it holds and starts again
from the file, keeping the same buffer. Exiting for systemd to restart would work only under a
supervisor (not in a shell, a container without one, or the tests) and would let a crash loop in
the new file look like a restart loop rather than a failed change.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from watertel.edge_agent.config import EdgeConfig, load_edge_config
from watertel.commands import MAX_CONFIG_BYTES, CommandError
from watertel.config import ConfigError
from watertel.crypto import sm3

log = logging.getLogger("watertel.edge.reconfig")
MAX_STARTS = 3  # process starts on probation before the new file is given up


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # a rename must survive a power cut
    finally:
        os.close(dir_fd)


def file_sm3(path: Path) -> str:
    return sm3(path.read_bytes()).hex()


class ConfigFiles:
    """The running config file and its companions (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.candidate = self.path.with_name(self.path.name + ".new.yaml")
        self.previous = self.path.with_name(self.path.name + ".previous")
        self.change_file = self.path.with_name(self.path.name + ".change.json")

    def sm3(self) -> str:
        return file_sm3(self.path)

    # --- the change record ------------------------------------------------------------------------
    def change(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.change_file.read_text())
        except (OSError, ValueError):
            return None

    def _save(self, change: dict[str, Any]) -> None:
        _write_atomic(self.change_file, json.dumps(change, sort_keys=True).encode())

    # --- validate and swap --------------------------------------------------------------------
    def validate(self, text: Any, running: EdgeConfig) -> EdgeConfig:
        """The candidate loaded exactly as `watertel edge check` loads a file; CommandError otherwise."""
        if not isinstance(text, str) or not text.strip():
            raise CommandError("bad_args", "args.yaml must be the new configuration file's text")
        data = text.encode()
        if len(data) > MAX_CONFIG_BYTES:
            raise CommandError("bad_args", f"configuration of {len(data)} bytes (at most {MAX_CONFIG_BYTES})")
        try:
            _write_atomic(self.candidate, data)
        except OSError as err:  # a read-only config folder (the unit's ReadWritePaths), a full disk
            raise CommandError("config_not_writable", f"cannot write {self.candidate}: {err.strerror}") from err
        try:
            cfg = load_edge_config(self.candidate)
        except ConfigError as err:
            self.candidate.unlink(missing_ok=True)
            raise CommandError("invalid_config", "; ".join(err.problems)) from err
        problems = []
        if cfg.gateway_id != running.gateway_id:
            problems.append(f"gateway_id: {cfg.gateway_id!r} is not this gateway ({running.gateway_id!r})")
        if cfg.buffer.path != running.buffer.path:
            problems.append(f"buffer.path: must stay {running.buffer.path} (the backlog and the message chain live there)")
        if not cfg.commands or "set_config" not in cfg.commands.allow:
            problems.append("commands.allow: must keep set_config, or the gateway could not be reconfigured remotely again")
        if problems:
            self.candidate.unlink(missing_ok=True)
            raise CommandError("invalid_config", "; ".join(f"{self.candidate.name}: {p}" for p in problems))
        return cfg

    def apply(self, command_id: str, probation_s: float) -> dict[str, Any]:
        """Put the validated candidate in force (the old file kept as ``.previous``); start probation."""
        old = self.path.read_bytes()
        new_sm3 = file_sm3(self.candidate)
        change = {"command_id": command_id, "state": "probation", "previous_sm3": sm3(old).hex(), "new_sm3": new_sm3,
                  "probation_s": probation_s, "t_ms": int(time.time() * 1000), "reason": "", "answered": False}
        try:
            _write_atomic(self.previous, old)
            self._save(change)  # before the swap: a power cut in between is found and recorded at start
            os.replace(self.candidate, self.path)
        except OSError as err:
            self.change_file.unlink(missing_ok=True)
            raise CommandError("config_not_writable", f"cannot replace {self.path}: {err.strerror}") from err
        _fsync_folder(self.path.parent)
        log.warning("configuration %s replaced by the one of command %s (sm3 %s), on probation for %g s",
                    self.path, command_id, new_sm3[:16], probation_s)
        return change

    def at_start(self) -> dict[str, Any] | None:
        """The change record as a starting process should see it: a swap that never happened is a
        rollback, and a new file that keeps the agent from running (restarted again and again by
        systemd while on probation) is rolled back after MAX_STARTS."""
        change = self.change()
        if not change or change["state"] != "probation":
            return change
        if self.sm3() != change["new_sm3"]:
            self.finish("rolled_back", "the agent stopped before the new file was in place")
        elif change.get("starts", 0) >= MAX_STARTS:
            self.rollback(f"the agent restarted {MAX_STARTS} times while the new file was on probation")
        else:
            change["starts"] = change.get("starts", 0) + 1
            self._save(change)
        return self.change()

    def rollback(self, reason: str) -> None:
        """Restore the previous file and record why."""
        _write_atomic(self.path, self.previous.read_bytes())
        self.finish("rolled_back", reason)
        log.error("configuration change rolled back to %s (sm3 %s): %s", self.path, self.sm3()[:16], reason)

    def finish(self, state: str, reason: str = "") -> None:
        change = self.change() or {}
        change.update(state=state, reason=reason, t_ms=int(time.time() * 1000), answered=False)
        self._save(change)
        if state == "applied":
            log.info("configuration change %s applied: sm3 %s", change.get("command_id"), change.get("new_sm3", "")[:16])

    def answered(self, command_id: str) -> None:
        change = self.change()
        if change and change.get("command_id") == command_id:
            change["answered"] = True
            self._save(change)


def answer_of(change: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(status, reason, result) of the signed answer to a finished change."""
    result = {"config_sm3": change["new_sm3"] if change["state"] == "applied" else change["previous_sm3"],
              "new_sm3": change["new_sm3"], "previous_sm3": change["previous_sm3"], "state": change["state"]}
    if change["state"] == "applied":
        return "done", "", result
    return "refused", "rolled_back", {**result, "detail": change["reason"]}


def load_or_roll_back(files: ConfigFiles) -> EdgeConfig:
    """The config to (re)start with: the file in force, or the previous one if it will not load."""
    try:
        return load_edge_config(files.path)
    except ConfigError as err:
        change = files.change()
        if not change or change["state"] != "probation" or not files.previous.exists():
            raise
        files.rollback(f"the new file does not load: {'; '.join(err.problems)}")
        return load_edge_config(files.path)

"""Child processes for the demo and the tests: start, wait until ready, stop in order.

Children run in their own session (a terminal's Ctrl-C reaches only the parent, which then stops
them in the right order) and get SIGTERM if the parent dies, so none is left behind.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Child:
    """A `python -m watertel …` (or any) process with its output in a log file."""

    def __init__(self, name: str, argv: list[str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent,
            )

    @classmethod
    def watertel(cls, name: str, args: list[str], log_dir: Path) -> Child:
        return cls(name, [sys.executable, "-m", "watertel", "-v", *args], log_dir)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, wait, then SIGKILL if it will not go."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()


class StartupError(RuntimeError):
    pass


def wait_until(check, what: str, child: Child | None = None, timeout: float = 30.0) -> None:
    """Poll ``check()`` until true; fail early with the child's log if it died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if child is not None and not child.alive():
            raise StartupError(f"{child.name} exited while waiting for {what}:\n{child.log_tail()}")
        time.sleep(0.1)
    raise StartupError(f"timed out after {timeout:.0f}s waiting for {what}" + (f":\n{child.log_tail()}" if child else ""))


def mqtt_ready(port: int, host: str = "127.0.0.1") -> bool:
    """True once an MQTT broker answers CONNECT with an accepting CONNACK (a bare TCP probe
    makes brokers log a protocol error)."""
    client_id = b"watertel-probe"
    body = b"\x00\x04MQTT\x04\x02\x00\x0a" + len(client_id).to_bytes(2, "big") + client_id
    try:
        with socket.create_connection((host, port), timeout=1) as s:
            s.sendall(bytes([0x10, len(body)]) + body)
            ack = s.recv(4)
            s.sendall(b"\xe0\x00")  # DISCONNECT
    except OSError:
        return False
    return len(ack) == 4 and ack[0] == 0x20 and ack[3] == 0


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def path_exists(path: Path) -> bool:
    return os.path.exists(path)

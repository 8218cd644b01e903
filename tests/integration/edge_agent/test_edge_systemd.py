"""The edge agent speaks systemd's notify protocol: READY once running, watchdog pings from its
event loop at half the watchdog period, STOPPING on SIGTERM (deploy/systemd uses Type=notify)."""

from __future__ import annotations

import socket
import time

from watertel.shell.demo import Demo
from watertel.ports import free_port
from watertel.shell.processes import Child


def test_ready_watchdog_and_stopping_reach_systemd(tmp_path, monkeypatch):
    demo = Demo(tmp_path / "demo", f"mqtt://127.0.0.1:{free_port()}")  # no broker, no devices: still alive
    demo.prepare()
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(30)
        monkeypatch.setenv("NOTIFY_SOCKET", address)
        monkeypatch.setenv("WATCHDOG_USEC", "1000000")  # 1 s: a ping every 0.5 s
        edge = Child.watertel("edge", ["edge", "run", "--config", str(demo.dir / "edge-gw-1.yaml")], demo.logs)
        try:
            assert sock.recv(100) == b"READY=1", edge.log_tail()
            began, pings = time.monotonic(), 0
            while pings < 6:
                assert sock.recv(100) == b"WATCHDOG=1"
                pings += 1
            assert 2.0 <= time.monotonic() - began <= 6.0, "pings about every 0.5 s"
        finally:
            edge.stop()
        assert edge.proc.returncode == 0
        messages = []
        sock.settimeout(0.5)
        try:
            while True:
                messages.append(sock.recv(100))
        except TimeoutError:
            pass
        assert b"STOPPING=1" in messages

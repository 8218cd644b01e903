"""A local Mosquitto on a free loopback port, for the soak harness, benchmarks and tests.

Anonymous and loopback only (production uses deploy/mosquitto with TLS and an ACL).
"""

from __future__ import annotations

import getpass
import shutil
import subprocess
import time
from pathlib import Path

from watertel.ports import free_port, port_open


def find_mosquitto() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto") if Path(p).exists()), None)


class Mosquitto:
    """A real Mosquitto that can be stopped and started again on the same port."""

    def __init__(self, binary: str, workdir: Path, persistence: bool = True) -> None:
        self.binary, self.port = binary, free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n"
            # started as root, mosquitto switches to its own user, which cannot write its
            # persistence file into this folder: sessions would silently not survive a restart
            f"user {getpass.getuser()}\n"
            + (f"persistence true\npersistence_location {workdir}/\n" if persistence else "persistence false\n")
        )
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.conf.with_name("mosquitto.log"), "ab") as log:
            self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not port_open(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited at start (see {self.conf.with_name('mosquitto.log')})")
            if time.monotonic() > deadline:
                raise RuntimeError("mosquitto did not open its port within 10 s")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

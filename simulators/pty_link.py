"""A null-modem cable made of two pseudo-terminals, so RTU devices and clients need no socat.

Bytes written to one end's slave come out of the other end's slave, as on an RS-485 pair::

    server ⇄ slave A ⇄ master A ⇄ (copy) ⇄ master B ⇄ slave B ⇄ client (at ``link``)
"""

from __future__ import annotations

import asyncio
import os
import tty
from pathlib import Path


class PtyLink:
    """Create the pair, expose ``server_port`` and a symlink ``link`` to the client end."""

    def __init__(self, link: Path) -> None:
        self.link = Path(link)
        self._a_master, self._a_slave = os.openpty()
        self._b_master, self._b_slave = os.openpty()
        for fd in (self._a_slave, self._b_slave):
            tty.setraw(fd)  # no echo, no line discipline: Modbus frames are binary
        self.server_port = os.ttyname(self._a_slave)
        self.client_port = client_port = os.ttyname(self._b_slave)
        self.link.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.link.with_name(self.link.name + ".tmp")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(client_port)
        tmp.replace(self.link)  # atomic: a client never sees a half-made link

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_reader(self._a_master, self._copy, self._a_master, self._b_master)
        loop.add_reader(self._b_master, self._copy, self._b_master, self._a_master)

    @staticmethod
    def _copy(src: int, dst: int) -> None:
        try:
            data = os.read(src, 4096)
        except OSError:
            return  # the other side closed; the slave fds we hold keep the pair alive
        if data:
            os.write(dst, data)

    def close(self) -> None:
        loop = asyncio.get_running_loop()
        for fd in (self._a_master, self._b_master):
            loop.remove_reader(fd)
        for fd in (self._a_master, self._a_slave, self._b_master, self._b_slave):
            os.close(fd)
        if self.link.is_symlink():
            self.link.unlink()

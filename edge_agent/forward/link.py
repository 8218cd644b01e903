"""One long TCP connection to the platform, as a field RTU keeps it: log in, keep alive, send one
report at a time and wait for its acknowledgement.

    SZY 206   connect → 02H F0 login, echoed → { C0H report → C0H confirmation } …
              idle keepalive_s → 02H F2, echoed; stop → 02H F1 logout
    SL 651    connect → { 32H report → reply with its serial: ACK / EOT / ESC ok, NAK refused } …
              idle keepalive_s → 2FH (no answer expected)

Stop-and-wait: SZY 206's confirmation names no report, so only one may be outstanding. No
answer within ``ack_timeout_s``, a NAK, a closed connection: :class:`LinkError`, and the caller
backs off, reconnects and sends the same frame again.

The platform may send its own frames on the connection at any time (SZY B0H / 11H, SL 37H /
4AH): whether the link is waiting for an acknowledgement or idle (:meth:`PlatformLink.idle`),
each downlink frame that is not the awaited answer goes to ``respond`` and its answer is sent.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Callable

from watertel.protocols.framing import StreamFramer
from watertel.edge_agent.forward.config import SZY_ADDRESS, ForwardConfig
from watertel.protocols import FrameError, Protocol, sl651, szy206
from watertel.protocols.common import CHINA


class LinkError(Exception):
    """The platform did not take a frame: ``reason`` says why (timeout, refused, closed)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Refused(LinkError):
    """The platform answered NAK."""


Respond = Callable[[szy206.Frame | sl651.Frame], bytes | None]


class PlatformLink:
    def __init__(self, cfg: ForwardConfig, respond: Respond | None = None) -> None:
        self.respond = respond
        self.cfg, self.platform = cfg, cfg.platform
        self.protocol = cfg.platform.protocol
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.framer = StreamFramer()
        self.last_traffic = time.monotonic()
        # SZY link checks carry an address: the first station's (the gateway reports as that RTU)
        match = SZY_ADDRESS.match(cfg.stations[0].address)
        self.szy_address = (match[1], int(match[2])) if match else ("000000", 0)

    async def connect(self) -> None:
        host, port = self.platform.host_port
        try:
            async with asyncio.timeout(self.platform.ack_timeout_s):  # not wait_for: see _answer
                self.reader, self.writer = await asyncio.open_connection(host, port)
        except (OSError, TimeoutError) as err:
            raise LinkError(f"cannot connect to {host}:{port}: {err or type(err).__name__}") from None
        self.framer = StreamFramer()
        if self.protocol == Protocol.SZY206:
            await self._exchange(self._link(szy206.LinkCode.LOGIN), lambda f: f.afn == szy206.Afn.LINK_CHECK,
                                 "login")

    async def close(self) -> None:
        if self.writer is None:
            return
        try:
            if self.protocol == Protocol.SZY206 and not self.writer.is_closing():
                self.writer.write(self._link(szy206.LinkCode.LOGOUT))
                async with asyncio.timeout(1):  # not wait_for: see _answer
                    await self.writer.drain()
        except (OSError, TimeoutError):
            pass
        finally:
            self.writer.close()
            self.writer = self.reader = None

    def idle_s(self) -> float:
        return time.monotonic() - self.last_traffic

    async def keepalive(self) -> None:
        if self.protocol == Protocol.SZY206:
            await self._exchange(self._link(szy206.LinkCode.KEEPALIVE), lambda f: f.afn == szy206.Afn.LINK_CHECK,
                                 "keep-alive")
            return
        now = datetime.now(CHINA).replace(microsecond=0)
        station = self.cfg.stations[0].address
        frame = sl651.Frame(sl651.Function.LINK_KEEPALIVE, True, self.platform.centre, station,
                            int(self.platform.password, 16), sl651.End.ETX, sl651.LinkCheck(0, now))
        await self._exchange(sl651.encode(frame), None, "keep-alive")

    async def send(self, data: bytes) -> None:
        """Send one report frame and return once the platform acknowledged it."""
        if self.protocol == Protocol.SZY206:
            sent = szy206.decode(data)
            matches = lambda f: (f.afn == szy206.Afn.SELF_REPORT and isinstance(f.message, szy206.Confirm)
                                 and (f.division, f.station) == (sent.division, sent.station))
        else:
            sent = sl651.decode(data)

            def matches(f: sl651.Frame) -> bool:
                if f.function != sent.function or f.station != sent.station or f.message.serial != sent.message.serial:
                    return False
                if f.end == sl651.End.NAK:
                    raise Refused(f"refused (NAK) report serial {sent.message.serial}")
                return f.end in (sl651.End.ACK, sl651.End.EOT, sl651.End.ESC)
        await self._exchange(data, matches, "report")

    def _link(self, code: szy206.LinkCode) -> bytes:
        division, station = self.szy_address
        return szy206.encode(szy206.Frame(szy206.Afn.LINK_CHECK, True, 0, 3, division, station, szy206.LinkCheck(code)))

    async def _exchange(self, data: bytes, matches, what: str) -> None:
        if self.writer is None or self.reader is None:
            raise LinkError("not connected")
        try:
            self.writer.write(data)
            await self.writer.drain()
            self.last_traffic = time.monotonic()
            if matches is not None:
                await self._answer(matches, what)
        except (OSError, ConnectionError) as err:
            raise LinkError(f"connection lost: {err}") from None

    async def _answer(self, matches, what: str) -> None:
        deadline = time.monotonic() + self.platform.ack_timeout_s
        while True:
            left = deadline - time.monotonic()
            try:
                # asyncio.timeout, not wait_for: Python 3.11's wait_for returns the read's data when
                # the task is cancelled just as the data arrives, and the stop is lost (the
                # forwarder then never stops; fixed in 3.12)
                async with asyncio.timeout(max(left, 0)):
                    data = await self.reader.read(4096)
            except TimeoutError:
                raise LinkError(f"no answer to the {what} within {self.platform.ack_timeout_s:g} s") from None
            if not data:
                raise LinkError(f"the platform closed the connection (waiting for the answer to the {what})")
            self.last_traffic = time.monotonic()
            if self._handle(data, matches):
                await self.writer.drain()
                return
            await self.writer.drain()

    async def idle(self, timeout: float, wake: asyncio.Event) -> None:
        """Wait up to ``timeout`` or until ``wake``, answering what the platform sends meanwhile;
        a connection the platform closed is a :class:`LinkError` (reconnect now, not at the next report)."""
        if self.writer is None or self.reader is None:
            raise LinkError("not connected")
        read = asyncio.ensure_future(self.reader.read(4096))
        woken = asyncio.ensure_future(wake.wait())
        try:
            await asyncio.wait({read, woken}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (read, woken):
                task.cancel()
            # Wait for both to end without awaiting them: `await read` raises its CancelledError, and
            # suppressing that also swallowed a cancel of this task arriving meanwhile, so a stop
            # was lost and the forwarder never stopped (test_forward_queries hung until its timeout).
            await asyncio.wait({read, woken})
        if read.cancelled():
            return
        try:
            data = read.result()
            if not data:
                raise LinkError("the platform closed the connection")
            self._handle(data, None)
            await self.writer.drain()
        except (OSError, ConnectionError) as err:
            raise LinkError(f"connection lost: {err}") from None

    def _handle(self, data: bytes, matches) -> bool:
        """Every frame in ``data``: True if one is the awaited answer; the platform's queries answered."""
        matched = False
        for protocol, raw in self.framer.feed(data):
            if protocol != self.protocol:
                continue
            try:
                frame = (szy206 if protocol == Protocol.SZY206 else sl651).decode(raw)
            except FrameError:
                continue  # counted by nobody: a platform's bad frame is not our report's answer
            if frame.uplink:
                continue
            if not matched and matches is not None and matches(frame):
                matched = True
                continue
            answer = self.respond(frame) if self.respond else None
            if answer:
                self.writer.write(answer)
                self.last_traffic = time.monotonic()
        return matched

"""A simulated regulator platform (receiving centre) for SZY 206-2016 and SL 651-2014 over TCP:
`watertel sim platform --listen HOST:PORT [--protocol szy206|sl651] [--record FILE] [--answer ack|nak|silent]`.

It answers as a centre does: SZY 206 02H link checks (login, keep-alive, logout) are echoed and
a C0H self-report is confirmed (C0H, 00H); an SL 651 30H-34H report is answered with ESC (stay
online), echoing its serial number and send time, and a 2FH keep-alive gets no answer. Split
(SZY D6) and multi-packet (SL SYN) messages are joined first and answered once, whole. Both
protocols share the port (told apart by their start bytes) unless ``--protocol`` names one.

Every report is recorded (``reports`` in memory, and one JSON line each in ``--record``):
protocol, address, sample time (``t_ms``), the values by the rtu-gateway's keys (``flow_1``,
``volume_1`` / ``flow``, ``water_level``, …; ``null`` for an SL 651 AAH invalid value),
whether it was acknowledged, and the frame(s) in hex, so a test can tell a re-sent frame (same
bytes) from a report built twice. ``answer`` (changeable while running) makes it refuse reports
(SL 651 NAK; SZY 206 has no negative answer, so nothing) or ignore them (``silent``), and
``ack_delay_s`` slows it down like a far-away platform.

It also asks, as a centre does, on the connection a station last reported on:
:meth:`Platform.query_realtime` (SZY B0H with the data type in C, SL 37H) and
:meth:`Platform.set_clock` (SZY 11H, SL 4AH) send the query and return the station's answer
(``answers`` keeps them all); ``--query-every S`` / ``--set-clock-every S`` do it periodically
for every station connected.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from watertel.errors import OperatorError
from watertel.ports import cannot_listen, host_port
from watertel.protocols import FrameError, Protocol, sl651, szy206
from watertel.protocols.common import CHINA
from watertel.protocols.framing import StreamFramer
from watertel.protocols.multipart import SlJoiner, SzyJoiner

log = logging.getLogger("watertel.sim.platform")
ANSWERS = ("ack", "nak", "silent")


def report_values(frame: szy206.Frame | sl651.Frame, now: datetime | None = None) -> tuple[str, int, dict]:
    """(address, sample time in ms, values by key) of a whole SZY 206 / SL 651 report."""
    if isinstance(frame, szy206.Frame):
        data = frame.message
        t_ms = int(data.time.resolve(now or datetime.now(CHINA)).timestamp() * 1000)
        values: dict[str, Any] = {"alarm_state": data.alarm, "terminal_state": data.status}
        payload = data.payload
        if isinstance(payload, szy206.FlowVolume):
            for n, p in enumerate(payload.points, 1):
                values |= {f"flow_{n}": float(p.flow), f"volume_{n}": float(p.volume)}
        elif isinstance(payload, szy206.Pressure):
            values |= {f"pressure_{n}": float(v) for n, v in enumerate(payload.values, 1)}
        else:
            values |= {szy206.WATER_QUALITY[q.parameter][0]: float(q.value) for q in payload.values}
        return f"{frame.division}-{frame.station}", t_ms, values
    report = frame.message
    values = {sl651.ELEMENTS[e.ident][0]: None if e.value is None else float(e.value) for e in report.elements}
    return frame.station, int(report.observed_at.timestamp() * 1000), values


class Platform:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, protocol: Protocol | None = None,
                 record: Path | None = None, answer: str = "ack", ack_delay_s: float = 0.0) -> None:
        if answer not in ANSWERS:
            raise ValueError(f"answer: one of {', '.join(ANSWERS)} (got {answer!r})")
        self.host, self.port, self.protocol, self.record = host, port, protocol, record
        self.answer, self.ack_delay_s = answer, ack_delay_s
        self.reports: list[dict] = []
        self.stats = {"connections": 0, "frames": 0, "link_checks": 0, "reports": 0, "acknowledged": 0,
                      "refused": 0, "bad_frames": 0, "parts": 0}
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task] = set()
        self.peers: dict[str, tuple[asyncio.StreamWriter, szy206.Frame | sl651.Frame]] = {}  # address → last frame
        self.answers: list[dict] = []
        self.waiting: dict[tuple[str, str], asyncio.Future] = {}
        self.serial = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        """Stop listening and drop every connection (as a platform going down would)."""
        if self.server:
            self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.server:
            await self.server.wait_closed()
            self.server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self.tasks.add(task)
        self.stats["connections"] += 1
        framer = StreamFramer()
        joiners = {Protocol.SZY206: SzyJoiner(), Protocol.SL651: SlJoiner()}
        parts: dict[Protocol, list[bytes]] = {Protocol.SZY206: [], Protocol.SL651: []}
        try:
            while data := await reader.read(4096):
                for protocol, raw in framer.feed(data):
                    answer = await self._frame(protocol, raw, joiners[protocol], parts[protocol], writer)
                    if answer:
                        writer.write(answer)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        except asyncio.CancelledError:  # closed by close(): end quietly (asyncio logs a cancelled handler)
            pass
        finally:
            self.tasks.discard(task)
            writer.close()

    async def _frame(self, protocol: Protocol, raw: bytes, joiner, parts: list[bytes],
                     writer: asyncio.StreamWriter | None = None) -> bytes | None:
        self.stats["frames"] += 1
        if self.protocol and protocol != self.protocol:
            self.stats["bad_frames"] += 1
            return None
        try:
            frame = (szy206 if protocol == Protocol.SZY206 else sl651).decode(raw)
            if not frame.uplink:
                raise FrameError("a downlink frame sent to the centre")
            is_part = isinstance(frame.message, (szy206.Fragment, sl651.Fragment))
            if is_part:
                self.stats["parts"] += 1
                parts.append(raw)
            whole = joiner.feed(frame)
        except FrameError as err:
            self.stats["bad_frames"] += 1
            log.warning("platform: bad %s frame: %s", protocol.value, err.reason)
            parts[:] = [raw] if getattr(joiner, "first", None) is not None else []  # a part may start anew
            return None
        if whole is None:
            return None
        frames = list(parts) if is_part else [raw]
        if is_part:
            parts.clear()
        message = whole.message
        if writer is not None:
            self.peers[_address(whole)] = (writer, whole)
        kind = _answer_kind(whole)
        if kind:
            self._answered(kind, whole)
            return None
        if isinstance(message, szy206.LinkCheck):
            self.stats["link_checks"] += 1
            return szy206.encode(szy206.reply(whole))
        if isinstance(message, sl651.LinkCheck):
            self.stats["link_checks"] += 1
            return None
        if not isinstance(message, (szy206.RealtimeData, sl651.Report)):
            return None
        return await self._report(protocol, whole, frames)

    async def _report(self, protocol: Protocol, frame, frames: list[bytes]) -> bytes | None:
        if self.ack_delay_s:
            await asyncio.sleep(self.ack_delay_s)
        address, t_ms, values = report_values(frame)
        answer = self.answer
        self.stats["reports"] += 1
        entry = {"protocol": protocol.value, "address": address, "t_ms": t_ms, "values": values,
                 "acknowledged": answer == "ack", "frames": [f.hex().upper() for f in frames],
                 "received_ms": int(time.time() * 1000)}
        self.reports.append(entry)
        if self.record:
            with open(self.record, "a") as f:
                f.write(json.dumps(entry) + "\n")
        if answer == "silent":
            return None
        if protocol == Protocol.SZY206:
            if answer != "ack":
                return None
            self.stats["acknowledged"] += 1
            return szy206.encode(szy206.reply(frame))
        if answer == "nak":
            self.stats["refused"] += 1
            return sl651.encode(sl651.reply(frame, sl651.End.NAK))
        self.stats["acknowledged"] += 1
        return sl651.encode(sl651.reply(frame, sl651.End.ESC))


    # --- the centre's queries ---------------------------------------------------------------------
    async def query_realtime(self, address: str, data_type: szy206.DataType = szy206.DataType.FLOW_VOLUME,
                             timeout: float = 5.0) -> dict:
        """Ask the station at ``address`` for its real-time values (SZY B0H, SL 37H); its answer."""
        writer, last = self._peer(address)
        now = datetime.now(CHINA).replace(microsecond=0)
        if isinstance(last, szy206.Frame):
            frame = szy206.encode(szy206.query_realtime(last.division, last.station, data_type, now))
        else:
            self.serial = self.serial % 0xFFFF + 1
            frame = sl651.encode(sl651.query_realtime(last.centre, last.station, last.password, self.serial, now))
        return await self._ask(writer, address, "realtime", frame, timeout)

    async def set_clock(self, address: str, clock: datetime | None = None, timeout: float = 5.0) -> dict:
        """Set the station's clock (SZY 11H, SL 4AH: the send time is the clock); its answer."""
        writer, last = self._peer(address)
        clock = (clock or datetime.now(CHINA)).replace(microsecond=0)
        if isinstance(last, szy206.Frame):
            frame = szy206.encode(szy206.set_clock(last.division, last.station, clock))
        else:
            self.serial = self.serial % 0xFFFF + 1
            frame = sl651.encode(sl651.set_clock(last.centre, last.station, last.password, self.serial, clock))
        return await self._ask(writer, address, "clock", frame, timeout)

    def _peer(self, address: str):
        if address not in self.peers or self.peers[address][0].is_closing():
            raise LookupError(f"station {address} is not connected")
        return self.peers[address]

    async def _ask(self, writer: asyncio.StreamWriter, address: str, kind: str, frame: bytes, timeout: float) -> dict:
        future = asyncio.get_running_loop().create_future()
        self.waiting[(address, kind)] = future
        try:
            writer.write(frame)
            await writer.drain()
            return await asyncio.wait_for(future, timeout)
        finally:
            self.waiting.pop((address, kind), None)

    def _answered(self, kind: str, frame) -> None:
        address = _address(frame)
        entry: dict[str, Any] = {"kind": kind, "address": address, "received_ms": int(time.time() * 1000),
                                 "frame": frame}
        if kind == "realtime":
            _, entry["t_ms"], entry["values"] = report_values(frame)
        else:
            message = frame.message
            entry["clock"] = (message.clock if isinstance(message, szy206.ClockEcho) else message.sent_at).isoformat()
        self.answers.append(entry)
        if self.record:
            with open(self.record, "a") as f:
                f.write(json.dumps({k: v for k, v in entry.items() if k != "frame"}) + "\n")
        future = self.waiting.get((address, kind))
        if future and not future.done():
            future.set_result(entry)

    async def ask_every(self, query_s: float | None, clock_s: float | None, stop: asyncio.Event) -> None:
        """``--query-every`` / ``--set-clock-every``: each connected station in turn, logged."""
        next_q = next_c = time.monotonic()
        while not stop.is_set():
            now = time.monotonic()
            for address in list(self.peers):
                for every, ask, due in ((query_s, self.query_realtime, next_q), (clock_s, self.set_clock, next_c)):
                    if every and now >= due:
                        try:
                            got = await ask(address)
                            log.info("platform: %s answered: %s", address, got.get("values", got.get("clock")))
                        except (LookupError, TimeoutError, OSError) as err:
                            log.warning("platform: %s did not answer: %s", address, err or "timeout")
            next_q = next_q + query_s if query_s and now >= next_q else next_q
            next_c = next_c + clock_s if clock_s and now >= next_c else next_c
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)


def _address(frame: szy206.Frame | sl651.Frame) -> str:
    return f"{frame.division}-{frame.station}" if isinstance(frame, szy206.Frame) else frame.station


def _answer_kind(frame: szy206.Frame | sl651.Frame) -> str | None:
    """"realtime" / "clock" for a station's answer to a centre's query, None for anything else."""
    if isinstance(frame, szy206.Frame):
        if frame.afn == szy206.Afn.QUERY_REALTIME and isinstance(frame.message, szy206.RealtimeData):
            return "realtime"
        return "clock" if isinstance(frame.message, szy206.ClockEcho) else None
    if frame.function == sl651.Function.QUERY_REALTIME and isinstance(frame.message, sl651.Report):
        return "realtime"
    return "clock" if isinstance(frame.message, sl651.ClockAnswer) else None


# --- `watertel sim platform` ----------------------------------------------------------------------


def run_platform_command(args: argparse.Namespace) -> int:
    host, port = host_port(args.listen, "--listen")
    platform = Platform(host, port, Protocol(args.protocol) if args.protocol else None,
                        Path(args.record) if args.record else None, args.answer, args.ack_delay)

    async def main() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        try:
            await platform.start()
        except OSError as err:
            raise OperatorError(cannot_listen(platform.host, platform.port)) from err
        asking = None
        if args.query_every or args.set_clock_every:
            asking = asyncio.create_task(platform.ask_every(args.query_every, args.set_clock_every, stop))
        log.info("platform listening on %s:%d (%s)", platform.host, platform.port,
                 platform.protocol.value if platform.protocol else "szy206 and sl651")
        try:
            await stop.wait()
        finally:
            if asking:
                await asking
            await platform.close()

    asyncio.run(main())
    print(json.dumps(platform.stats), flush=True)
    return 0

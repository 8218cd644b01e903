"""A simulated field RTU that reports to a centre in SZY 206-2016 or SL 651-2014 over TCP:
`watertel sim rtu --protocol szy206|sl651 --connect HOST:PORT --address ADDR [--interval S] [--count N]`.

It behaves as a 4G DTU in the field does: one long connection, a login (SZY 206 02H F0), a
keep-alive when idle (SZY 02H F2, answered; SL 651 2FH, not answered), and a self-report every
``interval`` seconds (SZY C0H flow and cumulative volume; SL 651 32H flow, water level and
supply voltage). Each report waits for the centre's acknowledgement (SZY C0H confirmation;
SL ACK, EOT or ESC with its serial number); one that is not acknowledged stays at the head of
the queue and is sent again, the same bytes, after reconnecting. Reports are made on schedule
whether or not the link is up, as an RTU stores them.

Sample times: report ``i`` is sampled at ``start + i * step`` (``step`` 60 s by default; SL 651
times are to the minute). With ``--count`` the clock starts ``count`` steps in the past, so a
fast test run reports distinct, past minutes; keep count * step under a day for SZY 206, whose
time label has no month.

Each acknowledged report is appended to ``--sent-log`` (JSONL: protocol, address, number,
t_ms, the values by their rtu-gateway point keys, and how often it was sent). The last line on
stdout is a JSON summary; the exit status is 0 when every report was acknowledged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import math
import random
import re
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from watertel.errors import OperatorError
from watertel.ports import host_port
from watertel.protocols import FrameError, Protocol, sl651, szy206
from watertel.protocols.common import CHINA
from watertel.protocols.framing import StreamFramer

log = logging.getLogger("watertel.sim.rtu")


class NoAck(Exception):
    """The centre did not acknowledge in time (or closed the connection)."""


@dataclass
class Report:
    number: int
    t_ms: int
    values: dict[str, float]  # by the rtu-gateway's point keys (flow_1, volume_1 / flow, water_level, …)
    frame: bytes
    serial: int = 0
    sends: int = 0


class FieldRtu:
    def __init__(self, protocol: Protocol, host: str, port: int, address: str, interval_s: float = 60.0,
                 count: int | None = None, keepalive_s: float = 40.0, step_s: int = 60, seed: int = 0,
                 sent_log: Path | None = None, ack_timeout_s: float = 5.0, password: int = 0) -> None:
        self.protocol, self.host, self.port = Protocol(protocol), host, port
        self.password = password  # SL 651: the two bytes every frame carries (the centre checks them)
        self.interval_s, self.count, self.keepalive_s, self.step_s = interval_s, count, keepalive_s, step_s
        self.sent_log, self.ack_timeout_s = sent_log, ack_timeout_s
        self.rng = random.Random(seed)
        if self.protocol == Protocol.SZY206:
            division, _, station = address.partition("-")
            if len(division) != 6 or not division.isdigit() or not station.isdigit() or int(station) > 0xFFFF:
                raise ValueError(f"a SZY 206 address is like 330102-1234 (got {address!r})")
            self.division, self.station = division, int(station)
        else:
            if len(address) != 10 or not address.isdigit():
                raise ValueError(f"an SL 651 address is 10 digits (got {address!r})")
            self.station_address = address
        self.address = address
        minute = int(time.time()) // 60 * 60
        self.start_s = minute - (count - 1) * step_s if count else minute
        self.queue: deque[Report] = deque()
        self.made = 0
        self.stats = {"reports": 0, "acknowledged": 0, "resent": 0, "reconnects": 0, "keepalives": 0}
        self.volume = 100_000
        self._new = asyncio.Event()
        self._writer: asyncio.StreamWriter | None = None

    # --- reports ----------------------------------------------------------------------------------
    def make_report(self, i: int) -> Report:
        t_s = self.start_s + i * self.step_s
        when = datetime.fromtimestamp(t_s, CHINA)
        wave = math.sin(i / 5)
        if self.protocol == Protocol.SZY206:
            flow = Decimal(round(40 + 10 * wave + self.rng.uniform(-1, 1), 3)).quantize(Decimal("0.001"))
            if i % 7 == 3:
                flow = -flow.copy_abs() / 10  # a reverse flow now and then: the sign bit
                flow = flow.quantize(Decimal("0.001"))
            self.volume += self.rng.randint(1, 50)
            point = szy206.FlowPoint(flow, self.volume)
            data = szy206.RealtimeData(szy206.FlowVolume((point,)), 0, 0, szy206.TimeLabel.of(when, 10))
            frame = szy206.Frame(szy206.Afn.SELF_REPORT, True, szy206.DataType.FLOW_VOLUME, 3, self.division,
                                 self.station, data)
            return Report(i, t_s * 1000, {"flow_1": float(flow), "volume_1": float(self.volume)}, szy206.encode(frame))
        flow = Decimal(round(2 + wave + self.rng.uniform(0, 0.5), 3)).quantize(Decimal("0.001"))
        level = Decimal(round(10 + 0.5 * wave, 3)).quantize(Decimal("0.001"))
        volts = Decimal(round(12.5 + self.rng.uniform(-0.3, 0.3), 2)).quantize(Decimal("0.01"))
        elements = (sl651.Element(0x27, 0x2B, (flow,)), sl651.Element(0x39, 0x23, (level,)),
                    sl651.Element(0x38, 0x12, (volts,)))
        serial = i % 0xFFFF + 1
        report = sl651.Report(serial, datetime.now(CHINA).replace(microsecond=0), self.station_address,
                              sl651.Category.INTAKE, when, elements)
        frame = sl651.Frame(sl651.Function.TIMED, True, 1, self.station_address, self.password, sl651.End.ETX, report)
        return Report(i, t_s * 1000, {"flow": float(flow), "water_level": float(level), "supply_voltage": float(volts)},
                      sl651.encode(frame), serial)

    async def _produce(self) -> None:
        i = 0
        while self.count is None or i < self.count:
            self.queue.append(self.make_report(i))
            self.made = i = i + 1
            self.stats["reports"] += 1
            self._new.set()
            if self.count is None or i < self.count:
                await asyncio.sleep(self.interval_s)

    # --- the link ---------------------------------------------------------------------------------
    def _link_frame(self, code: szy206.LinkCode) -> bytes:
        return szy206.encode(szy206.Frame(szy206.Afn.LINK_CHECK, True, 0, 3, self.division, self.station,
                                          szy206.LinkCheck(code)))

    def _keepalive_frame(self) -> bytes:
        if self.protocol == Protocol.SZY206:
            return self._link_frame(szy206.LinkCode.KEEPALIVE)
        now = datetime.now(CHINA).replace(microsecond=0)
        return sl651.encode(sl651.Frame(sl651.Function.LINK_KEEPALIVE, True, 1, self.station_address, self.password,
                                        sl651.End.ETX, sl651.LinkCheck(0, now)))

    async def _answer(self, reader: asyncio.StreamReader, framer: StreamFramer, matches) -> None:
        """Read until a downlink frame ``matches``; NoAck on timeout, close or a NAK."""
        deadline = time.monotonic() + self.ack_timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise NoAck("no acknowledgement in time")
            try:
                data = await asyncio.wait_for(reader.read(4096), left)
            except TimeoutError:
                raise NoAck("no acknowledgement in time") from None
            if not data:
                raise NoAck("the centre closed the connection")
            for protocol, raw in framer.feed(data):
                try:
                    frame = (szy206 if protocol == Protocol.SZY206 else sl651).decode(raw)
                except FrameError as err:
                    log.warning("RTU %s: bad frame from the centre: %s", self.address, err)
                    continue
                if not frame.uplink and matches(frame):
                    return

    async def _exchange(self, reader, writer, framer, data: bytes, matches) -> None:
        writer.write(data)
        await writer.drain()
        if matches is not None:
            await self._answer(reader, framer, matches)

    def _report_ack(self, report: Report):
        if self.protocol == Protocol.SZY206:
            return lambda f: f.afn == szy206.Afn.SELF_REPORT and isinstance(f.message, szy206.Confirm)

        def sl_ack(f: sl651.Frame) -> bool:
            if f.message.serial != report.serial or f.function != sl651.Function.TIMED:
                return False
            if f.end == sl651.End.NAK:
                raise NoAck("the centre answered NAK")
            return f.end in (sl651.End.ACK, sl651.End.EOT, sl651.End.ESC)
        return sl_ack

    async def _session(self) -> None:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), self.ack_timeout_s)
        self._writer = writer
        framer = StreamFramer()
        try:
            if self.protocol == Protocol.SZY206:  # log in: the centre echoes the link check
                await self._exchange(reader, writer, framer, self._link_frame(szy206.LinkCode.LOGIN),
                                     lambda f: f.afn == szy206.Afn.LINK_CHECK)
            while not self._done():
                if not self.queue:
                    self._new.clear()
                    try:
                        await asyncio.wait_for(self._new.wait(), self.keepalive_s)
                    except TimeoutError:
                        szy = self.protocol == Protocol.SZY206
                        link_ack = (lambda f: f.afn == szy206.Afn.LINK_CHECK) if szy else None
                        await self._exchange(reader, writer, framer, self._keepalive_frame(), link_ack)
                        self.stats["keepalives"] += 1
                    continue
                report = self.queue[0]
                report.sends += 1
                if report.sends > 1:
                    self.stats["resent"] += 1
                await self._exchange(reader, writer, framer, report.frame, self._report_ack(report))
                self.queue.popleft()
                self.stats["acknowledged"] += 1
                self._log(report)
            if self.protocol == Protocol.SZY206:
                writer.write(self._link_frame(szy206.LinkCode.LOGOUT))
                await writer.drain()
        finally:
            writer.close()

    def _done(self) -> bool:
        return self.count is not None and self.made >= self.count and not self.queue

    def _log(self, report: Report) -> None:
        if self.sent_log:
            with open(self.sent_log, "a") as f:
                f.write(json.dumps({"protocol": self.protocol.value, "address": self.address, "number": report.number,
                                    "t_ms": report.t_ms, "values": report.values, "sends": report.sends}) + "\n")

    async def run(self) -> dict:
        """Report until ``count`` reports are acknowledged (for ever without a count)."""
        producer = asyncio.create_task(self._produce())
        delay = 0.2
        try:
            while not self._done():
                try:
                    await self._session()
                    delay = 0.2
                except (OSError, NoAck, TimeoutError) as err:
                    self.stats["reconnects"] += 1
                    log.info("RTU %s: %s; reconnecting in %.1f s", self.address, err or type(err).__name__, delay)
                    await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                    delay = min(delay * 2, 5.0)
        finally:
            producer.cancel()
        return {"protocol": self.protocol.value, "address": self.address, **self.stats}


# --- `watertel sim rtu` ---------------------------------------------------------------------------


def run_rtu_command(args: argparse.Namespace) -> int:
    if not (args.protocol and args.connect and args.address):
        raise OperatorError("watertel sim rtu needs --protocol, --connect HOST:PORT and --address")
    host, port = host_port(args.connect, "--connect")
    if not re.fullmatch(r"[0-9A-Fa-f]{1,4}", args.password):
        raise OperatorError(f"--password: the SL 651 password, up to 4 hex digits (got {args.password!r})")
    if args.count is not None and args.count < 1 or args.interval < 0 or args.step < 1:
        raise OperatorError("--count >= 1, --interval >= 0 and --step >= 1")
    try:
        rtu = FieldRtu(Protocol(args.protocol), host, port, args.address, args.interval,
                       args.count, args.keepalive, args.step, args.seed,
                       Path(args.sent_log) if args.sent_log else None, password=int(args.password, 16))
    except ValueError as err:
        raise OperatorError(str(err)) from err

    async def main() -> dict:
        task = asyncio.create_task(rtu.run())
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, task.cancel)
        try:
            return await task
        except asyncio.CancelledError:
            return {"protocol": rtu.protocol.value, "address": rtu.address, **rtu.stats}

    summary = asyncio.run(main())
    print(json.dumps(summary), flush=True)
    return 0 if not args.count or summary["acknowledged"] == args.count else 1

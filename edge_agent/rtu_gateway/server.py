"""The TCP side: long connections from RTUs, frames in, acknowledgements out.

One asyncio task per connection (several hundred at once are cheap). For each frame:

    SZY 206  02H link check (login F0, logout F1, keep-alive F2)  → echo it back
             C0H self-report  → readings into the buffer, committed → confirm (C0H, 00H)
             B0H answer, 11H clock echo  → readings stored / noted, no reply (they answer us)
    SL 651   2FH keep-alive  → no reply (the link is kept by the RTU's traffic)
             30H-34H report, 37H answer → readings committed → ESC (stay online) or EOT
    either   split (SZY D6) / multi-packet (SL SYN) frames → joined per connection; the whole
             message is handled (and acknowledged) as one frame once its last part is in

Nothing is answered, not even a link check, unless the frame passes ``admission`` (a configured
station's address, its password for SL 651, its allow-list): a peer that never logs in gets
silence and is closed ``idle_timeout_s`` after it connected, whatever it sends, and one that sends
``max_auth_failures`` refused frames sooner. A report is acknowledged only after its readings,
all within the sample-time window, are committed to the buffer; if not, no acknowledgement goes
back and the RTU sends it again later (an RTU keeps unacknowledged reports). Bad frames and
refusals are counted and logged once a minute per peer address (repeats at debug), and never end
the server. A connection sending a flood of bytes that are not frames is closed; the framer's
work per byte is bounded (``watertel.protocols.framing``), and ``connections`` caps connections
in total and per address, dropping the oldest idle one for a new one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter

from watertel.edge_agent.rtu_gateway.admission import Admission
from watertel.edge_agent.rtu_gateway.config import RtuGatewayConfig, StationMapping
from watertel.edge_agent.rtu_gateway.connections import Connection, ConnectionTable
from watertel.edge_agent.rtu_gateway.mapping import Mapped, address_of, sl_readings, szy_readings
from watertel.edge_agent.rtu_gateway.protocol_gateway import ProtocolGateway
from watertel.edge_agent.rtu_gateway.quiet import Quiet
from watertel.protocols import FrameError, Protocol, sl651, szy206
from watertel.protocols.framing import StreamFramer
from watertel.protocols.multipart import SlJoiner, SzyJoiner

log = logging.getLogger("watertel.rtu_gateway")
READ_SIZE = 4096
MAX_GARBAGE = 64 * 1024  # bytes without one good frame before a connection is dropped as a flood
ACCEPT_BACKLOG = 128


class RtuServer:
    def __init__(self, cfg: RtuGatewayConfig, gateways: dict[Protocol, ProtocolGateway]) -> None:
        self.cfg, self.gateways = cfg, gateways
        self.stats: Counter[str] = Counter()
        self.quiet = Quiet()
        self.admission = Admission(cfg, self.stats, self.quiet)
        self.table = ConnectionTable(cfg.max_connections, cfg.max_connections_per_address)
        self.connections: set[asyncio.Task] = set()
        self.server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen; return the port (useful with port 0)."""
        # asyncio accepts up to ``backlog`` connections per wake-up before serving anything else:
        # 128 keeps a reconnect storm from delaying the RTUs' reads by a thousand accepts at a time
        self.server = await asyncio.start_server(self._accept, host, port, backlog=ACCEPT_BACKLOG)
        return self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop accepting and close every connection (their unacknowledged reports come again)."""
        if self.server:
            self.server.close()
        for conn in list(self.table):
            conn.drop()
        for task in list(self.connections):
            task.cancel()
        await asyncio.gather(*self.connections, return_exceptions=True)
        if self.server:
            await self.server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        host, port = (writer.get_extra_info("peername") or ("?", 0))[:2]
        conn = Connection(str(host), int(port), writer)
        for victim in self.table.admit(conn):
            self.stats["evicted_connections"] += 1
            self.quiet.warn("full", "connection from %s dropped for one from %s (%s; %d open)", victim.peer, conn.peer,
                            "logged in" if victim.logged_in else "never logged in", len(self.table))
            victim.drop()
        self.connections.add(task)
        self.stats["connections"] += 1
        try:
            await self._serve(reader, writer, conn)
        except (ConnectionError, OSError, TimeoutError) as err:
            log.debug("connection %s: %s", conn.peer, err or type(err).__name__)
        finally:
            self.table.remove(conn)
            self.connections.discard(task)
            writer.transport.abort()  # no FIN handshake to wait for: the socket is freed now

    async def _read(self, reader: asyncio.StreamReader, conn: Connection) -> bytes | None:
        """The next bytes; None when no logged-in station was heard for ``idle_timeout_s``."""
        left = conn.last_heard + self.cfg.idle_timeout_s - time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError
            return await asyncio.wait_for(reader.read(READ_SIZE), left)
        except TimeoutError:
            self.stats["idle_closed"] += 1
            log.debug("connection %s: no frame of a logged-in station for %g s: closed", conn.peer,
                      self.cfg.idle_timeout_s)
            return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: Connection) -> None:
        framer, garbage_mark = StreamFramer(), 0
        joiners = {Protocol.SZY206: SzyJoiner(), Protocol.SL651: SlJoiner()}
        while (data := await self._read(reader, conn)):
            before = framer.discarded
            frames = framer.feed(data)
            self.stats["garbage_bytes"] += framer.discarded - before
            if frames:
                garbage_mark = framer.discarded
            elif framer.discarded - garbage_mark > MAX_GARBAGE:
                self.stats["flood_closed"] += 1
                self.quiet.warn(f"flood:{conn.host}", "connection %s closed: %d bytes without a frame", conn.peer,
                                framer.discarded - garbage_mark)
                return
            for protocol, raw in frames:
                answer = await self.on_frame(protocol, raw, conn, joiners)
                if answer:
                    writer.write(answer)
                if conn.failures >= self.cfg.max_auth_failures:
                    self.stats["refusals_closed"] += 1
                    return
            await asyncio.wait_for(writer.drain(), self.cfg.ack_timeout_s)

    async def on_frame(self, protocol: Protocol, raw: bytes, conn: Connection,
                       joiners: dict[Protocol, SzyJoiner | SlJoiner] | None = None) -> bytes | None:
        """Handle one checksum-verified frame; return the bytes to answer with (if any).

        Only frames that pass admission reach the joiners and the handlers; ``joiners`` (one
        pair per connection) join split / multi-packet messages; without them such parts are
        counted as unsupported."""
        self.stats["frames"] += 1
        try:
            frame = (szy206 if protocol == Protocol.SZY206 else sl651).decode(raw)
        except FrameError as err:
            return self._bad(protocol, conn, err.reason, raw)
        if not frame.uplink:
            return self._bad(protocol, conn, "a downlink frame", raw)
        entry = self.admission.station(protocol, frame, conn)
        if entry is None:
            return None
        self.table.heard(conn)
        conn.stations.add(entry.station)
        try:
            if joiners:
                part = isinstance(frame.message, (szy206.Fragment, sl651.Fragment))
                frame = joiners[protocol].feed(frame)
                if part:
                    self.stats["parts"] += 1
                if frame is None:  # more parts to come: the sender expects no answer yet
                    return None
                if part:
                    self.stats["joined"] += 1
        except FrameError as err:
            return self._bad(protocol, conn, err.reason, raw)
        if protocol == Protocol.SZY206:
            return await self._szy(frame, entry, conn)
        return await self._sl(frame, entry, conn)

    def _bad(self, protocol: Protocol, conn: Connection, reason: str, raw: bytes) -> None:
        self.stats["bad_frames"] += 1
        self.quiet.warn(f"bad:{conn.host}", "bad %s frame from %s: %s (%s)", protocol.value, conn.peer, reason,
                        raw[:64].hex() + ("…" if len(raw) > 64 else ""))
        return None

    async def _szy(self, frame: szy206.Frame, entry: StationMapping, conn: Connection) -> bytes | None:
        message = frame.message
        if isinstance(message, szy206.LinkCheck):
            self.stats["link_checks"] += 1
            return szy206.encode(szy206.reply(frame))
        if isinstance(message, szy206.Fragment):
            return self._unsupported(frame, conn, "split frame")
        if not isinstance(message, szy206.RealtimeData):
            self.stats["other_frames"] += 1
            return None
        if not await self._record(Protocol.SZY206, entry, szy_readings(entry, message), conn):
            return None
        return szy206.encode(szy206.reply(frame)) if frame.afn == szy206.Afn.SELF_REPORT else None

    async def _sl(self, frame: sl651.Frame, entry: StationMapping, conn: Connection) -> bytes | None:
        message = frame.message
        if isinstance(message, sl651.LinkCheck):
            self.stats["link_checks"] += 1
            return None
        if isinstance(message, sl651.Fragment):
            return self._unsupported(frame, conn, "multi-packet message")
        if not isinstance(message, sl651.Report):
            self.stats["other_frames"] += 1
            return None
        if not await self._record(Protocol.SL651, entry, sl_readings(entry, message), conn):
            return None
        end = sl651.End.ESC if self.cfg.sl651_reply == "esc" else sl651.End.EOT
        return sl651.encode(sl651.reply(frame, end))

    def _unsupported(self, frame: szy206.Frame | sl651.Frame, conn: Connection, what: str) -> None:
        self.stats["unsupported_frames"] += 1
        self.quiet.warn(f"unsupported:{conn.host}", "%s from %s (%s) not supported yet: not acknowledged",
                        what, address_of(frame), conn.peer)
        return None

    async def _record(self, protocol: Protocol, entry: StationMapping, mapped: Mapped, conn: Connection) -> bool:
        """Commit the readings; True once they are in the buffer (then the report may be acknowledged)."""
        if mapped.unmapped:
            self.stats["unmapped_values"] += len(mapped.unmapped)
            self.quiet.warn(f"unmapped:{entry.station}", "station %s reports %s, not in its points: not stored",
                            entry.station, ", ".join(mapped.unmapped))
        if not self.admission.in_window(entry, mapped.readings):
            return False
        if mapped.readings:
            try:
                await asyncio.wait_for(self.gateways[protocol].record(mapped.readings), self.cfg.ack_timeout_s)
            except (asyncio.CancelledError, KeyboardInterrupt):
                raise
            except Exception as err:
                self.stats["not_recorded"] += 1
                self.quiet.warn("not_recorded", "report of %s (%s) not recorded, not acknowledged: %s",
                                entry.station, conn.peer, err or type(err).__name__)
                return False
        self.stats["reports"] += 1
        self.stats["readings"] += len(mapped.readings)
        return True

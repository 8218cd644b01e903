"""The TCP side: long connections from RTUs, frames in, acknowledgements out.

One asyncio task per connection (several hundred at once are cheap). For each frame:

    SZY 206  02H link check (login F0, logout F1, keep-alive F2)  → echo it back
             C0H self-report  → readings into the buffer, committed → confirm (C0H, 00H)
             B0H answer, 11H clock echo  → readings stored / noted, no reply (they answer us)
    SL 651   2FH keep-alive  → no reply (the link is kept by the RTU's traffic)
             30H-34H report, 37H answer → readings committed → ESC (stay online) or EOT
    either   split (SZY D6) / multi-packet (SL SYN) frames → joined per connection; the whole
             message is handled (and acknowledged) as one frame once its last part is in

A report is acknowledged only after its readings are committed to the buffer; if that fails or
the station is unknown, no acknowledgement goes back and the RTU sends it again later (an RTU
keeps unacknowledged reports). Bad frames and unknown addresses are counted and logged once a
minute per peer or address (repeats at debug), and never end the server. A connection that is
silent for ``idle_timeout_s``, or sends a flood of bytes that are not frames, is closed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter

from watertel.edge_agent.rtu_gateway.protocol_gateway import ProtocolGateway
from watertel.edge_agent.rtu_gateway.config import RtuGatewayConfig, StationMapping
from watertel.protocols.framing import StreamFramer
from watertel.edge_agent.rtu_gateway.mapping import Mapped, StationMap, address_of, sl_readings, szy_readings
from watertel.protocols import FrameError, Protocol, sl651, szy206
from watertel.protocols.multipart import SlJoiner, SzyJoiner

log = logging.getLogger("watertel.rtu_gateway")
READ_SIZE = 4096
MAX_GARBAGE = 64 * 1024  # bytes without one good frame before a connection is dropped as a flood
QUIET_S = 60.0


class Quiet:
    """Log a problem once per key and minute at warning; repeats go to debug (and are counted)."""

    def __init__(self) -> None:
        self.last: dict[str, float] = {}

    def warn(self, key: str, msg: str, *args: object) -> None:
        now = time.monotonic()
        if now - self.last.get(key, -QUIET_S) >= QUIET_S:
            self.last[key] = now
            if len(self.last) > 10_000:  # many distinct peers: forget the oldest
                for old in sorted(self.last, key=self.last.get)[:5000]:
                    del self.last[old]
            log.warning(msg, *args)
        else:
            log.debug(msg, *args)


class RtuServer:
    def __init__(self, cfg: RtuGatewayConfig, gateways: dict[Protocol, ProtocolGateway]) -> None:
        self.cfg, self.gateways = cfg, gateways
        self.stations = StationMap(cfg)
        self.stats: Counter[str] = Counter()
        self.quiet = Quiet()
        self.connections: set[asyncio.Task] = set()
        self.server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen; return the port (useful with port 0)."""
        self.server = await asyncio.start_server(self._accept, host, port, backlog=1024)
        return self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop accepting and close every connection (their unacknowledged reports come again)."""
        if self.server:
            self.server.close()
        for task in list(self.connections):
            task.cancel()
        await asyncio.gather(*self.connections, return_exceptions=True)
        if self.server:
            await self.server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        peer = "%s:%s" % (writer.get_extra_info("peername") or ("?", "?"))[:2]
        if len(self.connections) >= self.cfg.max_connections:
            self.stats["refused_connections"] += 1
            self.quiet.warn("max_connections", "connection from %s refused: %d connections open (max_connections)",
                            peer, len(self.connections))
            writer.close()
            return
        self.connections.add(task)
        self.stats["connections"] += 1
        try:
            await self._serve(reader, writer, peer)
        except (ConnectionError, OSError) as err:
            log.debug("connection %s: %s", peer, err)
        finally:
            self.connections.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str) -> None:
        framer, garbage_mark = StreamFramer(), 0
        joiners = {Protocol.SZY206: SzyJoiner(), Protocol.SL651: SlJoiner()}
        while True:
            try:
                data = await asyncio.wait_for(reader.read(READ_SIZE), self.cfg.idle_timeout_s)
            except TimeoutError:
                self.stats["idle_closed"] += 1
                log.debug("connection %s idle for %g s: closed", peer, self.cfg.idle_timeout_s)
                return
            if not data:
                return
            before = framer.discarded
            frames = framer.feed(data)
            self.stats["garbage_bytes"] += framer.discarded - before
            if frames:
                garbage_mark = framer.discarded
            elif framer.discarded - garbage_mark > MAX_GARBAGE:
                self.stats["flood_closed"] += 1
                self.quiet.warn(f"flood:{peer}", "connection %s closed: %d bytes without a frame", peer,
                                framer.discarded - garbage_mark)
                return
            for protocol, raw in frames:
                answer = await self.on_frame(protocol, raw, peer, joiners)
                if answer:
                    writer.write(answer)
            await writer.drain()

    async def on_frame(self, protocol: Protocol, raw: bytes, peer: str,
                       joiners: dict[Protocol, SzyJoiner | SlJoiner] | None = None) -> bytes | None:
        """Handle one checksum-verified frame; return the bytes to answer with (if any).

        ``joiners`` (one pair per connection) join split / multi-packet messages; without them
        such parts are counted as unsupported."""
        self.stats["frames"] += 1
        try:
            frame = (szy206 if protocol == Protocol.SZY206 else sl651).decode(raw)
            if joiners and frame.uplink:
                part = isinstance(frame.message, (szy206.Fragment, sl651.Fragment))
                frame = joiners[protocol].feed(frame)
                if part:
                    self.stats["parts"] += 1
                if frame is None:  # more parts to come: the sender expects no answer yet
                    return None
                if part:
                    self.stats["joined"] += 1
        except FrameError as err:
            self.stats["bad_frames"] += 1
            self.quiet.warn(f"bad:{peer}", "bad %s frame from %s: %s (%s)", protocol.value, peer, err.reason,
                            raw[:64].hex() + ("…" if len(raw) > 64 else ""))
            return None
        if not frame.uplink:
            self.stats["bad_frames"] += 1
            self.quiet.warn(f"down:{peer}", "a downlink %s frame from %s ignored", protocol.value, peer)
            return None
        if protocol == Protocol.SZY206:
            return await self._szy(frame, peer)
        return await self._sl(frame, peer)

    async def _szy(self, frame: szy206.Frame, peer: str) -> bytes | None:
        message = frame.message
        if isinstance(message, szy206.LinkCheck):
            self.stats["link_checks"] += 1
            return szy206.encode(szy206.reply(frame))
        if isinstance(message, szy206.Fragment):
            return self._unsupported(frame, peer, "split frame")
        if not isinstance(message, szy206.RealtimeData):
            self.stats["other_frames"] += 1
            return None
        entry = self._entry(Protocol.SZY206, frame, peer)
        if entry is None or not await self._record(Protocol.SZY206, entry, szy_readings(entry, message), peer):
            return None
        return szy206.encode(szy206.reply(frame)) if frame.afn == szy206.Afn.SELF_REPORT else None

    async def _sl(self, frame: sl651.Frame, peer: str) -> bytes | None:
        message = frame.message
        if isinstance(message, sl651.LinkCheck):
            self.stats["link_checks"] += 1
            return None
        if isinstance(message, sl651.Fragment):
            return self._unsupported(frame, peer, "multi-packet message")
        if not isinstance(message, sl651.Report):
            self.stats["other_frames"] += 1
            return None
        entry = self._entry(Protocol.SL651, frame, peer)
        if entry is None or not await self._record(Protocol.SL651, entry, sl_readings(entry, message), peer):
            return None
        end = sl651.End.ESC if self.cfg.sl651_reply == "esc" else sl651.End.EOT
        return sl651.encode(sl651.reply(frame, end))

    def _unsupported(self, frame: szy206.Frame | sl651.Frame, peer: str, what: str) -> None:
        self.stats["unsupported_frames"] += 1
        self.quiet.warn(f"unsupported:{peer}", "%s from %s (%s) not supported yet: not acknowledged",
                        what, address_of(frame), peer)
        return None

    def _entry(self, protocol: Protocol, frame: szy206.Frame | sl651.Frame, peer: str) -> StationMapping | None:
        address = address_of(frame)
        entry = self.stations.find(protocol, address)
        if entry is None:
            self.stats["unknown_address"] += 1
            self.quiet.warn(f"unknown:{protocol.value}:{address}", "report from unknown %s address %s (%s): "
                            "not acknowledged (add it to stations in the rtu-gateway config)", protocol.value,
                            address, peer)
        return entry

    async def _record(self, protocol: Protocol, entry: StationMapping, mapped: Mapped, peer: str) -> bool:
        """Commit the readings; True once they are in the buffer (then the report may be acknowledged)."""
        if mapped.unmapped:
            self.stats["unmapped_values"] += len(mapped.unmapped)
            self.quiet.warn(f"unmapped:{entry.station}", "station %s reports %s, not in its points: not stored",
                            entry.station, ", ".join(mapped.unmapped))
        if mapped.readings:
            try:
                await asyncio.wait_for(self.gateways[protocol].record(mapped.readings), self.cfg.ack_timeout_s)
            except (asyncio.CancelledError, KeyboardInterrupt):
                raise
            except Exception as err:
                self.stats["not_recorded"] += 1
                self.quiet.warn("not_recorded", "report of %s (%s) not recorded, not acknowledged: %s",
                                entry.station, peer, err or type(err).__name__)
                return False
        self.stats["reports"] += 1
        self.stats["readings"] += len(mapped.readings)
        return True

"""Messages too long for one frame: SZY 206 split frames and SL 651 multi-packet messages, cut
(``split_szy``, ``split_sl``) and joined again (``SzyJoiner``, ``SlJoiner``, one per connection).

SZY 206: C D6 set, then a DIVS byte counting down (binary, 255..1) to 1 in the last part, as
SL/T 427-2021 (the successor of SZY 206-2016, same frame) says: "采用BIN码倒计数 (255~1), 当DIVS
为1时表示最后一帧". Every part carries the address and AFN, and the parts' data, in order, are the
message's data::

    68 L 68 | C (D6=1) | DIVS n | A (5) | AFN | data part 1 | CS 16
    ...
    68 L 68 | C (D6=1) | DIVS 1 | A (5) | AFN | data part n | CS 16    → one message

SL 651: SYN 16 instead of STX, then 3 bytes (packets in all, 12 bits | this packet, 12 bits);
every packet but the last ends with ETB, the last with ETX; the packets' bodies, in order, are
the message's body (serial, send time, station, …)::

    7E7E | head | dir+len | SYN | total 1 | body part 1 | ETB | CRC
    ...
    7E7E | head | dir+len | SYN | total n | body part n | ETX | CRC    → one message

A joined message is a normal :class:`Frame` (a ``RealtimeData`` or ``Report``), acknowledged as
a single frame would be: the receiver answers once the last part is in (assumption: neither the
key facts nor the public examples show a per-part acknowledgement). A part that does not continue
the message in progress (another address or AFN/function, a countdown or packet number out of
order) raises ``FrameError`` naming it; the message in progress is dropped, unacknowledged, so
the sender sends it again whole. Memory is bounded by ``max_bytes`` per connection.
"""

from __future__ import annotations

from dataclasses import replace

from watertel.protocols import sl651, szy206
from watertel.protocols.common import FrameError, Reader

MAX_BYTES = 256 * 1024
SZY_MAX_PART = 0xFF - 8  # L is one byte and counts C, DIVS, A (5), AFN


def split_szy(frame: szy206.Frame, size: int) -> list[szy206.Frame]:
    """``frame`` as split frames of at most ``size`` data bytes each (DIVS counting down to 1)."""
    if not 1 <= size <= SZY_MAX_PART:
        raise ValueError(f"split size: 1-{SZY_MAX_PART} data bytes (L counts C, DIVS, A and AFN too)")
    data = szy206._message_bytes(frame.message, frame.data_type)
    parts = [data[i:i + size] for i in range(0, len(data), size)] or [b""]
    if len(parts) > 255:
        raise ValueError(f"{len(data)} bytes need {len(parts)} split frames; DIVS counts at most 255")
    return [replace(frame, message=szy206.Fragment(len(parts) - i, part)) for i, part in enumerate(parts)]


def split_sl(frame: sl651.Frame, size: int) -> list[sl651.Frame]:
    """An uplink ``frame`` as packets of at most ``size`` body bytes (SYN; ETB, …, ETX)."""
    if not frame.uplink:
        raise ValueError("only uplink messages are sent in several packets here")
    if not 1 <= size <= 0xFFF - 3:
        raise ValueError(f"packet size: 1-{0xFFF - 3} body bytes (the length counts the 3 packet bytes)")
    body = sl651._body(frame.function, frame.message)
    parts = [body[i:i + size] for i in range(0, len(body), size)] or [b""]
    if len(parts) > 0xFFF:
        raise ValueError(f"{len(body)} bytes need {len(parts)} packets; the count has 12 bits")
    last = len(parts)
    return [replace(frame, end=sl651.End.ETX if n == last else sl651.End.ETB,
                    message=sl651.Fragment(last, n, part)) for n, part in enumerate(parts, 1)]


class SzyJoiner:
    """Split frames of one connection → whole messages. Frames that are not split pass through."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.first: szy206.Frame | None = None
        self.parts: list[bytes] = []
        self.expect = 0  # the countdown the next part must carry

    def feed(self, frame: szy206.Frame) -> szy206.Frame | None:
        """The whole message once its last part is in; None while parts are missing."""
        message = frame.message
        if not isinstance(message, szy206.Fragment):
            return frame
        key = (frame.afn, frame.uplink, frame.data_type, frame.division, frame.station)
        if self.first is not None:
            first = self.first
            if key != (first.afn, first.uplink, first.data_type, first.division, first.station) \
                    or message.countdown != self.expect:
                dropped = f"{first.division}-{first.station} {first.afn.name}, expected countdown {self.expect}"
                self._start(frame)
                raise FrameError(f"split frame: countdown {message.countdown} of {frame.division}-{frame.station} "
                                 f"{frame.afn.name} does not continue {dropped}: the message in progress is dropped")
        else:
            self._start(frame)
            return self._done(frame)
        self.parts.append(message.data)
        self.expect -= 1
        return self._done(frame)

    def _start(self, frame: szy206.Frame) -> None:
        self.first, self.parts, self.expect = frame, [frame.message.data], frame.message.countdown - 1

    def _done(self, frame: szy206.Frame) -> szy206.Frame | None:
        size = sum(map(len, self.parts))
        if size > self.max_bytes:
            self.first, self.parts = None, []
            raise FrameError(f"split frame: message over {self.max_bytes} bytes, dropped")
        if frame.message.countdown > 1:
            return None
        data, self.first, self.parts = b"".join(self.parts), None, []
        reader = Reader(data)
        message = szy206._message(frame.afn, frame.uplink, frame.data_type, reader)
        if reader.left():
            raise FrameError(f"length: {reader.left()} unexpected bytes after the joined {frame.afn.name} data")
        return szy206.Frame(frame.afn, frame.uplink, frame.data_type, frame.fcb, frame.division, frame.station, message)


class SlJoiner:
    """Multi-packet messages of one connection → whole messages. Single packets pass through."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.first: sl651.Frame | None = None
        self.parts: list[bytes] = []

    def feed(self, frame: sl651.Frame) -> sl651.Frame | None:
        """The whole message once its last packet is in; None while packets are missing."""
        message = frame.message
        if not isinstance(message, sl651.Fragment):
            return frame
        last = message.number == message.total
        if (frame.end == sl651.End.ETX) != last:
            self.first, self.parts = None, []
            raise FrameError(f"multi-packet: packet {message.number} of {message.total} ends with {frame.end.name} "
                             f"({'ETX' if last else 'ETB'} expected)")
        if message.number == 1:
            dropped, self.first, self.parts = self.first, frame, [message.body]
            if dropped is not None:
                raise FrameError(f"multi-packet: packet 1 of {message.total} from {frame.station} starts a new "
                                 f"message: the one in progress from {dropped.station} is dropped")
            return self._done(frame, last)
        first = self.first
        if first is None:
            raise FrameError(f"multi-packet: packet {message.number} of {message.total} from {frame.station} "
                             "without the packets before it: dropped")
        expected = len(self.parts) + 1
        same = (frame.function, frame.uplink, frame.centre, frame.station, frame.password, message.total) == (
            first.function, first.uplink, first.centre, first.station, first.password, first.message.total)
        if not same or message.number != expected:
            self.first, self.parts = None, []
            raise FrameError(f"multi-packet: packet {message.number} of {message.total} from {frame.station} "
                             f"does not continue the message in progress (packet {expected} of "
                             f"{first.message.total} from {first.station}): dropped")
        self.parts.append(message.body)
        return self._done(frame, last)

    def _done(self, frame: sl651.Frame, last: bool) -> sl651.Frame | None:
        if sum(map(len, self.parts)) > self.max_bytes:
            self.first, self.parts = None, []
            raise FrameError(f"multi-packet: message over {self.max_bytes} bytes, dropped")
        if not last:
            return None
        body, self.first, self.parts = b"".join(self.parts), None, []
        joined = sl651._message(frame.function, frame.uplink, Reader(body))
        return sl651.Frame(frame.function, frame.uplink, frame.centre, frame.station, frame.password,
                           sl651.End.ETX, joined)

"""Frames out of a TCP byte stream, for either protocol: by start bytes and length field, with
resynchronisation on garbage and a hard bound on memory.

TCP keeps no frame boundaries: a 4G DTU may send a report in three segments, or a keep-alive and
a report in one. :class:`StreamFramer` keeps the bytes from the earliest possible frame start and
cuts a frame once its length field says it is complete::

    SZY 206   68 | L | 68 | ... L bytes ... | CS | 16          complete at L + 5 bytes
    SL 651    7E 7E | 9 bytes | dir+len (2) | 02/16 | len bytes | end | CRC (2)   at 14 + len + 3

A candidate whose header is impossible (second 68 missing, L too short, SL direction not 0 or 8,
no STX/SYN) or whose checksum fails once complete is not a frame: one byte is dropped and the
search goes on from the next byte, so a frame right behind garbage is still found. A false start
that announces more bytes than have come (``68 68 68``: L = 104) does not hold back a complete,
checksum-valid frame behind it: that frame is taken and the false start dropped. Only the
checksum is checked here; the codec judges the content.

Memory: at most one incomplete candidate is kept (an SL 651 frame is at most 4,112 bytes), plus
the chunk being fed. Bytes that cannot start a frame are counted in ``discarded`` and dropped.
"""

from __future__ import annotations

from watertel.protocols import Protocol, sl651, szy206

SZY_START = bytes([szy206.START])
SL_START = sl651.START
SZY_MIN_L = 7  # C, A (5), AFN
MAX_FRAME = sl651.HEADER + 0xFFF + 3  # the largest frame either protocol can have: 4,112 bytes


class StreamFramer:
    """Feed it bytes as they arrive; it returns the complete frames, checksums verified."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.discarded = 0  # bytes dropped as not part of any frame

    def feed(self, data: bytes) -> list[tuple[Protocol, bytes]]:
        self.buf += data
        frames: list[tuple[Protocol, bytes]] = []
        while True:
            start = self._next_start(0)
            if start is None:  # nothing here can start a frame; a trailing 7E may be half of 7E7E
                keep = 1 if self.buf[-1:] == b"\x7e" else 0
                self._drop(len(self.buf) - keep)
                return frames
            self._drop(start)
            protocol, size = self._candidate(0)
            if size is None:  # incomplete: wait for more bytes, unless a whole frame follows
                later = self._complete_after(1)  # (then this start was a false one, inside garbage)
                if later is None:
                    return frames
                self._drop(later)
                continue
            if size == 0:  # not a frame here: resynchronise one byte further
                self._drop(1)
                continue
            frames.append((protocol, bytes(self.buf[:size])))
            del self.buf[:size]

    def _drop(self, n: int) -> None:
        if n:
            self.discarded += n
            del self.buf[:n]

    def _next_start(self, at: int) -> int | None:
        found = [i for i in (self.buf.find(SZY_START, at), self.buf.find(SL_START, at)) if i >= 0]
        return min(found) if found else None

    def _complete_after(self, at: int) -> int | None:
        """The offset of the first complete, checksum-valid frame at or after ``at``, if any."""
        while (at := self._next_start(at)) is not None:
            if self._candidate(at)[1]:
                return at
            at += 1
        return None

    def _candidate(self, at: int) -> tuple[Protocol, int | None]:
        """(protocol, frame size) at offset ``at``: size None = need more bytes, 0 = no frame."""
        buf, have = self.buf, len(self.buf) - at
        if buf[at:at + 2] == SL_START:
            if have < sl651.HEADER:
                return Protocol.SL651, None
            word = int.from_bytes(buf[at + 11:at + 13], "big")
            if word >> 12 not in (0x0, 0x8) or buf[at + 13] not in (sl651.STX, sl651.SYN):
                return Protocol.SL651, 0
            size = sl651.HEADER + (word & 0xFFF) + 3
            if have < size:
                return Protocol.SL651, None
            end = at + size
            ok = sl651.crc16(buf[at:end - 2]) == int.from_bytes(buf[end - 2:end], "big")
            return Protocol.SL651, size if ok else 0
        if have < 3:
            return Protocol.SZY206, None
        if buf[at + 2] != szy206.START or buf[at + 1] < SZY_MIN_L:
            return Protocol.SZY206, 0
        size = buf[at + 1] + 5
        if have < size:
            return Protocol.SZY206, None
        end = at + size
        ok = buf[end - 1] == szy206.STOP and szy206.crc8(buf[at + 3:end - 2]) == buf[end - 2]
        return Protocol.SZY206, size if ok else 0

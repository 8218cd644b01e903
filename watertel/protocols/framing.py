"""Frames out of a TCP byte stream, for either protocol: by start bytes and length field, with
resynchronisation on garbage, a hard bound on memory and a hard bound on work.

TCP keeps no frame boundaries: a 4G DTU may send a report in three segments, or a keep-alive and
a report in one. :class:`StreamFramer` keeps the bytes from the earliest possible frame start and
cuts a frame once its length field says it is complete::

    SZY 206   68 | L | 68 | ... L bytes ... | CS | 16          complete at L + 5 bytes
    SL 651    7E 7E | 9 bytes | dir+len (2) | 02/16 | len bytes | end | CRC (2)   at 14 + len + 3

Headers are found by the regular expression engine (C speed), so bytes that start none cost no
Python step each: SZY ``68 L 68`` with L ≥ 7; SL ``7E 7E`` + 9 bytes + a direction nibble of 0 or
8 + STX/SYN. A candidate whose end byte the direction does not allow (SZY: 16; SL uplink: ETX,
ETB) or whose checksum fails once complete is not a frame: one byte is dropped and the search goes
on, so a frame right behind garbage is still found. A false start that announces more bytes than
have come (``68 68 68``: L = 104) does not hold back a complete, checksum-valid frame behind it:
that frame is taken and the false start dropped. Only the checksum is checked here; the codec
judges the content.

Work: the bytes behind an incomplete head are looked through once (a candidate that still waits
for bytes is parked until they are there, never rescanned), and every false start costs from a
budget that the bytes received earn: ``BURST`` at first, one more per ``EARN_EVERY`` bytes, a
failed checksum one more per ``CHECK_COST`` bytes it covered, and a checksum is computed only if
the budget covers its failure. A stream that overspends (the issue-21 flood: ``7E 7E`` + 9 ×
``00`` + ``0F FF 02`` repeated, a fake 4,095-byte frame every 14 bytes, each once worth a 4 KB
CRC) has its buffer dropped whole (``overruns``). So the work per byte received is bounded
whatever the bytes are (``bench/bench_rtu_flood.py``: that flood is framed about as fast as
random bytes), and a real RTU, which sends frames, never gets near the bound; a frame whose own
body holds hundreds of plausible headers (a 31H series of 1686.868 repeated: ``01 68 68 68``)
would be refused, the price of the bound.

Memory: at most one incomplete head (an SL 651 frame is at most 4,112 bytes), plus the chunk
being fed. Bytes that cannot start a frame are counted in ``discarded`` and dropped.
"""

from __future__ import annotations

import heapq
import re

from watertel.protocols import Protocol, sl651, szy206
from watertel.protocols.sl651_frame import DOWN_ENDS, UP_ENDS

SZY_START = bytes([szy206.START])
SL_START = sl651.START
SZY_MIN_L = 7  # C, A (5), AFN
MAX_FRAME = sl651.HEADER + 0xFFF + 3  # the largest frame either protocol can have: 4,112 bytes
SL_ENDS = {0x0: frozenset(map(int, UP_ENDS)), 0x8: frozenset(map(int, DOWN_ENDS))}

# A header that can start a frame, found by the regular expression engine (C speed): bytes that
# start none are dropped without a Python step each.
SZY_HEADER = re.compile(rb"\x68[\x07-\xff]\x68")  # 68 L 68, L covers at least C, A and AFN
SL_HEADER = re.compile(rb"\x7e\x7e[\s\S]{9}[\x00-\x0f\x80-\x8f][\s\S][\x02\x16]")  # up/down, STX/SYN
HEADER = re.compile(SZY_HEADER.pattern + b"|" + SL_HEADER.pattern)
LONGEST_HEADER = sl651.HEADER

BURST = 32  # false starts a new stream may cost before it has earned more (a storm of new ones pays little)
EARN_EVERY = 1024  # bytes received per further false start (a 4 KB read earns 4; random bytes hold a plausible header in 64 KB)
CHECK_COST = 256  # a failed checksum costs one more per this many bytes it covered


class StreamFramer:
    """Feed it bytes as they arrive; it returns the complete frames, checksums verified."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.discarded = 0  # bytes dropped as not part of any frame
        self.overruns = 0  # times the work budget ran out and the buffer was dropped whole
        self.budget = BURST
        self.checked = 0  # bytes run through a checksum (frames and false starts)
        self._earning = 0  # bytes received towards the next unit of budget
        self._base = 0  # stream offset of buf[0]: the parked candidates keep stream offsets
        self._scan = {SZY_HEADER: 0, SL_HEADER: 0}  # stream offsets where the look behind the head resumes
        self._parked: list[tuple[int, int]] = []  # heap of (stream offset it needs, its start)

    def feed(self, data: bytes) -> list[tuple[Protocol, bytes]]:
        self.buf += data
        earned, self._earning = divmod(self._earning + len(data), EARN_EVERY)
        self.budget = min(BURST, self.budget + earned)
        frames: list[tuple[Protocol, bytes]] = []
        while self.buf:
            start = self._next_start(0)
            if start is None:
                self._drop(len(self.buf))
                break
            self._drop(start)
            protocol, size, _ = self._candidate(0)
            if size:
                frames.append((protocol, bytes(self.buf[:size])))
                self._consume(size)
            elif size == 0:  # not a frame here: resynchronise one byte further
                self._drop(1)
            else:  # incomplete: wait for more bytes, unless a whole frame follows this (false) start
                later = self._behind_head()
                if later is None:
                    self._check_budget()
                    break
                self._drop(later)
            if self._check_budget():
                break
        return frames

    # --- the buffer -------------------------------------------------------------------------------
    def _consume(self, n: int) -> None:
        del self.buf[:n]
        self._base += n

    def _drop(self, n: int) -> None:
        if n:
            self.discarded += n
            self._consume(n)

    def _check_budget(self) -> bool:
        """Overspent: drop the buffer whole (and what was parked); True if so."""
        if self.budget >= 0:
            return False
        self.overruns += 1
        self._drop(len(self.buf))
        self._parked.clear()
        self.budget = 0  # a clean start, with nothing in hand: the next false start waits for earnings
        return True

    def _next_start(self, at: int) -> int | None:
        """The first offset from ``at`` where a header can start: a whole plausible header, or the
        beginning of one cut short by the end of the buffer."""
        match = HEADER.search(self.buf, at)
        limit = match.start() if match else len(self.buf)
        p = max(at, len(self.buf) - LONGEST_HEADER + 1)
        while p < limit:
            if self._cut_short(p):
                return p
            p += 1
        return limit if match else None

    def _cut_short(self, p: int) -> bool:
        """Whether the bytes from ``p`` to the end of the buffer begin a plausible header."""
        tail = self.buf[p:]
        if tail[0] == szy206.START:
            return len(tail) < 2 or (len(tail) < 3 and tail[1] >= SZY_MIN_L)
        if tail[:2] != SL_START[:len(tail[:2])]:
            return False
        return len(tail) < 12 or (tail[11] >> 4 in SL_ENDS and len(tail) < 14)

    # --- candidates -------------------------------------------------------------------------------
    def _behind_head(self) -> int | None:
        """The offset of the first complete, checksum-valid frame behind the incomplete head, if
        any. Parked candidates are checked once their bytes are in; each protocol's headers are
        looked for once (from where the last look stopped); each candidate is paid for from the
        budget, and the look stops when it is spent."""
        base, top = self._base, self._base + len(self.buf)
        found: int | None = None
        while self._parked and self._parked[0][0] <= top and self.budget > 0:
            _, start = heapq.heappop(self._parked)
            if start <= base or (found is not None and start > found):
                continue  # dropped meanwhile (or behind a frame already found)
            found = self._look(start - base, found)
        if found is not None:
            return found
        at = {h: max(scan - base, 1) for h, scan in self._scan.items()}
        match = {h: h.search(self.buf, at[h]) for h in at}
        while self.budget > 0 and (hits := [m for m in match.values() if m]):
            p = min(m.start() for m in hits)
            header = SZY_HEADER if match[SZY_HEADER] and match[SZY_HEADER].start() == p else SL_HEADER
            at[header] = p + 1
            if self._look(p, None) is not None:
                self._scan[header] = base + p + 1
                return p
            match[header] = header.search(self.buf, at[header])
        if self.budget > 0:  # all looked at: next time from where a header cut short may begin
            at = {SZY_HEADER: max(at[SZY_HEADER], len(self.buf) - 2),
                  SL_HEADER: max(at[SL_HEADER], len(self.buf) - LONGEST_HEADER + 1)}
        self._scan = {h: base + a for h, a in at.items()}
        return None

    def _look(self, at: int, found: int | None) -> int | None:
        """Check the candidate at ``at`` behind the head: its offset if it is a frame, else
        ``found``; one still waiting for bytes is parked until they are in."""
        _, size, need = self._candidate(at)
        if size:
            return at if found is None or at < found else found
        if size is None:  # a false start until proved otherwise: it costs as one
            self._charge(1)
            heapq.heappush(self._parked, (self._base + at + need, self._base + at))
        return found

    def _candidate(self, at: int) -> tuple[Protocol, int | None, int]:
        """(protocol, frame size, bytes needed) at offset ``at``, where a header can start: size
        None = need more bytes (that many from ``at``), 0 = no frame (charged to the budget)."""
        buf, have = self.buf, len(self.buf) - at
        if buf[at] != szy206.START:
            if have < sl651.HEADER:
                return Protocol.SL651, None, sl651.HEADER
            if not HEADER.match(buf, at):  # it was cut short, and is no header now it is whole
                return Protocol.SL651, self._charge(1), 0
            word = int.from_bytes(buf[at + 11:at + 13], "big")
            size = sl651.HEADER + (word & 0xFFF) + 3
            if have < size:
                return Protocol.SL651, None, size
            end = at + size
            if buf[end - 3] not in SL_ENDS[word >> 12] or not self._affords(size):
                return Protocol.SL651, self._charge(1), 0
            self.checked += size - 2
            ok = sl651.crc16(buf[at:end - 2]) == int.from_bytes(buf[end - 2:end], "big")
            return Protocol.SL651, size if ok else self._charge(1 + size // CHECK_COST), 0
        if have < 3:
            return Protocol.SZY206, None, 3
        if not HEADER.match(buf, at):
            return Protocol.SZY206, self._charge(1), 0
        size = buf[at + 1] + 5
        if have < size:
            return Protocol.SZY206, None, size
        end = at + size
        if buf[end - 1] != szy206.STOP or not self._affords(size):
            return Protocol.SZY206, self._charge(1), 0
        self.checked += size - 5
        ok = szy206.crc8(buf[at + 3:end - 2]) == buf[end - 2]
        return Protocol.SZY206, size if ok else self._charge(1 + size // CHECK_COST), 0

    def _charge(self, cost: int) -> int:
        self.budget -= cost
        return 0

    def _affords(self, size: int) -> bool:
        """A checksum is computed only if the budget covers its failure; if not, the stream is
        overrun (``budget`` below 0) and its buffer goes unchecked."""
        if self.budget >= 1 + size // CHECK_COST:
            return True
        self.budget = -1
        return False

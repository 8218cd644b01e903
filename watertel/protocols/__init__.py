"""The field RTUs' own protocols, SZY 206-2016 and SL 651-2014: codecs that refuse a bad frame
whole, with the reason, so that a receiver never stores half a report.

Each protocol is one module (``szy206``, ``sl651``) with ``decode(bytes) -> Frame``,
``encode(Frame) -> bytes``, and the frames a centre sends (``reply``, ``query_realtime``,
``set_clock``). ``decode_hex`` picks the protocol from the start bytes for the command line.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from watertel.protocols import sl651, szy206
from watertel.protocols.common import FrameError, jsonable

__all__ = ["FrameError", "Protocol", "decode", "decode_hex", "detect", "sl651", "szy206"]


class Protocol(str, Enum):
    SZY206 = "szy206"
    SL651 = "sl651"


CODECS = {Protocol.SZY206: szy206, Protocol.SL651: sl651}


def detect(data: bytes) -> Protocol:
    """SL 651 frames start 7E7E (HEX) or SOH 01H (ASCII), SZY 206 frames 68H; anything else is
    not a frame of either."""
    if data[:2] == sl651.START or data[:1] == b"\x01":
        return Protocol.SL651
    if data[:1] == bytes([szy206.START]):
        return Protocol.SZY206
    if not data:
        raise FrameError("no bytes: an empty frame is neither SZY 206 nor SL 651")
    raise FrameError(f"start bytes: {data[:2].hex().upper()} is neither SZY 206 (68) nor SL 651 (7E7E, ASCII 01)")


def decode(data: bytes, protocol: Protocol | str | None = None) -> szy206.Frame | sl651.Frame:
    return CODECS[Protocol(protocol) if protocol else detect(data)].decode(data)


def decode_hex(text: str, protocol: Protocol | str | None = None) -> dict[str, Any]:
    """A frame typed as hex (spaces allowed) decoded to JSON-ready values, for the command line."""
    try:
        data = bytes.fromhex("".join(text.split()))
    except ValueError:
        raise FrameError("not hexadecimal (two hex digits per byte, spaces allowed)") from None
    if not data:
        raise FrameError("no bytes: give the frame in hex, e.g. '68 0B 68 …' (SZY 206) or '7E 7E …' (SL 651)")
    return jsonable(decode(data, protocol))

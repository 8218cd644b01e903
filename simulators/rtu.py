"""An RTU framer whose responses can leave with a wrong CRC, as after noise on an RS-485 pair.

The frame is built as usual, then its two CRC bytes are inverted while the answering device
has a ``crc`` event in force::

    ┌──────┬──────────────┬─────────┐          ┌──────┬──────────────┬─────────┐
    │ unit │ PDU          │ CRC lo hi│   ──►    │ unit │ PDU          │ ~CRC     │
    └──────┴──────────────┴─────────┘          └──────┴──────────────┴─────────┘

The client computes the CRC itself, finds it wrong and drops the frame: a comm error or a
timeout on the gateway, exactly what a noisy line gives.
"""

from __future__ import annotations

from collections.abc import Callable

from pymodbus.framer import FramerRTU


def corrupting_rtu_framer(corrupt: Callable[[int], bool]) -> type[FramerRTU]:
    """A FramerRTU class that corrupts the CRC of responses from unit ids ``corrupt`` names."""

    class CorruptingFramerRTU(FramerRTU):
        def encode(self, payload: bytes, device_id: int, _tid: int) -> bytes:
            frame = super().encode(payload, device_id, _tid)
            if corrupt(device_id):
                return frame[:-2] + bytes(b ^ 0xFF for b in frame[-2:])
            return frame

    return CorruptingFramerRTU

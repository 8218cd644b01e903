"""The table-driven checksums of both field protocols against their bit-by-bit definitions,
the published check values and frames whose CRCs were computed by real RTUs."""

from __future__ import annotations

import random

from watertel.protocols import crc, sl651, szy206

from tests.unit.protocols.test_protocols_sl651 import PUBLISHED, reference_crc16_modbus
from tests.unit.protocols.test_protocols_szy206 import reference_crc8


def test_the_tables_are_the_bitwise_definitions():
    """Entry i is what eight shift-and-test steps make of register i (the textbook loop)."""
    for i in range(256):
        reg16, reg8 = i, i
        for _ in range(8):
            reg16 = (reg16 >> 1) ^ 0xA001 if reg16 & 1 else reg16 >> 1
            reg8 = ((reg8 << 1) ^ 0xE5) & 0xFF if reg8 & 0x80 else (reg8 << 1) & 0xFF
        assert crc.CRC16_TABLE[i] == reg16 and crc.CRC8_TABLE[i] == reg8, i


def test_published_check_values():
    assert crc.crc16_modbus(b"123456789") == sl651.crc16(b"123456789") == 0x4B37
    assert crc.crc8_szy206(b"123456789") == szy206.crc8(b"123456789") == 0xF7
    assert crc.crc16_modbus(b"") == 0xFFFF and crc.crc8_szy206(b"") == 0


def test_frames_from_real_rtus_check():
    for frame in PUBLISHED:
        assert crc.crc16_modbus(frame[:-2]) == int.from_bytes(frame[-2:], "big"), frame.hex()


def test_random_and_largest_inputs_match_the_references():
    """Up to the largest SL 651 frame (4,110 bytes under the CRC), bytes, bytearrays and views."""
    rng = random.Random(21)
    for size in (1, 2, 13, 255, 256, 1024, 4110):
        data = rng.randbytes(size)
        assert crc.crc16_modbus(data) == reference_crc16_modbus(data), size
        assert crc.crc8_szy206(data) == reference_crc8(data), size
        assert crc.crc16_modbus(bytearray(data)) == crc.crc16_modbus(memoryview(data)) == reference_crc16_modbus(data)

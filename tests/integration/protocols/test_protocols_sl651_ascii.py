"""SL 651-2014 ASCII mode (SOH 01H): round trips of every supported message, property-tested
round trips, refusal of every malformed shape, and `watertel frame decode` picking ASCII or HEX
from the start byte.

The layout is the one wainshine/SL651 (sl651-toolkit/sl651/decoder.py ``_decode_new_ascii``,
encoder.py ``build_ascii_body``) reads and writes: header fields as hex characters at fixed
offsets, STX, serial + send time, space-separated ``ST``/``TT`` groups and identifier/value
pairs with a trailing space, the CRC-16/MODBUS as 4 hex characters over SOH .. end byte. No
published ASCII frame was found, so the vectors here are built from that layout, not quoted.

This file holds the tests that need a real server or run a command; the others are in
tests/unit/protocols/test_protocols_sl651_ascii.py."""

from __future__ import annotations

import json
import subprocess
import sys

from watertel.protocols import decode_hex, sl651
from watertel.protocols.sl651 import Frame

from tests.support.paths import ROOT
from tests.support.sl651_ascii import STATION, TIMED, good


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "watertel", "frame", "decode", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_frame_decode_detects_ascii_and_hex():
    done = cli(good().hex(" ").upper())
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["protocol"], out["encoding"], out["function_code"], out["station"]) == ("sl651", "ascii", "32H", STATION)
    assert [(e["name"], e["value"]) for e in out["message"]["elements"]] == [
        ("rainfall_current", 12.5), ("water_level", -1.234), ("supply_voltage", 12.6)]
    assert decode_hex(sl651.encode(Frame(**{**TIMED.__dict__, "ascii": False})).hex())["encoding"] == "hex"
    bad = cli(good()[:-1].hex())
    assert bad.returncode == 1 and "error: truncated" in bad.stderr

"""`watertel frame decode HEX`: what a field engineer types at a station, through the real command."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from decimal import Decimal as D

import pytest

from watertel.protocols import szy206
from watertel.protocols.common import CHINA

from tests.support.paths import ROOT

SL651_TIMED = ("7E7E05001122334403E832002B020034170718110016F1F1001122334448F0F01707181100"
               "201900004026190000403923000104903812109903A421")
SZY206_FLOW = szy206.encode(szy206.Frame(
    szy206.Afn.SELF_REPORT, True, 3, 3, "330102", 1234,
    szy206.RealtimeData(szy206.FlowVolume((szy206.FlowPoint(D("-12.345"), 987654),)), 0, 0,
                        szy206.TimeLabel.of(datetime(2026, 11, 29, 8, 30, 15, tzinfo=CHINA))))).hex(" ").upper()


def frame(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "watertel", "frame", "decode", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_sl651_report_is_detected_and_printed_as_json():
    done = frame(SL651_TIMED)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["protocol"], out["function_code"], out["station"]) == ("sl651", "32H", "0011223344")
    assert out["message"]["observed_at"] == "2017-07-18T11:00:00+08:00"
    assert [(e["name"], e["value"]) for e in out["message"]["elements"]] == [
        ("rainfall_current", 4.0), ("rainfall_total", 4.0), ("water_level", 10.49), ("supply_voltage", 10.99)]


def test_szy206_frame_with_spaces_and_explicit_protocol():
    done = frame(SZY206_FLOW, "--protocol", "szy206")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["protocol"], out["afn_code"], out["division"], out["station"]) == ("szy206", "C0H", "330102", 1234)
    assert out["message"]["payload"]["points"] == [{"flow": -12.345, "volume": 987654, "unit": None}]
    assert out["message"]["observed_at"].endswith("08:30:15+08:00")


@pytest.mark.parametrize("args, reason", [
    ((SL651_TIMED[:-1] + "0",), "error: checksum"),
    ((SL651_TIMED[:40],), "error: truncated"),
    ((SZY206_FLOW, "--protocol", "sl651"), "error: truncated|error: start bytes"),
    (("AB CD EF",), "error: start bytes"),
    (("7E7E zz",), "error: not hexadecimal"),
])
def test_bad_frames_print_the_reason_and_exit_1(args, reason):
    done = frame(*args)
    assert done.returncode == 1 and done.stdout == ""
    assert any(r in done.stderr for r in reason.split("|")), done.stderr
    assert "Traceback" not in done.stderr

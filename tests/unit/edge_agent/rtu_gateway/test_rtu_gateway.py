"""The rtu-gateway: stream framing, replies and refusals, hundreds of long connections, and the
whole path from simulated SZY 206 / SL 651 RTUs through a real Mosquitto into the cloud store,
including a kill -9 between acknowledging reports and uploading them.

This file holds the tests that need no server and start no process; the others are in
tests/integration/edge_agent/rtu_gateway/test_rtu_gateway.py and
tests/system/test_rtu_gateway.py."""

from __future__ import annotations

import math
import random

import pytest

from watertel.edge_agent.rtu_gateway.config import load_rtu_config
from watertel.protocols.framing import MAX_FRAME, StreamFramer
from watertel.config import ConfigError
from watertel.keys import write_key_pair
from watertel.protocols import Protocol, sl651, szy206
from watertel.readings import Quality

from tests.support.paths import ROOT
from tests.support.rtu import SL, SZY, rtu_report, write_rtu_config


# --- (a) stream framing ---------------------------------------------------------------------------


def test_several_frames_in_one_chunk_of_both_protocols():
    frames = [rtu_report(Protocol.SZY206, SZY, 1), rtu_report(Protocol.SL651, SL, 2), rtu_report(Protocol.SZY206, SZY, 3)]
    got = StreamFramer().feed(b"".join(frames))
    assert [raw for _, raw in got] == frames
    assert [p for p, _ in got] == [Protocol.SZY206, Protocol.SL651, Protocol.SZY206]


def test_one_frame_byte_by_byte():
    for frame in (rtu_report(Protocol.SZY206, SZY, 1), rtu_report(Protocol.SL651, SL, 1)):
        framer, got = StreamFramer(), []
        for i in range(len(frame)):
            got += framer.feed(frame[i:i + 1])
            assert len(got) == (1 if i == len(frame) - 1 else 0)
        assert got[0][1] == frame and framer.discarded == 0


def test_garbage_and_false_starts_before_a_frame_are_skipped():
    szy, sl = rtu_report(Protocol.SZY206, SZY, 1), rtu_report(Protocol.SL651, SL, 1)
    broken = bytearray(sl)
    broken[20] ^= 0xFF  # a frame with a bad CRC: dropped, and the frame behind it still found
    garbage = b"\x00\x68\x05\x68\x7e\x7e\x11" + bytes(random.Random(1).randbytes(300)).replace(b"\x7e", b"\x00")
    framer = StreamFramer()
    got = framer.feed(garbage + bytes(broken) + b"\x68\x30\x68junk" + szy + sl)
    assert [raw for _, raw in got] == [szy, sl]
    assert framer.discarded == len(garbage) + len(broken) + 7
    assert not framer.buf


def test_a_flood_of_garbage_and_fake_headers_stays_bounded():
    """Random bytes and fake SL 651 headers announcing 4,095-byte bodies: the framer never holds
    more than one frame's worth plus one chunk, and a real frame after the flood is found."""
    rng = random.Random(7)
    fake = b"\x7e\x7e" + bytes(9) + b"\x0f\xff\x02"  # uplink, body length 4095, STX: waits, then fails CRC
    framer, biggest = StreamFramer(), 0
    for i in range(1000):  # 4 MB
        chunk = rng.randbytes(4096) if i % 3 else (fake + rng.randbytes(4096 - len(fake)))
        framer.feed(chunk)
        biggest = max(biggest, len(framer.buf))
    assert biggest <= MAX_FRAME + 4096
    frame = rtu_report(Protocol.SZY206, SZY, 1)
    got = framer.feed(frame + bytes(MAX_FRAME))  # whatever was pending resolves; the frame comes out
    assert frame in [raw for _, raw in got]


# --- mapping: report → readings ------------------------------------------------------------------


def _entry(protocol: str, address: str, points: dict):
    from watertel.edge_agent.rtu_gateway.config import StationMapping

    return StationMapping.model_validate({"protocol": protocol, "address": address, "station": "ST", "points": points})


def test_sl651_invalid_values_series_and_unmapped_elements():
    from datetime import datetime, timedelta
    from decimal import Decimal

    from watertel.edge_agent.rtu_gateway.mapping import sl_readings
    from watertel.protocols.common import CHINA

    at = datetime(2026, 11, 29, 8, 0, tzinfo=CHINA)
    entry = _entry("sl651", SL, {"water_level": {"point": "level", "unit": "m"}, "flow": {"point": "q", "unit": "m3/s"}})
    report = sl651.Report(1, at, SL, sl651.Category.RIVER, at, (
        sl651.Element(0x39, 0x23, (None,)), sl651.Element(0x27, 0x2B, (Decimal("-1.5"),)),
        sl651.Element(0x38, 0x12, (Decimal("12.1"),))))
    mapped = sl_readings(entry, report)
    level, flow = mapped.readings
    assert math.isnan(level.value) and level.quality == Quality.SENSOR_FAULT and level.t_ms == at.timestamp() * 1000
    assert flow.value == -1.5 and flow.point == "q" and flow.unit == "m3/s" and flow.quality == Quality.OK
    assert mapped.unmapped == ["supply_voltage"]
    series = sl651.Report(2, at, SL, sl651.Category.RIVER, at, (sl651.Element(0x39, 0x23, tuple(map(Decimal, "123"))),),
                          timedelta(minutes=5))
    assert [(r.t_ms - level.t_ms, r.value) for r in sl_readings(entry, series).readings] == [
        (0, 1.0), (300_000, 2.0), (600_000, 3.0)]


def test_szy206_pressure_quality_and_state_words():
    from datetime import datetime
    from decimal import Decimal

    from watertel.edge_agent.rtu_gateway.mapping import szy_readings
    from watertel.protocols.common import CHINA

    now = datetime(2026, 12, 1, 0, 10, tzinfo=CHINA)
    label = szy206.TimeLabel(5, 4, 23, 30)  # the 30th at 23:04:05: last month, as the 30th is past
    entry = _entry("szy206", SZY, {"pressure_2": {"point": "p2", "unit": "kPa"},
                                   "alarm_state": {"point": "alarm", "unit": "-"}, "ph": {"point": "ph", "unit": "-"}})
    pressures = szy206.Pressure((Decimal("1.25"), Decimal("310.5")))
    mapped = szy_readings(entry, szy206.RealtimeData(pressures, 5, 0, label), now)
    assert [(r.point, r.value) for r in mapped.readings] == [("alarm", 5.0), ("p2", 310.5)]
    assert mapped.readings[0].t_ms == datetime(2026, 11, 30, 23, 4, 5, tzinfo=CHINA).timestamp() * 1000
    assert mapped.unmapped == ["pressure_1"]
    quality = szy206.WaterQuality((szy206.QualityValue(1, Decimal("7.25")),))
    assert [(r.point, r.value) for r in szy_readings(entry, szy206.RealtimeData(quality, 0, 0, label), now).readings] == [
        ("alarm", 0.0), ("ph", 7.25)]


# --- the server in-process: replies, refusals, idle timeout, 200 connections ----------------------


def test_config_errors_name_file_line_and_key(tmp_path):
    path = write_rtu_config(tmp_path, 1883, extra=[{"protocol": "sl651", "address": SL, "station": "ST-X",
                                                 "points": {"flow": {"point": "flow", "unit": "m3/s"}}}])
    with pytest.raises(ConfigError, match=r"rtu.yaml:\d+: stations.2.address: sl651 address 0011223344 is also stations.1"):
        load_rtu_config(path)
    path = write_rtu_config(tmp_path, 1883, extra=[{"protocol": "szy206", "address": "33-1", "station": "ST-Y",
                                                 "points": {"flow_one": {"point": "f", "unit": "x"}}}])
    with pytest.raises(ConfigError, match=r"rtu.yaml:\d+: stations.2.address: a SZY 206 address .* \(write it like 3301"):
        load_rtu_config(path)
    with pytest.raises(ConfigError, match=r"stations.2.points: 'flow_one' is not a SZY 206 value"):
        load_rtu_config(path)


def test_the_shipped_example_config_loads(tmp_path):
    import shutil

    shutil.copy(ROOT / "deploy" / "rtu-gateway.example.yaml", tmp_path / "rtu.yaml")
    write_key_pair(tmp_path / "keys", "rtu-hz")
    cfg = load_rtu_config(tmp_path / "rtu.yaml", listen="127.0.0.1:19206")
    assert [cfg.gateway_id_for(p) for p in cfg.protocols()] == ["rtu-hz.szy206", "rtu-hz.sl651"]
    assert cfg.host_port == ("127.0.0.1", 19206) and cfg.buffer_path(Protocol.SL651).name == "rtu-hz.sl651.db"


# --- (b), (c) the whole path, with a real Mosquitto and the real cloud ingest ----------------------

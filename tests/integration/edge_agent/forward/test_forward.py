"""The upward forwarder: readings in an edge buffer → `watertel forward` → a simulated regulator
platform (simulators/platform.py), in SZY 206 and SL 651: every reading received once with its
value; the platform down then up; a kill -9 mid-stream (duplicates only as whole re-sent
frames); a platform that refuses or never answers (retried with back-off); the config's errors;
and split / multi-packet messages joined by the platform and the rtu-gateway.

This file holds the tests that need a real server or run a command; the others are in
tests/unit/edge_agent/forward/test_forward.py and
tests/system/test_forward.py."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from watertel.simulators.platform import Platform
from watertel.ports import free_port
from watertel.protocols import Protocol, sl651, szy206

from tests.support.forward import (
    assert_once, fill_buffer, forward_config, forwarding, minutes_ago, received, SL, station_readings, SZY, until,
)


# --- exactly once, both protocols -----------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["szy206", "sl651"])
def test_every_reading_reaches_the_platform_once_with_its_value(tmp_path, protocol):
    n = 40
    readings = station_readings(protocol, n, minutes_ago(n))
    fill_buffer(tmp_path / "gw-1.db", readings)

    async def main() -> tuple[list[dict], dict]:
        platform = Platform(protocol=Protocol(protocol))
        port = await platform.start()
        forwarder, stop, task = await forwarding(forward_config(tmp_path, protocol, port))
        try:
            more = station_readings(protocol, 5, minutes_ago(n), first=n)[:-1]  # arriving while it runs
            fill_buffer(tmp_path / "gw-1.db", more)
            readings.extend(more)
            await until(lambda: len(platform.reports) >= (n + 5) * (2 if protocol == "szy206" else 1), "all reports")
            await asyncio.sleep(0.2)
            return platform.reports, forwarder.outbox.stats()
        finally:
            stop.set()
            await task
            await platform.close()

    reports, stats = asyncio.run(main())
    assert_once(protocol, reports, readings)
    assert stats["frames_waiting"] == 0 and stats["pending"] == 0 and stats["not_mapped"] == 1, stats
    assert any(v < 0 for (p, _, v) in received(protocol, reports) if p == "flow")  # the sign made it
    if protocol == "szy206":  # flow/volume (type 3) and pressure (type 15) reports, the alarm word in both
        assert all(rec["values"]["alarm_state"] in (0, 1, 2) for rec in reports)
    assert all(len(rec["frames"]) == 1 for rec in reports)


# --- platform down, then up -----------------------------------------------------------------------


def test_platform_down_then_up_loses_nothing(tmp_path):
    protocol, n = "sl651", 20
    readings = station_readings(protocol, n, minutes_ago(n))
    fill_buffer(tmp_path / "gw-1.db", readings)
    port = free_port()

    async def main() -> tuple[list[dict], Counter]:
        forwarder, stop, task = await forwarding(forward_config(tmp_path, protocol, port))
        platform = Platform(port=port)
        try:
            await until(lambda: forwarder.stats["failures"] >= 3, "three failed connection attempts")
            assert forwarder.outbox.stats()["frames_waiting"] == n  # built and kept while nobody listens
            await platform.start()
            await until(lambda: len(platform.reports) >= n, "the backlog delivered")
            await platform.close()  # down again mid-run: the rest waits
            more = station_readings(protocol, 10, minutes_ago(n), first=n)[:-1]
            fill_buffer(tmp_path / "gw-1.db", more)
            readings.extend(more)
            await asyncio.sleep(0.5)
            platform.server = None
            await platform.start()
            await until(lambda: len(platform.reports) >= n + 10, "the rest delivered")
            return platform.reports, forwarder.stats
        finally:
            stop.set()
            await task
            await platform.close()

    reports, stats = asyncio.run(main())
    assert_once(protocol, reports, readings)
    assert stats["failures"] >= 4


# --- kill -9 mid-stream ---------------------------------------------------------------------------


# --- refused / never acknowledged: back-off -------------------------------------------------------


@pytest.mark.parametrize("protocol, answer", [("sl651", "nak"), ("szy206", "silent")])
def test_a_refusing_or_silent_platform_gets_the_frame_again_with_back_off(tmp_path, protocol, answer):
    n = 5
    readings = station_readings(protocol, n, minutes_ago(n))
    fill_buffer(tmp_path / "gw-1.db", readings)

    async def main() -> list[dict]:
        platform = Platform(answer=answer)
        port = await platform.start()
        forwarder, stop, task = await forwarding(forward_config(tmp_path, protocol, port, ack_timeout_s=0.2,
                                                          retry_first_s=0.1, retry_max_s=0.8))
        try:
            await until(lambda: len(platform.reports) >= 5, "five attempts", 10)
            assert forwarder.outbox.stats().get("forwarded_frames", 0) == 0
            platform.answer = "ack"
            await until(lambda: forwarder.outbox.stats()["frames_waiting"] == 0, "the frames acknowledged")
            return platform.reports
        finally:
            stop.set()
            await task
            await platform.close()

    reports = asyncio.run(main())
    refused = [r for r in reports if not r["acknowledged"]]
    assert len({tuple(r["frames"]) for r in refused}) == 1  # the same frame, again and again
    gaps = [(b["received_ms"] - a["received_ms"]) / 1000 for a, b in zip(refused, refused[1:])]
    assert gaps[0] >= 0.08 and gaps[-1] >= gaps[0] + 0.2, gaps  # the back-off grows
    assert_once(protocol, reports, readings)


# --- config ---------------------------------------------------------------------------------------


# --- split / multi-packet messages into the platform and the rtu-gateway ----------------------------


def _sl_report() -> sl651.Frame:
    from watertel.simulators.field_rtu import FieldRtu

    return sl651.decode(FieldRtu(Protocol.SL651, "127.0.0.1", 1, SL, count=3, seed=1).make_report(1).frame)


def _szy_report() -> szy206.Frame:
    from watertel.simulators.field_rtu import FieldRtu

    return szy206.decode(FieldRtu(Protocol.SZY206, "127.0.0.1", 1, SZY, count=3, seed=1).make_report(1).frame)


async def _exchange(port: int, frames: list[bytes], answers: int) -> list:
    from watertel.protocols.framing import StreamFramer

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for frame in frames:
            writer.write(frame)
        await writer.drain()
        got, framer = [], StreamFramer()
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            try:
                data = await asyncio.wait_for(reader.read(4096), deadline - time.monotonic())
            except TimeoutError:
                break
            got += [(szy206 if p == Protocol.SZY206 else sl651).decode(raw) for p, raw in framer.feed(data)]
        assert len(got) == answers, got
        return got
    finally:
        writer.close()


def test_platform_joins_split_and_multi_packet_reports_and_answers_once():
    from watertel.protocols.multipart import split_sl, split_szy

    sl, szy = _sl_report(), _szy_report()

    async def main() -> list[dict]:
        platform = Platform()
        port = await platform.start()
        try:
            (answer,) = await _exchange(port, [sl651.encode(p) for p in split_sl(sl, 9)], 1)
            assert answer.end == sl651.End.ESC and answer.message.serial == sl.message.serial
            (answer,) = await _exchange(port, [szy206.encode(p) for p in split_szy(szy, 4)], 1)
            assert isinstance(answer.message, szy206.Confirm)
            return platform.reports
        finally:
            await platform.close()

    sl_rec, szy_rec = asyncio.run(main())
    assert len(sl_rec["frames"]) > 3 and sl_rec["values"]["water_level"] == float(sl.message.elements[1].value)
    assert len(szy_rec["frames"]) > 3 and szy_rec["values"]["flow_1"] == float(szy.message.payload.points[0].flow)


def test_rtu_gateway_joins_split_and_multi_packet_reports(tmp_path):
    """The rtu-gateway's server stores a joined message's readings once and answers once."""
    from watertel.edge_agent.rtu_gateway.config import RtuGatewayConfig
    from watertel.edge_agent.rtu_gateway.server import RtuServer
    from watertel.protocols.multipart import split_sl, split_szy

    cfg = RtuGatewayConfig.model_validate({
        "gateway_id": "rtu-t", "key": {"private_key": "k.pem", "key_id": "k"},
        "uplink": {"brokers": ["mqtt://127.0.0.1:1"]}, "buffer": {"path": str(tmp_path / "b.db")},
        "stations": [{"protocol": "szy206", "address": SZY, "station": "ST-SZY",
                      "points": {"flow_1": {"point": "flow", "unit": "m3/h"}}},
                     {"protocol": "sl651", "address": SL, "password": "0000", "station": "ST-SL",
                      "points": {"water_level": {"point": "level", "unit": "m"}}}]})
    recorded: list = []

    class Gateway:
        async def record(self, readings) -> None:
            recorded.extend(readings)

    sl, szy = _sl_report(), _szy_report()

    async def main() -> dict:
        server = RtuServer(cfg, {Protocol.SZY206: Gateway(), Protocol.SL651: Gateway()})
        port = await server.start("127.0.0.1", 0)
        try:
            await _exchange(port, [sl651.encode(p) for p in split_sl(sl, 11)], 1)
            await _exchange(port, [szy206.encode(p) for p in split_szy(szy, 6)], 1)
            parts = [sl651.encode(p) for p in split_sl(sl, 11)]
            await _exchange(port, [parts[0], parts[2]], 0)  # a packet missing: refused, not acknowledged
            return dict(server.stats)
        finally:
            await server.close()

    stats = asyncio.run(main())
    assert [(r.station, r.point) for r in recorded] == [("ST-SL", "level"), ("ST-SZY", "flow")]
    assert stats["joined"] == 2 and stats["reports"] == 2 and stats["bad_frames"] == 1, stats

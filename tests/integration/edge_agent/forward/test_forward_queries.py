"""The platform's own frames on the forwarder's connection (simulators/platform.py over real TCP):
the real-time query (SZY 206 B0H, SL 651 37H) answered with the newest stored values, and
clock setting (SZY 11H, SL 4AH) answered as the standard says (clock echoed) without touching
the gateway's clock, the offset logged and kept; a query for an address the forwarder does not
serve goes unanswered; reports keep flowing once each while the platform asks."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import pytest

from watertel.simulators.platform import Platform
from watertel.protocols import Protocol, szy206
from watertel.protocols.common import CHINA

from tests.support.forward import (
    ADDRESS, assert_once, fill_buffer, forward_config, forwarding, minutes_ago, station_readings, until,
)

EXPECT_LATEST = {  # the newest reading of each point of station_readings(protocol, 5, …): sample 4
    "szy206": {"flow_1": 14.345, "volume_1": 100_068.0, "alarm_state": 1},
    "sl651": {"flow": 14.345, "water_level": 10.04, "water_pressure_1": 254.5, "supply_voltage": 12.5},
}


async def _connected(platform: Platform, address: str) -> None:
    await until(lambda: address in platform.peers, f"{address} connected")


@pytest.mark.parametrize("protocol", ["szy206", "sl651"])
def test_realtime_query_and_set_clock_are_answered_on_the_reporting_connection(tmp_path, protocol, caplog):
    caplog.set_level(logging.INFO, "watertel.edge.forward")
    start = minutes_ago(60)
    readings = station_readings(protocol, 5, start)
    fill_buffer(tmp_path / "gw-1.db", readings)
    address = ADDRESS[protocol]

    async def main():
        platform = Platform(protocol=Protocol(protocol))
        port = await platform.start()
        forwarder, stop, task = await forwarding(forward_config(tmp_path, protocol, port))
        try:
            await _connected(platform, address)
            realtime = await platform.query_realtime(address)
            pressure = None
            if protocol == "szy206":
                pressure = await platform.query_realtime(address, szy206.DataType.WATER_PRESSURE)
            ahead = datetime.now(CHINA) + timedelta(hours=1, seconds=30)
            clock = await platform.set_clock(address, ahead)
            await until(lambda: len(platform.reports) >= 5 * (2 if protocol == "szy206" else 1), "all reports")
            return realtime, pressure, clock, ahead, platform.reports, forwarder.answers
        finally:
            stop.set()
            await task
            await platform.close()

    realtime, pressure, clock, ahead, reports, answers = asyncio.run(main())
    sample_4 = start + 4 * 60_000
    want = EXPECT_LATEST[protocol]
    assert {k: realtime["values"][k] for k in want} == want, realtime
    assert realtime["t_ms"] == sample_4
    frame = realtime["frame"]
    if protocol == "szy206":
        assert frame.afn == szy206.Afn.QUERY_REALTIME and frame.uplink and frame.data_type == 3
        assert pressure["values"]["pressure_1"] == 254.5 and pressure["frame"].data_type == 15
        assert clock["frame"].afn == szy206.Afn.SET_CLOCK and clock["frame"].message.clock == ahead.replace(microsecond=0)
    else:
        assert frame.function == 0x37 and frame.uplink and frame.end == 0x03
        assert clock["frame"].function == 0x4A and clock["frame"].message.station == address
        assert clock["frame"].message.sent_at == ahead.replace(microsecond=0)
    assert 3620 <= answers.clock_offset_s <= 3631, answers.clock_offset_s  # 1 h 30 s ahead, less the trip
    assert answers.counts["clock_sets"] == 1 and answers.counts["queries_answered"] == (2 if pressure else 1)
    assert any("system clock not changed" in r.message for r in caplog.records)
    assert_once(protocol, reports, readings)  # the questions cost no report


@pytest.mark.parametrize("protocol", ["szy206", "sl651"])
def test_a_query_for_another_address_goes_unanswered(tmp_path, protocol):
    fill_buffer(tmp_path / "gw-1.db", station_readings(protocol, 2, minutes_ago(10)))
    address = ADDRESS[protocol]

    async def main():
        platform = Platform(protocol=Protocol(protocol))
        port = await platform.start()
        forwarder, stop, task = await forwarding(forward_config(tmp_path, protocol, port))
        try:
            await _connected(platform, address)
            writer, last = platform.peers[address]
            other = "330102-99" if protocol == "szy206" else "0099999999"
            from dataclasses import replace
            platform.peers[other] = (writer, replace(last, station=99) if protocol == "szy206"
                                     else replace(last, station=other))
            with pytest.raises(TimeoutError):
                await platform.query_realtime(other, timeout=1.0)
            answered = await platform.query_realtime(address)  # the link is still good
            return answered, forwarder.answers.counts
        finally:
            stop.set()
            await task
            await platform.close()

    answered, counts = asyncio.run(main())
    assert answered["values"] and counts["queries_unanswered"] == 1 and counts["queries_answered"] == 1


@pytest.mark.timeout(60)
@pytest.mark.parametrize("protocol", ["szy206", "sl651"])
def test_sim_platform_command_asks_periodically_and_records_the_answers(tmp_path, protocol):
    import json

    from watertel.ports import free_port, port_open

    from watertel.shell.processes import Child, wait_until

    fill_buffer(tmp_path / "gw-1.db", station_readings(protocol, 3, minutes_ago(10)))
    port, record, logs = free_port(), tmp_path / "platform.jsonl", tmp_path / "logs"
    platform = Child.watertel("platform", ["sim", "platform", "--listen", f"127.0.0.1:{port}", "--protocol", protocol,
                                           "--record", str(record), "--query-every", "0.3",
                                           "--set-clock-every", "0.3"], logs)
    forwarder = None
    kinds = lambda: {json.loads(line).get("kind") for line in record.read_text().splitlines()} if record.exists() \
        else set()
    try:
        wait_until(lambda: port_open(port), "the platform's port", platform)
        forwarder = Child.watertel("forward", ["forward", "--config", str(forward_config(tmp_path, protocol, port))], logs)
        wait_until(lambda: {"realtime", "clock"} <= kinds(), "a real-time and a clock answer", forwarder, 30)
        assert forwarder.stop() == 0, forwarder.log_tail()
        assert platform.stop() == 0, platform.log_tail()
    finally:
        for child in (forwarder, platform):
            if child:
                child.stop()
    answers = [json.loads(line) for line in record.read_text().splitlines() if json.loads(line).get("kind")]
    realtime = next(a for a in answers if a["kind"] == "realtime")
    assert realtime["address"] == ADDRESS[protocol] and realtime["values"]["flow" if protocol == "sl651" else "flow_1"]
    assert "system clock not changed" in forwarder.log_path.read_text()

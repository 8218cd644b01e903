"""Polling real simulated devices over Modbus TCP and RTU on a pseudo-terminal: decoded values,
quality flags for each kind of failure, and recovery when a device comes back."""

from __future__ import annotations

import asyncio
import json
import math

import pytest

from watertel import firmware_profiles
from watertel.edge_agent.config import BusConfig
from watertel.edge_agent.poll.scheduler import BusPoller
from watertel.simulators.config import SimConfig
from watertel.ports import free_port
from watertel.readings import Quality

from tests.support.profiles import start_sims, stop


def poller(transport: dict, devices: list[dict], sink: list) -> BusPoller:
    bus = BusConfig.model_validate({"name": "bus", "transport": transport, "timeout_s": 0.3, "devices": [
        {"poll_interval_s": 1, **d} for d in devices]})
    return BusPoller(bus, sink.extend)


@pytest.mark.parametrize("profile", sorted(p.stem for p in firmware_profiles.profile_paths()))
def test_tcp_values_are_what_the_device_served(profile, tmp_path):
    """Every shipped profile, every table (holding, input, coil, discrete), through the edge poller."""
    async def main():
        port, served_log = free_port(), tmp_path / "served.jsonl"
        sims = await start_sims(SimConfig.model_validate({"served_log": str(served_log), "devices": [
            {"name": "dev", "profile": profile, "unit_id": 1, "transport": {"kind": "tcp", "port": port}}]}))
        got: list = []
        p = poller({"kind": "tcp", "host": "127.0.0.1", "port": port},
                   [{"name": "dev", "profile": profile, "unit_id": 1, "station": "S1"}], got)
        for _ in range(3):
            await p.poll(p.devices[0])
        p.client.close()
        await stop(sims)
        return got, [json.loads(line) for line in served_log.read_text().splitlines()]

    got, served = asyncio.run(main())
    points = [pt.name for pt in firmware_profiles.load(profile).points]
    totalisers = {pt.name for pt in firmware_profiles.load(profile).points if pt.totaliser}
    by_point = lambda rows: {pt: [row[1:] for row in rows if row[0] == pt] for pt in points}  # the log is in read order
    expected = by_point([(s["point"], s["value"], s["quality"]) for s in served])
    for name in totalisers:  # the simulator's noise makes a counter step back now and then: the edge says so
        values = [v for v, _ in expected[name]]
        expected[name] = [(v, "TOTAL_RESET" if i and v < values[i - 1] else q) for i, (v, q) in enumerate(expected[name])]
    assert by_point([(r.point, r.value, r.quality.name) for r in got]) == expected
    assert [r.point for r in got] == points * 3
    assert all(r.quality in (Quality.OK, Quality.TOTAL_RESET) for r in got)


def test_rtu_bus_keeps_polling_the_live_device_when_another_is_dead(tmp_path):
    async def main():
        link = tmp_path / "ttyBUS"
        sims = await start_sims(SimConfig.model_validate({"devices": [
            {"name": "wq", "profile": "wq_multiparam", "unit_id": 3, "transport": {"kind": "rtu", "link": str(link)}}]}))
        got: list = []
        p = poller({"kind": "rtu", "port": str(link)}, [
            {"name": "wq", "profile": "wq_multiparam", "unit_id": 3, "station": "S1"},
            {"name": "ghost", "profile": "pressure_4_20ma", "unit_id": 9, "station": "S2"}], got)
        for dev in p.devices * 2:
            await p.poll(dev)
        p.client.close()
        await stop(sims)
        return got

    got = asyncio.run(main())
    live = [r for r in got if r.station == "S1"]
    dead = [r for r in got if r.station == "S2"]
    assert len(live) == 10 and all(r.quality is Quality.OK and not math.isnan(r.value) for r in live)
    assert len(dead) == 2 and all(r.quality is Quality.TIMEOUT and math.isnan(r.value) for r in dead)


def test_exception_response_and_lost_connection_are_flagged_and_recovered(tmp_path):
    profile = tmp_path / "wide.yaml"
    profile.write_text("vendor: T\nmodel: W\nkind: flow_meter\n"
                       "points: [{name: far, address: 40, type: u16}]\n")

    async def main():
        port = free_port()
        config = SimConfig.model_validate({"devices": [
            {"name": "fm", "profile": "emf_flow_meter", "unit_id": 1, "transport": {"kind": "tcp", "port": port}}]})
        sims = await start_sims(config)
        got: list = []
        p = poller({"kind": "tcp", "host": "127.0.0.1", "port": port}, [
            {"name": "fm", "profile": "emf_flow_meter", "unit_id": 1, "station": "S1"},
            {"name": "wide", "profile": str(profile), "unit_id": 1, "station": "S2"}], got)
        fm, wide = p.devices
        await p.poll(wide)  # register 40 does not exist on the device: exception response
        await stop(sims)  # the device (PLC) goes away…
        await asyncio.sleep(0.2)  # as in the field, the client sees the connection close
        await p.poll(fm)
        sims = await start_sims(config)  # …and comes back
        await p.poll(fm)
        p.client.close()
        await stop(sims)
        return got

    got = asyncio.run(main())
    assert [r.quality for r in got if r.station == "S2"] == [Quality.EXCEPTION]
    fm = [r.quality for r in got if r.station == "S1"]
    assert fm[:3] == [Quality.COMM_ERROR] * 3 and fm[3:] == [Quality.OK] * 3


RUN_S, INTERVAL_S = 30, 0.5


def test_a_dead_slave_on_a_bus_of_five_leaves_the_others_their_poll_rate(tmp_path):
    """Live devices every 0.5 s, the dead one every 1 s with a 0.9 s timeout: without the circuit
    breaker every other poll of the live devices waits behind the dead one's timeout."""
    link = tmp_path / "ttyBUS"
    live = [(1, "pressure_4_20ma"), (2, "pressure_4_20ma"), (3, "wq_multiparam"), (4, "pressure_4_20ma")]

    async def main():
        sims = await start_sims(SimConfig.model_validate({"devices": [
            {"name": f"d{unit}", "profile": profile, "unit_id": unit, "transport": {"kind": "rtu", "link": str(link)}}
            for unit, profile in live]}))
        got: list = []
        bus = BusConfig.model_validate({"name": "rs485", "transport": {"kind": "rtu", "port": str(link)},
                                        "timeout_s": 0.9, "devices": [
            *({"name": f"d{unit}", "profile": profile, "unit_id": unit, "station": f"S{unit}", "poll_interval_s": INTERVAL_S}
              for unit, profile in live),
            {"name": "ghost", "profile": "pressure_4_20ma", "unit_id": 9, "station": "GHOST", "poll_interval_s": 1}]})
        p = BusPoller(bus, got.extend)
        task = asyncio.create_task(p.run())
        await asyncio.sleep(RUN_S)
        p.stop()
        await task
        await stop(sims)
        return got

    got = asyncio.run(main())
    for unit, _ in live:
        polls = {r.t_ms for r in got if r.station == f"S{unit}" and r.quality is Quality.OK}
        on_time = [t for t in polls if t % (INTERVAL_S * 1000) < INTERVAL_S * 1000 / 2]  # sampled in its slot's first half
        assert len(on_time) >= 0.9 * RUN_S / INTERVAL_S, f"device {unit}: {len(on_time)} good polls on time in {RUN_S} s"
    ghost = {r.t_ms for r in got if r.station == "GHOST"}
    assert all(r.quality is Quality.TIMEOUT for r in got if r.station == "GHOST")
    assert 2 <= len(ghost) <= 4, f"the dead slave was asked {len(ghost)} times"


def test_polling_resumes_by_itself_when_the_serial_port_disappears_and_comes_back(tmp_path):
    """USB re-enumeration: the port vanishes, polls are flagged, and when a port appears again at
    the same path the bus reopens it without a restart."""
    link = tmp_path / "ttyUSB0"
    config = SimConfig.model_validate({"devices": [
        {"name": "pt", "profile": "pressure_4_20ma", "unit_id": 2, "transport": {"kind": "rtu", "link": str(link)}}]})

    async def main():
        sims = await start_sims(config)
        got: list = []
        p = poller({"kind": "rtu", "port": str(link)}, [{"name": "pt", "profile": "pressure_4_20ma", "unit_id": 2,
                                                         "station": "S1"}], got)
        dev = p.devices[0]
        await p.poll(dev)
        await stop(sims)  # unplugged: the pty and its link are gone
        assert not link.exists()
        for _ in range(3):
            await p.poll(dev)
        sims = await start_sims(config)  # plugged in again: a new pty behind the same path
        for _ in range(3):
            await p.poll(dev)
        p.client.close()
        await stop(sims)
        return got

    qualities = [r.quality for r in asyncio.run(main())]
    assert qualities[0] is Quality.OK
    assert all(q in (Quality.COMM_ERROR, Quality.TIMEOUT) for q in qualities[1:4]), qualities
    assert qualities[-1] is Quality.OK and qualities[-2] is Quality.OK, qualities

"""Polling real simulated devices over Modbus TCP and RTU on a pseudo-terminal: decoded values,
quality flags for each kind of failure, and recovery when a device comes back."""

from __future__ import annotations

import asyncio
import json
import math

import pytest

from edge_agent.config import BusConfig
from edge_agent.poll.scheduler import BusPoller
from simulators.config import SimConfig
from simulators.run import run_simulators
from watertel.processes import free_port
from watertel.readings import Quality


async def start_sims(config: SimConfig) -> asyncio.Task:
    ready = asyncio.Event()
    task = asyncio.create_task(run_simulators(config, ready))
    await asyncio.wait_for(ready.wait(), 10)
    return task


async def stop(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def poller(transport: dict, devices: list[dict], sink: list) -> BusPoller:
    bus = BusConfig.model_validate({"name": "bus", "transport": transport, "timeout_s": 0.3, "devices": [
        {"poll_interval_s": 1, **d} for d in devices]})
    return BusPoller(bus, sink.extend)


def test_tcp_values_are_what_the_device_served(tmp_path):
    async def main():
        port, served_log = free_port(), tmp_path / "served.jsonl"
        sims = await start_sims(SimConfig.model_validate({"served_log": str(served_log), "devices": [
            {"name": "fm", "profile": "emf_flow_meter", "unit_id": 1, "transport": {"kind": "tcp", "port": port}}]}))
        got: list = []
        p = poller({"kind": "tcp", "host": "127.0.0.1", "port": port},
                   [{"name": "fm", "profile": "emf_flow_meter", "unit_id": 1, "station": "S1"}], got)
        for _ in range(3):
            await p.poll(p.devices[0])
        p.client.close()
        await stop(sims)
        return got, [json.loads(line) for line in served_log.read_text().splitlines()]

    got, served = asyncio.run(main())
    assert [(r.point, r.value, r.quality.name) for r in got] == [(s["point"], s["value"], s["quality"]) for s in served]
    assert {r.point for r in got} == {"flow", "velocity", "total"} and len(got) == 9


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

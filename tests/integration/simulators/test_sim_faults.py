"""Communication faults from a scenario, seen by the edge poller (a real pymodbus client): an
offline device times out, an exception is an exception, a slow answer misses the timeout, a
corrupted CRC on RTU is a comm error; outside the windows every poll is OK again."""

from __future__ import annotations

import asyncio
import json

from watertel.edge_agent.config import BusConfig
from watertel.edge_agent.poll.scheduler import BusPoller
from watertel.simulators.clock import ManualClock
from watertel.simulators.config import SimConfig
from watertel.ports import free_port
from watertel.readings import Quality

from tests.support.sim import T0, start_run, stop_run, write_scenario

SCENARIO = """
events:
  - {at: 10m, for: 10m, kind: offline, device: DEV}
  - {at: 30m, for: 10m, kind: exception, device: DEV, code: device_busy}
  - {at: 50m, for: 10m, kind: slow, device: DEV, delay: 1.6}
  - {at: 70m, for: 10m, kind: crc, device: DEV}
"""
TIMES = [5, 15, 25, 35, 45, 55, 65, 75, 85]  # simulated minutes: one poll before, in and after each window
# The timeout leaves a loaded machine time to answer a healthy poll; the slow answer misses it by far.


def _qualities(tmp_path, transport: dict, bus: dict, device: dict) -> list[Quality]:
    """Poll ``device`` once at each of TIMES; the first reading's quality each time."""
    text = SCENARIO.replace("DEV", device["name"])
    if transport["kind"] == "tcp":  # a CRC exists on RTU only: the scenario check refuses it on TCP
        text = text.replace("crc", "offline")
    scenario = write_scenario(tmp_path / "s.yaml", text)
    config = SimConfig.model_validate({"served_log": str(tmp_path / "served.jsonl"), "devices": [
        {**device, "transport": transport, "model": {"kind": "pressure" if device["name"] == "pt" else "water_quality"}}]})

    async def main() -> list[Quality]:
        clock = ManualClock(T0)
        sims = await start_run(config, clock, scenario)
        got: list = []
        poller = BusPoller(BusConfig.model_validate({"name": "bus", "transport": bus, "timeout_s": 0.8, "devices": [
            {"poll_interval_s": 1, "station": "S1", **{k: device[k] for k in ("name", "profile", "unit_id")}}]}), got.extend)
        qualities = []
        for minute in TIMES:
            clock.set(T0 + minute * 60)
            got.clear()
            await poller.poll(poller.devices[0])
            qualities.append(got[0].quality)
            if got[0].quality is not Quality.OK:  # let a late answer arrive and be discarded before the next poll
                await asyncio.sleep(1.0)
        poller.client.close()
        await stop_run(sims)
        return qualities

    return asyncio.run(main())


def test_offline_exception_and_slow_device_over_tcp(tmp_path):
    port = free_port()
    qualities = _qualities(tmp_path, {"kind": "tcp", "port": port}, {"kind": "tcp", "host": "127.0.0.1", "port": port},
                           {"name": "pt", "profile": "pressure_4_20ma", "unit_id": 2})
    ok, timeout, exception = Quality.OK, Quality.TIMEOUT, Quality.EXCEPTION
    assert qualities == [ok, timeout, ok, exception, ok, timeout, ok, timeout, ok]


def test_corrupted_crc_on_an_rtu_bus(tmp_path):
    link = tmp_path / "ttyRS485"
    qualities = _qualities(tmp_path, {"kind": "rtu", "link": str(link)}, {"kind": "rtu", "port": str(link)},
                           {"name": "wq", "profile": "wq_multiparam", "unit_id": 3})
    ok, timeout, exception = Quality.OK, Quality.TIMEOUT, Quality.EXCEPTION
    assert qualities[:7] == [ok, timeout, ok, exception, ok, timeout, ok] and qualities[-1] is ok
    assert qualities[7] in (Quality.COMM_ERROR, Quality.TIMEOUT)  # the frame was dropped as garbled…
    answered = {round((r["t_sim"] - T0) / 60) for r in map(json.loads, (tmp_path / "served.jsonl").read_text().splitlines())}
    assert 75 in answered and 15 not in answered  # …although the device did answer (offline did not)

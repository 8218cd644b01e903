"""Readings that are valid but need a caveat: a totaliser that rolled over or was reset, and a
sample taken while the gateway clock was not synchronised.

This file holds the tests that need a real server or run a command; the others are in
tests/unit/edge_agent/test_edge_marks.py."""

from __future__ import annotations

import asyncio

from watertel.edge_agent.clock import clock_synchronised
from watertel.edge_agent.config import BusConfig
from watertel.edge_agent.poll.scheduler import BusPoller
from watertel.simulators.config import SimConfig
from watertel.ports import free_port
from watertel.readings import Quality

from tests.support.profiles import start_sims, stop


def test_readings_taken_with_an_unsynchronised_clock_are_flagged(tmp_path):
    async def main():
        port = free_port()
        sims = await start_sims(SimConfig.model_validate({"devices": [
            {"name": "pt", "profile": "pressure_4_20ma", "unit_id": 2, "transport": {"kind": "tcp", "port": port}}]}))
        got: list = []
        bus = BusConfig.model_validate({"name": "b", "transport": {"kind": "tcp", "host": "127.0.0.1", "port": port},
                                        "devices": [{"name": "pt", "profile": "pressure_4_20ma", "unit_id": 2,
                                                     "station": "S1"}, {"name": "ghost", "profile": "pressure_4_20ma",
                                                                        "unit_id": 9, "station": "S2"}]})
        synced = [True]
        p = BusPoller(bus, got.extend, clock_ok=lambda: synced[0])
        await p.poll(p.devices[0])
        synced[0] = False
        for dev in p.devices:
            await p.poll(dev)
        p.client.close()
        await stop(sims)
        return got

    got = asyncio.run(main())
    assert [r.quality for r in got] == [Quality.OK, Quality.CLOCK_UNSYNCED, Quality.TIMEOUT], \
        "a failed read keeps its own reason"


def test_the_kernel_answers_whether_the_clock_is_synchronised():
    assert clock_synchronised() in (True, False)  # Linux: adjtimex always answers

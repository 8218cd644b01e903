"""The site physics hangs together over a simulated day, and every shipped profile served with
its default model reads in range through the edge poller.

This file holds the tests that need a real server or run a command; the others are in
tests/unit/simulators/test_sim_physics.py."""

from __future__ import annotations

import asyncio

import pytest

from watertel import firmware_profiles
from watertel.edge_agent.config import BusConfig
from watertel.edge_agent.poll.scheduler import BusPoller
from watertel.simulators.clock import ManualClock
from watertel.simulators.single import profile_config
from watertel.ports import free_port
from watertel.readings import Quality

from tests.support.sim import T0, start_run, stop_run


@pytest.mark.parametrize("profile", sorted(p.stem for p in firmware_profiles.profile_paths()))
def test_every_profile_with_its_default_model_reads_in_range(profile):
    """Through the edge poller over TCP, at night, at the morning peak and in the evening."""
    port = free_port()
    config = profile_config(profile, tcp=f"127.0.0.1:{port}", link=None, unit=None, seed=1)

    async def main() -> list:
        clock = ManualClock(T0)
        sims = await start_run(config, clock)
        got: list = []
        poller = BusPoller(BusConfig.model_validate({"name": "bus", "transport": {"kind": "tcp", "host": "127.0.0.1",
                                                                                   "port": port}, "timeout_s": 1, "devices": [
            {"name": profile, "profile": profile, "unit_id": config.devices[0].unit_id, "station": "S1",
             "poll_interval_s": 1}]}), got.extend)
        for hour in (3, 8, 20):
            clock.set(T0 + hour * 3600)
            await poller.poll(poller.devices[0])
        poller.client.close()
        await stop_run(sims)
        return got

    got = asyncio.run(main())
    assert len(got) == 3 * len(firmware_profiles.load(profile).points)
    bad = [(r.point, r.value, r.quality.name) for r in got if r.quality is not Quality.OK]
    assert not bad, bad

"""Writes to a simulated device: a writable point inside its limits is taken and held; anything
else gets the exception a careful device would answer, and nothing changes."""

from __future__ import annotations

import asyncio

from pymodbus.client import AsyncModbusTcpClient

from watertel import firmware_profiles
from watertel.edge_agent.config import BusConfig
from watertel.edge_agent.poll.scheduler import BusPoller
from watertel.simulators.config import SimConfig
from watertel.ports import free_port

from tests.support.profiles import start_sims, stop

PUMP = firmware_profiles.load("pump_vfd")
SPEED = next(p for p in PUMP.points if p.name == "speed_setpoint")  # u16 × 0.01 Hz, 25…50, step ≤ 5


def test_a_setpoint_is_written_within_limits_and_refused_outside():
    async def main():
        port = free_port()
        sims = await start_sims(SimConfig.model_validate({"devices": [
            {"name": "pump", "profile": "pump_vfd", "unit_id": 4, "transport": {"kind": "tcp", "port": port},
             "signals": {"speed_setpoint": {"mean": 40}}}]}))
        got: list = []
        poller = BusPoller(BusConfig.model_validate({
            "name": "b", "transport": {"kind": "tcp", "host": "127.0.0.1", "port": port},
            "devices": [{"name": "pump", "profile": "pump_vfd", "unit_id": 4, "station": "S1"}]}), got.extend)
        dev = poller.devices[0]
        written = await poller.write_point(dev, SPEED, 44.0, check=lambda value, current: None)
        raw = AsyncModbusTcpClient("127.0.0.1", port=port)
        await raw.connect()
        too_fast = await raw.write_register(SPEED.address, 7000, device_id=4)  # 70 Hz: above 50
        read_only = await raw.write_register(2, 100, device_id=4)  # the output frequency is not writable
        raw.close()
        readings = await poller.poll(dev)
        poller.client.close()
        await stop(sims)
        return written, too_fast, read_only, {r.point: r.value for r in readings}

    written, too_fast, read_only, values = asyncio.run(main())
    assert written == (40.0, 44.0)
    assert too_fast.isError() and too_fast.exception_code == 3  # ILLEGAL_DATA_VALUE
    assert read_only.isError() and read_only.exception_code == 2  # ILLEGAL_DATA_ADDRESS
    assert values["speed_setpoint"] == 44.0, "the refused writes changed nothing"

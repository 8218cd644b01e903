"""Run a set of simulated devices until cancelled: `watertel sim run --config FILE`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from pathlib import Path

from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator.simcore import SimCore

import firmware_profiles
from simulators.config import SimConfig, SimDeviceConfig
from simulators.modbus_device import SimulatedDevice
from simulators.pty_link import PtyLink

log = logging.getLogger("watertel.sim")


class _Bus(SimCore):
    """pymodbus 3.16's SimCore sends a request for an unknown unit id to unit 0 and fails with
    KeyError, which the server answers as DEVICE_FAILURE. A real RS-485 bus stays silent; raising
    NoSuchIdException lets the server (with ignore_missing_devices) stay silent too."""

    def _SimCore__get_device(self, device_id: int):
        if device_id not in self.devices:
            raise NoSuchIdException(f"no device {device_id} on this bus")
        return self.devices[device_id]


def _bus_key(d: SimDeviceConfig) -> tuple:
    t = d.transport
    return ("tcp", t.host, t.port) if t.kind == "tcp" else ("rtu", str(t.link), t.baudrate)


async def run_simulators(config: SimConfig, ready: asyncio.Event | None = None) -> None:
    """Serve every configured device; devices sharing a TCP port or RTU link share one server.

    A unit id nobody serves gets no answer, as on a real RS-485 bus (pymodbus would otherwise
    answer with an exception on the missing device's behalf)."""
    served = open(config.served_log, "a", encoding="utf-8") if config.served_log else None  # noqa: SIM115
    buses: dict[tuple, list[SimulatedDevice]] = defaultdict(list)
    for d in config.devices:
        buses[_bus_key(d)].append(SimulatedDevice(d, firmware_profiles.load(d.profile), served))
    servers, links = [], []
    try:
        for key, devices in buses.items():
            context = [dev.sim_device() for dev in devices]
            if key[0] == "tcp":
                servers.append(ModbusTcpServer(context, address=(key[1], key[2]), ignore_missing_devices=True))
            else:
                link = PtyLink(Path(key[1]))
                link.start()
                links.append(link)
                servers.append(ModbusSerialServer(context, port=link.server_port, baudrate=key[2],
                                                  ignore_missing_devices=True))
            servers[-1].context = _Bus(context)
            log.info("serving %s on %s", ", ".join(d.config.name for d in devices), ":".join(map(str, key[1:])))
        for server in servers:
            await server.serve_forever(background=True)
        if ready:
            ready.set()
        await asyncio.Event().wait()
    finally:
        for server in servers:
            with contextlib.suppress(Exception):
                await server.shutdown()
        for link in links:
            link.close()
        if served:
            served.close()

"""Run a set of simulated devices until cancelled: `watertel sim run --config FILE`.

One simulated clock and one scenario drive every device of the run; the ground truth of what
the scenario injected is written beside the served log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator.simcore import SimCore

from watertel import firmware_profiles
from watertel.errors import OperatorError
from watertel.ports import cannot_listen
from watertel.simulators.clock import Clock, SimClock
from watertel.simulators.config import SimConfig, SimDeviceConfig
from watertel.simulators.effects import DeviceEffects, DeviceInfo, check_events
from watertel.simulators.modbus_device import SimulatedDevice
from watertel.simulators.pty_link import PtyLink
from watertel.simulators.rtu import corrupting_rtu_framer
from watertel.simulators.scenario import LoadedScenario, empty_scenario, raise_problems
from watertel.simulators.truth import GroundTruth

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


def build_devices(config: SimConfig, scenario: LoadedScenario, clock: Clock,
                  served) -> dict[tuple, list[SimulatedDevice]]:
    """Every device of the run, grouped by bus; the scenario is checked against them first."""
    profiles = {d.name: firmware_profiles.load(d.profile) for d in config.devices}
    infos = {d.name: DeviceInfo(profiles[d.name], d.transport.kind == "rtu", d.model is not None) for d in config.devices}
    raise_problems(scenario, check_events(scenario, infos))
    buses: dict[tuple, list[SimulatedDevice]] = defaultdict(list)
    for d in config.devices:
        effects = DeviceEffects(d.name, profiles[d.name], scenario.events)
        buses[_bus_key(d)].append(SimulatedDevice(d, profiles[d.name], served, clock, effects, config.site))
    return buses


def _server(key: tuple, devices: list[SimulatedDevice], links: list[PtyLink]):
    """A pymodbus server for one bus; an RTU bus gets a framer that can corrupt CRCs."""
    context = [dev.sim_device() for dev in devices]
    if key[0] == "tcp":
        server = ModbusTcpServer(context, address=(key[1], key[2]), ignore_missing_devices=True)
    else:
        link = PtyLink(Path(key[1]))
        link.start()
        links.append(link)
        server = ModbusSerialServer(context, port=link.server_port, baudrate=key[2], ignore_missing_devices=True)
        by_unit = {dev.config.unit_id: dev for dev in devices}
        server.framer = corrupting_rtu_framer(lambda unit: unit in by_unit and by_unit[unit].comm_fault() == "crc")
    server.context = _Bus(context)
    return server


async def _listen(server: ModbusTcpServer | ModbusSerialServer, key: tuple) -> None:
    """Start one server; a TCP port it cannot take is an OperatorError saying why (pymodbus says
    only "Could not start listen")."""
    try:
        await server.serve_forever(background=True)
    except (RuntimeError, OSError) as err:
        if key[0] != "tcp":
            raise
        raise OperatorError(cannot_listen(key[1], key[2])) from err


async def run_simulators(config: SimConfig, ready: asyncio.Event | None = None, clock: Clock | None = None,
                         scenario: LoadedScenario | None = None,
                         announce: Callable[[str], None] | None = None) -> None:
    """Serve every configured device; devices sharing a TCP port or RTU link share one server.

    A unit id nobody serves gets no answer, as on a real RS-485 bus (pymodbus would otherwise
    answer with an exception on the missing device's behalf). ``announce`` receives one line
    per bus saying where to connect (the pty device path for an RTU bus)."""
    scenario = scenario or empty_scenario()
    clock = clock or SimClock(scenario.scenario.start_epoch)
    served = open(config.served_log, "a", encoding="utf-8") if config.served_log else None  # noqa: SIM115
    truth = GroundTruth(config.truth_log, scenario.events, clock)
    servers, links, tasks, lines = [], [], [], []
    try:
        keys = []
        for key, devices in build_devices(config, scenario, clock, served).items():
            servers.append(_server(key, devices, links))
            keys.append(key)
            where = ":".join(map(str, key[1:])) if key[0] == "tcp" else f"{links[-1].client_port} (link {key[1]})"
            lines.append(f"{key[0]} {where}: " + ", ".join(f"{d.config.name} (unit {d.config.unit_id})" for d in devices))
        for server, line, key in zip(servers, lines, keys):
            await _listen(server, key)
            log.info("serving %s", line)
            if announce:  # only once it listens: nothing claims to serve on a port it could not take
                announce(line)
        tasks.append(asyncio.create_task(truth.run()))
        if ready:
            ready.set()
        await asyncio.Event().wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for server in servers:
            with contextlib.suppress(Exception):
                await server.shutdown()
        for link in links:
            link.close()
        truth.close()
        if served:
            served.close()

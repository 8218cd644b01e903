"""`watertel edge check --online`: what only the network and the buses can tell.

Each broker is connected to with the configured user, password and TLS (under a client id of its
own, ``<client id>-check``, so a running agent's session is not taken over), and one block of
registers is read from each device. A problem is one line, ``config: key: problem (fix)``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import aiomqtt

from watertel import firmware_profiles
from watertel.edge_agent.config import BusConfig, EdgeConfig
from watertel.edge_agent.poll.modbus import BusClient, ReadFailed
from watertel.firmware_profiles.codec import plan
from watertel.readings import Quality

BROKER_TIMEOUT_S = 10.0


async def check_online(cfg: EdgeConfig, config_path: Path) -> list[str]:
    """Problems connecting to each broker and reading each device; nothing when all answered."""
    problems = [p for i, url in enumerate(cfg.uplink.brokers)
                if (p := await _broker(cfg, url, f"{config_path}: uplink.brokers.{i}"))]
    for b, bus in enumerate(cfg.buses):
        problems += await _bus(bus, f"{config_path}: buses.{b}")
    return problems


async def _broker(cfg: EdgeConfig, url: str, where: str) -> str | None:
    up = cfg.uplink
    parts = urlsplit(url)
    tls = up.tls.context() if parts.scheme == "mqtts" and up.tls else None  # files checked before
    password = up.password_file.read_text().strip() if up.password_file else None
    client = aiomqtt.Client(parts.hostname, parts.port or (8883 if tls else 1883),
                            identifier=f"{up.client_id or cfg.gateway_id}-check", username=up.username,
                            password=password, tls_context=tls, clean_session=True, timeout=BROKER_TIMEOUT_S)
    try:
        async with asyncio.timeout(BROKER_TIMEOUT_S + 1):
            async with client:
                return None
    except (aiomqtt.MqttError, OSError, TimeoutError) as err:
        return f"{where}: cannot connect to {url}: {err or 'timed out'} ({_broker_fix(err)})"


def _broker_fix(err: Exception) -> str:
    text = str(err).lower()
    if "user name or password" in text or "not authori" in text or "code:134" in text or "code:135" in text:
        return "check uplink.username and the password file against the broker's password file"
    if "certificate" in text or "ssl" in text or "hostname" in text:
        return "check uplink.tls.ca_file is the CA that signed the broker's certificate, issued for this host name"
    return "check the host and port, and that the broker runs and the firewall lets the gateway through"


async def _bus(bus: BusConfig, where: str) -> list[str]:
    """Read the first block of each device's profile, one device after the other."""
    client = BusClient(bus)
    t = bus.transport
    endpoint = f"{t.host}:{t.port}" if t.kind == "tcp" else t.port
    problems = []
    try:
        for d, dev in enumerate(bus.devices):
            block = plan(firmware_profiles.load(dev.profile))[0]
            try:
                await client.read(dev.unit_id, block)
            except ReadFailed as err:  # (pymodbus' own words for silence are "[Input/Output] No response …")
                why = f"no answer within {bus.timeout_s:g} s" if err.quality is Quality.TIMEOUT else str(err)
                problems.append(f"{where}.devices.{d}: device {dev.name} (unit {dev.unit_id} at {endpoint}) did not "
                                f"answer a read of {block.count} registers at {block.address}: {why} ({_device_fix(err)})")
    finally:
        client.close()
    return problems


def _device_fix(err: ReadFailed) -> str:
    if err.quality is Quality.EXCEPTION:
        return "the device answered with an exception: check that the profile is this device's model and firmware"
    if err.quality is Quality.TIMEOUT:
        return "check unit_id, and for RS-485 the baud rate, parity and wiring (A/B)"
    return "check the host and port or the serial adapter, and that nothing else holds the connection"

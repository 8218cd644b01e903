"""Each shipped profile served by the simulator over Modbus TCP and over RTU on a pseudo-terminal,
read by a client that is not ours (Debian's mbpoll, libmodbus) and by our edge decode: both give
the engineering values the profile defines for what the device holds."""

from __future__ import annotations

import asyncio
import math
import re
import shutil

import pytest
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient

from watertel import firmware_profiles
from watertel.edge_agent.poll.decode import to_readings
from watertel.firmware_profiles import Function, Profile
from watertel.firmware_profiles.codec import plan, representable
from watertel.ports import free_port
from watertel.readings import Quality

from tests.support.checks import need
from tests.support.profiles import constant_values, reference_decode, rtu_link, sim_config, start_sims, stop

SHIPPED = [p.stem for p in firmware_profiles.profile_paths()]
MBPOLL_TABLE = {Function.COIL: "0", Function.DISCRETE: "1", Function.INPUT: "3", Function.HOLDING: "4"}
LINE = re.compile(r"^\[(\d+)\]:\s+(\S+)$", re.M)


class Mbpoll:
    """mbpoll against one device; each call polls once and returns {address: text value}."""

    def __init__(self, profile: Profile, tcp_port: int | None, link: str | None) -> None:
        t = profile.transport
        where = (["-m", "tcp", "-p", str(tcp_port)] if tcp_port else
                 ["-m", "rtu", "-b", str(t.baudrate), "-P", "none", "-s", str(t.stopbits)])
        self.base = ["mbpoll", *where, "-a", str(t.unit_id), "-0", "-1", "-o", "2"]
        self.target = "127.0.0.1" if tcp_port else link

    async def read(self, table: str, address: int, count: int) -> dict[int, str]:
        proc = await asyncio.create_subprocess_exec(
            *self.base, "-t", table, "-r", str(address), "-c", str(count), self.target,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, f"mbpoll -t {table} -r {address} -c {count}: {err.decode()} {out.decode()}"
        return {int(a): v for a, v in LINE.findall(out.decode())}

    async def registers(self, function: Function, address: int, count: int) -> list[int]:
        table = MBPOLL_TABLE[function] + ("" if function.is_bit else ":hex")
        got = await self.read(table, address, count)
        return [int(got[a], 16) if not function.is_bit else int(got[a]) for a in range(address, address + count)]


async def _ours(client, profile: Profile) -> dict[str, float]:
    """Read the profile's blocks with pymodbus and decode through the edge agent's to_readings."""
    blocks = {}
    for b in plan(profile):
        call = {Function.COIL: client.read_coils, Function.DISCRETE: client.read_discrete_inputs,
                Function.HOLDING: client.read_holding_registers, Function.INPUT: client.read_input_registers}[b.function]
        response = await call(b.address, count=b.count, device_id=profile.transport.unit_id)
        assert not response.isError(), (b, response)
        blocks[b] = [int(v) for v in (response.bits if b.function.is_bit else response.registers)[: b.count]]
    readings = to_readings(profile, "S", 0, blocks)
    assert all(r.quality is Quality.OK for r in readings), readings
    return {r.point: r.value for r in readings}


async def _theirs(mb: Mbpoll, profile: Profile) -> dict[str, float]:
    """mbpoll's raw registers, per block, through the test's reference decoder."""
    values = {}
    for b in plan(profile):
        regs = await mb.registers(b.function, b.address, b.count)
        for p in profile.points:
            if p.function == b.function and b.covers(p.first, p.count):
                values[p.name] = reference_decode(p, b.slice(regs, p.first, p.count))
    return values


async def _mbpoll_native(mb: Mbpoll, profile: Profile) -> dict[str, float]:
    """32-bit values mbpoll decodes itself (its float and int types, ABCD with -B, CDAB without)."""
    values = {}
    for p in profile.points:
        if p.type.value in ("f32", "i32") and p.order.value in ("ABCD", "CDAB") and not p.fraction:
            kind = "float" if p.type.value == "f32" else "int"
            table = f"{MBPOLL_TABLE[p.function]}:{kind}"
            got = await mb.read(table, p.address, 1) if p.order.value == "CDAB" else await _read_big_endian(mb, table, p.address)
            values[p.name] = float(got[p.address]) * p.scale + p.offset
    return values


async def _read_big_endian(mb: Mbpoll, table: str, address: int) -> dict[int, str]:
    saved = mb.base
    mb.base = [*saved, "-B"]
    try:
        return await mb.read(table, address, 1)
    finally:
        mb.base = saved


def _check(profile: Profile, ours: dict[str, float], theirs: dict[str, float], native: dict[str, float],
           held: dict[str, float]) -> None:
    for p in profile.points:
        expected = representable(p, held[p.name])
        assert ours[p.name] == expected, (p.name, ours[p.name], expected)
        assert theirs[p.name] == pytest.approx(expected, rel=1e-12, abs=1e-12), (p.name, theirs[p.name], expected)
    for name, value in native.items():  # mbpoll prints 6 significant digits
        assert value == pytest.approx(ours[name], rel=2e-6, abs=1e-9), (name, value, ours[name])


@pytest.mark.server
@pytest.mark.parametrize("transport", ["tcp", "rtu"])
@pytest.mark.parametrize("name", SHIPPED)
def test_profile_reads_the_same_through_mbpoll_and_our_decode(name, transport, tmp_path):
    need(shutil.which("mbpoll") is not None, "mbpoll (apt-get install mbpoll)")
    profile = firmware_profiles.load(name)
    held = constant_values(profile)
    unit = profile.transport.unit_id

    async def main():
        port, link = free_port(), rtu_link(tmp_path)
        where = {"kind": "tcp", "port": port} if transport == "tcp" else {
            "kind": "rtu", "link": str(link), "baudrate": profile.transport.baudrate}
        sims = await start_sims(sim_config(name, unit, where, held))
        client = (AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0) if transport == "tcp" else
                  AsyncModbusSerialClient(str(link), baudrate=profile.transport.baudrate, parity="N",
                                          stopbits=profile.transport.stopbits, timeout=2, retries=0))
        try:
            assert await client.connect()
            ours = await _ours(client, profile)
            client.close()  # one master on an RS-485 line at a time
            mb = Mbpoll(profile, port if transport == "tcp" else None, str(link))
            return ours, await _theirs(mb, profile), await _mbpoll_native(mb, profile)
        finally:
            client.close()
            await stop(sims)

    ours, theirs, native = asyncio.run(main())
    _check(profile, ours, theirs, native, held)
    assert not any(math.isnan(v) for v in ours.values())

"""The rtu-gateway: stream framing, replies and refusals, hundreds of long connections, and the
whole path from simulated SZY 206 / SL 651 RTUs through a real Mosquitto into the cloud store,
including a kill -9 between acknowledging reports and uploading them.

This file holds the tests that need a real server or run a command; the others are in
tests/unit/edge_agent/rtu_gateway/test_rtu_gateway.py and
tests/system/test_rtu_gateway.py."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

from watertel.edge_agent.rtu_gateway.config import load_rtu_config
from watertel.edge_agent.rtu_gateway.service import RtuGateway
from watertel.edge_agent.buffer import read_all
from watertel.simulators.field_rtu import FieldRtu
from watertel.ports import free_port
from watertel.protocols import Protocol, sl651, szy206
from watertel.readings import Quality

from tests.support.rtu import SL, SL_PASSWORD, SZY, SZY_POINTS, Client, rtu_report, write_rtu_config


async def _running(cfg_path: Path):
    gateway = RtuGateway(load_rtu_config(cfg_path))
    stop = asyncio.Event()
    task = asyncio.create_task(gateway.run(stop, drain_s=0))
    while gateway.port is None:
        assert not task.done(), task.result()
        await asyncio.sleep(0.01)
    return gateway, stop, task


def _link(code: szy206.LinkCode, station: int = 1234) -> bytes:
    return szy206.encode(szy206.Frame(szy206.Afn.LINK_CHECK, True, 0, 3, "330102", station, szy206.LinkCheck(code)))


def test_replies_refusals_and_quiet_counting(tmp_path):
    cfg = write_rtu_config(tmp_path, free_port())

    async def main() -> None:
        gateway, stop, task = await _running(cfg)
        try:
            c = await Client.connect(gateway.port)
            await c.send(_link(szy206.LinkCode.LOGIN))
            (echo,) = await c.frames()
            assert not echo.uplink and echo.message == szy206.LinkCheck(szy206.LinkCode.LOGIN)
            await c.send(b"\x01\x02garbage\x68\x68")  # garbage: counted, ignored
            bad = bytearray(_link(szy206.LinkCode.KEEPALIVE))
            bad[9] = 0x55  # unknown AFN, checksum made right: a well-framed bad frame
            bad[-2] = szy206.crc8(bytes(bad[3:-2]))
            await c.send(bytes(bad))
            await c.send(rtu_report(Protocol.SZY206, "330102-999", 0))  # unknown address: not acknowledged
            assert await c.silent()
            frame = rtu_report(Protocol.SZY206, SZY, 0)
            for i in range(0, len(frame), 5):  # a report in 5-byte segments
                await c.send(frame[i:i + 5])
            (confirm,) = await c.frames()
            assert confirm.afn == szy206.Afn.SELF_REPORT and isinstance(confirm.message, szy206.Confirm)
            s = await Client.connect(gateway.port)
            await s.send(rtu_report(Protocol.SL651, SL, 0) + rtu_report(Protocol.SL651, SL, 1))  # two in one segment
            replies = await s.frames(2)
            assert [r.end for r in replies] == [sl651.End.ESC] * 2 and [r.message.serial for r in replies] == [1, 2]
            stats = gateway.server.stats
            assert stats["bad_frames"] == 1 and stats["unknown_address"] == 1 and stats["garbage_bytes"] >= 9
            assert stats["reports"] == 3 and stats["readings"] == 2 + 3 + 3
            assert len(gateway.server.connections) == 2
        finally:
            stop.set()
            await task

    asyncio.run(main())
    readings = read_all(tmp_path / "rtu-t.szy206.db") + read_all(tmp_path / "rtu-t.sl651.db")
    assert {(r.station, r.point) for r in readings} == {("ST-SZY", "flow"), ("ST-SZY", "total"), ("ST-SL", "flow"),
                                                       ("ST-SL", "level"), ("ST-SL", "supply_voltage")}
    assert all(r.quality == Quality.OK for r in readings)


def test_idle_connections_are_closed(tmp_path):
    cfg = write_rtu_config(tmp_path, free_port(), idle_timeout_s=0.3)

    async def main() -> None:
        gateway, stop, task = await _running(cfg)
        try:
            c = await Client.connect(gateway.port)
            started = time.monotonic()
            assert await asyncio.wait_for(c.reader.read(10), 3) == b""  # closed by the gateway
            assert 0.25 < time.monotonic() - started < 2
            assert gateway.server.stats["idle_closed"] == 1
        finally:
            stop.set()
            await task

    asyncio.run(main())


def test_simulated_rtus_keep_alive_between_reports(tmp_path):
    cfg = write_rtu_config(tmp_path, free_port())

    async def main() -> list[dict]:
        gateway, stop, task = await _running(cfg)
        try:
            rtus = [FieldRtu(Protocol.SZY206, "127.0.0.1", gateway.port, SZY, interval_s=0.8, count=2, keepalive_s=0.2),
                    FieldRtu(Protocol.SL651, "127.0.0.1", gateway.port, SL, interval_s=0.8, count=2, keepalive_s=0.2,
                             password=int(SL_PASSWORD, 16))]
            summaries = await asyncio.wait_for(asyncio.gather(*(rtu.run() for rtu in rtus)), 10)
            assert gateway.server.stats["link_checks"] >= 2 * 3 + 1  # SZY login, logout; keep-alives of both
            return summaries
        finally:
            stop.set()
            await task

    for summary in asyncio.run(main()):
        assert summary["acknowledged"] == 2 and summary["keepalives"] >= 2 and summary["reconnects"] == 0, summary


def test_two_hundred_long_connections_with_keepalives(tmp_path):
    """(d) 200 RTUs connected at once: login, keep-alives, one report each, all acknowledged while
    all 200 are open; their readings are in the buffer, committed in a few group commits."""
    n = 200
    stations = [{"protocol": "szy206", "address": f"330102-{2000 + i}", "station": f"ST-{i:03d}",
                 "points": SZY_POINTS} for i in range(n)]
    cfg = write_rtu_config(tmp_path, free_port(), extra=stations, max_connections_per_address=n)  # one NAT address

    async def rtu(port: int, i: int, all_open: asyncio.Event, opened: list) -> float:
        c = await Client.connect(port)
        opened.append(i)
        if len(opened) == n:
            all_open.set()
        await c.send(_link(szy206.LinkCode.LOGIN, 2000 + i))
        assert (await c.frames())[0].message.code == szy206.LinkCode.LOGIN
        await all_open.wait()
        for _ in range(2):
            await c.send(_link(szy206.LinkCode.KEEPALIVE, 2000 + i))
            assert (await c.frames())[0].message.code == szy206.LinkCode.KEEPALIVE
        started = time.monotonic()
        await c.send(rtu_report(Protocol.SZY206, f"330102-{2000 + i}", i))
        assert isinstance((await c.frames())[0].message, szy206.Confirm)
        waited = time.monotonic() - started
        await c.send(_link(szy206.LinkCode.LOGOUT, 2000 + i))
        await c.frames()
        c.writer.close()
        return waited

    async def main() -> tuple[list[float], dict, int]:
        gateway, stop, task = await _running(cfg)
        try:
            all_open, opened = asyncio.Event(), []
            acks = await asyncio.wait_for(asyncio.gather(*(rtu(gateway.port, i, all_open, opened) for i in range(n))), 60)
            return acks, dict(gateway.server.stats), gateway.gateways[Protocol.SZY206].commits
        finally:
            stop.set()
            await task

    acks, stats, commits = asyncio.run(main())
    assert stats["connections"] == n and stats["link_checks"] == 4 * n and stats["reports"] == n, stats
    readings = read_all(tmp_path / "rtu-t.szy206.db")
    assert len(readings) == 2 * n and len({r.station for r in readings}) == n
    assert commits < n  # reports that arrive together share one commit
    print(f"\n200 connections: ack after commit median {sorted(acks)[n // 2] * 1000:.1f} ms, max {max(acks) * 1000:.1f} ms,"
          f" {commits} commits")


def test_the_gateway_imports_no_modbus_stack():
    """The rtu-gateway runs beside the cloud, without the edge agent's Modbus dependencies."""
    code = ("import sys; from watertel.shell.cli import build_parser, handler;"
            "handler(build_parser().parse_args(['rtu-gateway', '--config', 'rtu.yaml']).handler);"
            "assert not {'pymodbus', 'serial'} & set(sys.modules), sorted(sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr

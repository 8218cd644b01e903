"""The rtu-gateway: stream framing, replies and refusals, hundreds of long connections, and the
whole path from simulated SZY 206 / SL 651 RTUs through a real Mosquitto into the cloud store,
including a kill -9 between acknowledging reports and uploading them."""

from __future__ import annotations

import asyncio
import json
import math
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from watertel.edge_agent.rtu_gateway.config import load_rtu_config
from watertel.protocols.framing import MAX_FRAME, StreamFramer
from watertel.edge_agent.rtu_gateway.service import RtuGateway
from watertel.edge_agent.buffer import read_all
from watertel.simulators.field_rtu import FieldRtu
from watertel.config import ConfigError
from watertel.keys import write_key_pair
from watertel.ports import free_port, port_open
from watertel.shell.processes import Child, wait_until
from watertel.protocols import Protocol, sl651, szy206
from watertel.readings import Quality

SZY, SL = "330102-1234", "0011223344"
SZY_POINTS = {"flow_1": {"point": "flow", "unit": "m3/h"}, "volume_1": {"point": "total", "unit": "m3"}}
SL_POINTS = {"flow": {"point": "flow", "unit": "m3/s"}, "water_level": {"point": "level", "unit": "m"},
             "supply_voltage": {"point": "supply_voltage", "unit": "V"}}
POINT_OF = {"szy206": {k: v["point"] for k, v in SZY_POINTS.items()},
            "sl651": {k: v["point"] for k, v in SL_POINTS.items()}}


def _report(protocol: Protocol, address: str, i: int, count: int = 50) -> bytes:
    return FieldRtu(protocol, "127.0.0.1", 1, address, count=count, seed=i).make_report(i).frame


def _write_config(tmp: Path, broker_port: int, listen: str = "127.0.0.1:0", extra: list[dict] = (), **options) -> Path:
    if not (tmp / "keys" / "rtu-t.key.pem").exists():
        write_key_pair(tmp / "keys", "rtu-t")
    cfg = {
        "gateway_id": "rtu-t", "key": {"private_key": "keys/rtu-t.key.pem", "key_id": "rtu-t-k1"},
        "uplink": {"brokers": [f"mqtt://127.0.0.1:{broker_port}"]}, "buffer": {"path": "rtu-t.db"},
        "batching": {"max_readings": 200, "max_latency_s": 0.2}, "listen": listen, **options,
        "stations": [{"protocol": "szy206", "address": SZY, "station": "ST-SZY", "points": SZY_POINTS},
                     {"protocol": "sl651", "address": SL, "station": "ST-SL", "points": SL_POINTS}, *extra],
    }
    path = tmp / "rtu.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


# --- (a) stream framing ---------------------------------------------------------------------------


def test_several_frames_in_one_chunk_of_both_protocols():
    frames = [_report(Protocol.SZY206, SZY, 1), _report(Protocol.SL651, SL, 2), _report(Protocol.SZY206, SZY, 3)]
    got = StreamFramer().feed(b"".join(frames))
    assert [raw for _, raw in got] == frames
    assert [p for p, _ in got] == [Protocol.SZY206, Protocol.SL651, Protocol.SZY206]


def test_one_frame_byte_by_byte():
    for frame in (_report(Protocol.SZY206, SZY, 1), _report(Protocol.SL651, SL, 1)):
        framer, got = StreamFramer(), []
        for i in range(len(frame)):
            got += framer.feed(frame[i:i + 1])
            assert len(got) == (1 if i == len(frame) - 1 else 0)
        assert got[0][1] == frame and framer.discarded == 0


def test_garbage_and_false_starts_before_a_frame_are_skipped():
    szy, sl = _report(Protocol.SZY206, SZY, 1), _report(Protocol.SL651, SL, 1)
    broken = bytearray(sl)
    broken[20] ^= 0xFF  # a frame with a bad CRC: dropped, and the frame behind it still found
    garbage = b"\x00\x68\x05\x68\x7e\x7e\x11" + bytes(random.Random(1).randbytes(300)).replace(b"\x7e", b"\x00")
    framer = StreamFramer()
    got = framer.feed(garbage + bytes(broken) + b"\x68\x30\x68junk" + szy + sl)
    assert [raw for _, raw in got] == [szy, sl]
    assert framer.discarded == len(garbage) + len(broken) + 7
    assert not framer.buf


def test_a_flood_of_garbage_and_fake_headers_stays_bounded():
    """Random bytes and fake SL 651 headers announcing 4,095-byte bodies: the framer never holds
    more than one frame's worth plus one chunk, and a real frame after the flood is found."""
    rng = random.Random(7)
    fake = b"\x7e\x7e" + bytes(9) + b"\x0f\xff\x02"  # uplink, body length 4095, STX: waits, then fails CRC
    framer, biggest = StreamFramer(), 0
    for i in range(1000):  # 4 MB
        chunk = rng.randbytes(4096) if i % 3 else (fake + rng.randbytes(4096 - len(fake)))
        framer.feed(chunk)
        biggest = max(biggest, len(framer.buf))
    assert biggest <= MAX_FRAME + 4096
    frame = _report(Protocol.SZY206, SZY, 1)
    got = framer.feed(frame + bytes(MAX_FRAME))  # whatever was pending resolves; the frame comes out
    assert frame in [raw for _, raw in got]


# --- mapping: report → readings ------------------------------------------------------------------


def _entry(protocol: str, address: str, points: dict):
    from watertel.edge_agent.rtu_gateway.config import StationMapping

    return StationMapping.model_validate({"protocol": protocol, "address": address, "station": "ST", "points": points})


def test_sl651_invalid_values_series_and_unmapped_elements():
    from datetime import datetime, timedelta
    from decimal import Decimal

    from watertel.edge_agent.rtu_gateway.mapping import sl_readings
    from watertel.protocols.common import CHINA

    at = datetime(2026, 11, 29, 8, 0, tzinfo=CHINA)
    entry = _entry("sl651", SL, {"water_level": {"point": "level", "unit": "m"}, "flow": {"point": "q", "unit": "m3/s"}})
    report = sl651.Report(1, at, SL, sl651.Category.RIVER, at, (
        sl651.Element(0x39, 0x23, (None,)), sl651.Element(0x27, 0x2B, (Decimal("-1.5"),)),
        sl651.Element(0x38, 0x12, (Decimal("12.1"),))))
    mapped = sl_readings(entry, report)
    level, flow = mapped.readings
    assert math.isnan(level.value) and level.quality == Quality.SENSOR_FAULT and level.t_ms == at.timestamp() * 1000
    assert flow.value == -1.5 and flow.point == "q" and flow.unit == "m3/s" and flow.quality == Quality.OK
    assert mapped.unmapped == ["supply_voltage"]
    series = sl651.Report(2, at, SL, sl651.Category.RIVER, at, (sl651.Element(0x39, 0x23, tuple(map(Decimal, "123"))),),
                          timedelta(minutes=5))
    assert [(r.t_ms - level.t_ms, r.value) for r in sl_readings(entry, series).readings] == [
        (0, 1.0), (300_000, 2.0), (600_000, 3.0)]


def test_szy206_pressure_quality_and_state_words():
    from datetime import datetime
    from decimal import Decimal

    from watertel.edge_agent.rtu_gateway.mapping import szy_readings
    from watertel.protocols.common import CHINA

    now = datetime(2026, 12, 1, 0, 10, tzinfo=CHINA)
    label = szy206.TimeLabel(5, 4, 23, 30)  # the 30th at 23:04:05: last month, as the 30th is past
    entry = _entry("szy206", SZY, {"pressure_2": {"point": "p2", "unit": "kPa"},
                                   "alarm_state": {"point": "alarm", "unit": "-"}, "ph": {"point": "ph", "unit": "-"}})
    pressures = szy206.Pressure((Decimal("1.25"), Decimal("310.5")))
    mapped = szy_readings(entry, szy206.RealtimeData(pressures, 5, 0, label), now)
    assert [(r.point, r.value) for r in mapped.readings] == [("alarm", 5.0), ("p2", 310.5)]
    assert mapped.readings[0].t_ms == datetime(2026, 11, 30, 23, 4, 5, tzinfo=CHINA).timestamp() * 1000
    assert mapped.unmapped == ["pressure_1"]
    quality = szy206.WaterQuality((szy206.QualityValue(1, Decimal("7.25")),))
    assert [(r.point, r.value) for r in szy_readings(entry, szy206.RealtimeData(quality, 0, 0, label), now).readings] == [
        ("alarm", 0.0), ("ph", 7.25)]


# --- the server in-process: replies, refusals, idle timeout, 200 connections ----------------------


class Client:
    """A raw TCP RTU for tests: send bytes, read the centre's frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.framer = reader, writer, StreamFramer()

    @classmethod
    async def connect(cls, port: int) -> Client:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def frames(self, n: int = 1, timeout: float = 5.0) -> list:
        got: list = []
        deadline = time.monotonic() + timeout
        while len(got) < n:
            data = await asyncio.wait_for(self.reader.read(4096), deadline - time.monotonic())
            if not data:
                break
            got += [(szy206 if p == Protocol.SZY206 else sl651).decode(raw) for p, raw in self.framer.feed(data)]
        return got

    async def silent(self, wait: float = 0.3) -> bool:
        try:
            return not await asyncio.wait_for(self.reader.read(4096), wait)
        except TimeoutError:
            return True


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
    cfg = _write_config(tmp_path, free_port())

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
            await c.send(_report(Protocol.SZY206, "330102-999", 0))  # unknown address: not acknowledged
            assert await c.silent()
            frame = _report(Protocol.SZY206, SZY, 0)
            for i in range(0, len(frame), 5):  # a report in 5-byte segments
                await c.send(frame[i:i + 5])
            (confirm,) = await c.frames()
            assert confirm.afn == szy206.Afn.SELF_REPORT and isinstance(confirm.message, szy206.Confirm)
            s = await Client.connect(gateway.port)
            await s.send(_report(Protocol.SL651, SL, 0) + _report(Protocol.SL651, SL, 1))  # two in one segment
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
    cfg = _write_config(tmp_path, free_port(), idle_timeout_s=0.3)

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


def test_config_errors_name_file_line_and_key(tmp_path):
    path = _write_config(tmp_path, 1883, extra=[{"protocol": "sl651", "address": SL, "station": "ST-X",
                                                 "points": {"flow": {"point": "flow", "unit": "m3/s"}}}])
    with pytest.raises(ConfigError, match=r"rtu.yaml:\d+: stations.2.address: sl651 address 0011223344 is also stations.1"):
        load_rtu_config(path)
    path = _write_config(tmp_path, 1883, extra=[{"protocol": "szy206", "address": "33-1", "station": "ST-Y",
                                                 "points": {"flow_one": {"point": "f", "unit": "x"}}}])
    with pytest.raises(ConfigError, match=r"rtu.yaml:\d+: stations.2.address: a SZY 206 address .* \(write it like 3301"):
        load_rtu_config(path)
    with pytest.raises(ConfigError, match=r"stations.2.points: 'flow_one' is not a SZY 206 value"):
        load_rtu_config(path)


def test_simulated_rtus_keep_alive_between_reports(tmp_path):
    cfg = _write_config(tmp_path, free_port())

    async def main() -> list[dict]:
        gateway, stop, task = await _running(cfg)
        try:
            rtus = [FieldRtu(Protocol.SZY206, "127.0.0.1", gateway.port, SZY, interval_s=0.8, count=2, keepalive_s=0.2),
                    FieldRtu(Protocol.SL651, "127.0.0.1", gateway.port, SL, interval_s=0.8, count=2, keepalive_s=0.2)]
            summaries = await asyncio.wait_for(asyncio.gather(*(rtu.run() for rtu in rtus)), 10)
            assert gateway.server.stats["link_checks"] >= 2 * 3 + 1  # SZY login, logout; keep-alives of both
            return summaries
        finally:
            stop.set()
            await task

    for summary in asyncio.run(main()):
        assert summary["acknowledged"] == 2 and summary["keepalives"] >= 2 and summary["reconnects"] == 0, summary


def test_the_shipped_example_config_loads(tmp_path):
    import shutil

    shutil.copy(Path(__file__).parent.parent / "deploy" / "rtu-gateway.example.yaml", tmp_path / "rtu.yaml")
    write_key_pair(tmp_path / "keys", "rtu-hz")
    cfg = load_rtu_config(tmp_path / "rtu.yaml", listen="127.0.0.1:19206")
    assert [cfg.gateway_id_for(p) for p in cfg.protocols()] == ["rtu-hz.szy206", "rtu-hz.sl651"]
    assert cfg.host_port == ("127.0.0.1", 19206) and cfg.buffer_path(Protocol.SL651).name == "rtu-hz.sl651.db"


def test_two_hundred_long_connections_with_keepalives(tmp_path):
    """(d) 200 RTUs connected at once: login, keep-alives, one report each, all acknowledged while
    all 200 are open; their readings are in the buffer, committed in a few group commits."""
    n = 200
    stations = [{"protocol": "szy206", "address": f"330102-{2000 + i}", "station": f"ST-{i:03d}",
                 "points": SZY_POINTS} for i in range(n)]
    cfg = _write_config(tmp_path, free_port(), extra=stations)

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
        await c.send(_report(Protocol.SZY206, f"330102-{2000 + i}", i))
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


# --- (b), (c) the whole path, with a real Mosquitto and the real cloud ingest ----------------------


def _cloud_config(tmp: Path, broker_port: int) -> Path:
    path = tmp / "cloud.yaml"
    path.write_text(yaml.safe_dump({
        "data_dir": "cloud-data", "mqtt": {"host": "127.0.0.1", "port": broker_port, "client_id": "ingest-rtu-test"},
        "gateways": [{"id": f"rtu-t.{protocol}", "key_id": "rtu-t-k1", "public_key": "keys/rtu-t.pub.pem",
                      "stations": [station]} for protocol, station in (("szy206", "ST-SZY"), ("sl651", "ST-SL"))],
    }, sort_keys=False))
    return path


def _sim(tmp: Path, protocol: str, address: str, port: int, count: int, interval: float, seed: int) -> Child:
    return Child.watertel(f"sim-{protocol}", ["sim", "rtu", "--protocol", protocol, "--connect", f"127.0.0.1:{port}",
                                              "--address", address, "--interval", str(interval), "--count", str(count),
                                              "--seed", str(seed), "--keepalive", "0.5",
                                              "--sent-log", str(tmp / "sent.jsonl")], tmp / "logs")


def _sent(tmp: Path) -> dict[tuple[str, str, int], float]:
    """What the simulated RTUs had acknowledged: (station, point, t_ms) → value."""
    station = {"szy206": "ST-SZY", "sl651": "ST-SL"}
    out = {}
    for line in (tmp / "sent.jsonl").read_text().splitlines():
        rec = json.loads(line)
        for key, value in rec["values"].items():
            out[(station[rec["protocol"]], POINT_OF[rec["protocol"]][key], rec["t_ms"])] = value
    return out


def _stored(cloud_cfg: Path) -> list:
    from watertel.cloud.config import load_cloud_config
    from watertel.cloud.store import open_store

    cfg = load_cloud_config(cloud_cfg)
    store = open_store(cfg.store, cfg.data_dir)
    try:
        return store.readings(), store._rows("SELECT DISTINCT station, gateway_id FROM readings")
    finally:
        store.close()


def _wait_subscribed(ingest: Child) -> None:
    """A new ingest session gets only what is published after it subscribed."""
    wait_until(lambda: "ingest subscribed" in ingest.log_path.read_text(), "the cloud ingest's subscription", ingest)


def _wait_stored(cloud_cfg: Path, n: int, child: Child, timeout: float = 30) -> list:
    wait_until(lambda: (cloud_cfg.parent / "cloud-data" / "watertel.db").exists() and len(_stored(cloud_cfg)[0]) >= n,
               f"{n} readings in the cloud store", child, timeout)
    return _stored(cloud_cfg)


def _same(stored: list, sent: dict) -> None:
    got = {(r.station, r.point, r.t_ms): r.value for r in stored}
    assert len(got) == len(stored)  # one row per station, point and sample time
    assert got.keys() == sent.keys()
    for key, value in sent.items():
        assert math.isclose(got[key], value, abs_tol=1e-9), (key, got[key], value)


@pytest.mark.server
@pytest.mark.timeout(90)
def test_rtus_of_both_protocols_to_the_cloud_store_exactly_once(mosquitto, tmp_path):
    """(b) Two simulated RTUs (one per protocol) → rtu-gateway → Mosquitto → cloud ingest →
    SQLite: every acknowledged reading stored once, with its station, point, value and sample time."""
    port, count = free_port(), 12
    rtu_cfg = _write_config(tmp_path, mosquitto, listen=f"127.0.0.1:{port}")
    cloud_cfg = _cloud_config(tmp_path, mosquitto)
    logs = tmp_path / "logs"
    ingest = Child.watertel("ingest", ["cloud", "ingest", "--config", str(cloud_cfg)], logs)
    gateway = Child.watertel("rtu-gateway", ["rtu-gateway", "--config", str(rtu_cfg)], logs)
    sims = []
    try:
        wait_until(lambda: port_open(port), "the rtu-gateway's port", gateway)
        _wait_subscribed(ingest)
        sims = [_sim(tmp_path, "szy206", SZY, port, count, 0.05, 1), _sim(tmp_path, "sl651", SL, port, count, 0.05, 2)]
        for sim in sims:
            assert sim.proc.wait(30) == 0, sim.log_tail()
        sent = _sent(tmp_path)
        assert len(sent) == count * (2 + 3)
        stored, sources = _wait_stored(cloud_cfg, len(sent), ingest)
        _same(stored, sent)
        assert sorted(sources) == [("ST-SL", "rtu-t.sl651"), ("ST-SZY", "rtu-t.szy206")]  # the source protocol
        assert any(v < 0 for (st, p, _), v in sent.items() if p == "flow" and st == "ST-SZY")  # the sign bit made it
        assert gateway.stop() == 0, gateway.log_tail()
    finally:
        for child in (*sims, gateway, ingest):
            child.stop()


@pytest.mark.server
@pytest.mark.timeout(90)
def test_kill_9_after_acknowledging_loses_nothing(mosquitto, tmp_path):
    """(c) The rtu-gateway acknowledges reports while its broker is unreachable (so nothing was
    uploaded), is killed with SIGKILL, and restarts with the broker: every acknowledged reading is
    stored, and the RTU re-sends what was in flight at the kill."""
    port, count = free_port(), 40
    rtu_cfg = _write_config(tmp_path, free_port(), listen=f"127.0.0.1:{port}")  # nobody listens on that broker port
    cloud_cfg = _cloud_config(tmp_path, mosquitto)
    logs = tmp_path / "logs"
    ingest = Child.watertel("ingest", ["cloud", "ingest", "--config", str(cloud_cfg)], logs)
    gateway = Child.watertel("rtu-gateway-1", ["rtu-gateway", "--config", str(rtu_cfg)], logs)
    sim = None
    try:
        wait_until(lambda: port_open(port), "the rtu-gateway's port", gateway)
        _wait_subscribed(ingest)
        sim = _sim(tmp_path, "sl651", SL, port, count, 0.1, 3)
        acked = lambda: len((tmp_path / "sent.jsonl").read_text().splitlines()) if (tmp_path / "sent.jsonl").exists() else 0
        wait_until(lambda: acked() >= 10, "10 acknowledged reports", sim)
        gateway.proc.kill()
        gateway.proc.wait()
        in_buffer = read_all(tmp_path / "rtu-t.sl651.db")
        before_kill = acked()
        assert len({r.t_ms for r in in_buffer}) >= before_kill  # acknowledged means committed
        rtu_cfg = _write_config(tmp_path, mosquitto, listen=f"127.0.0.1:{port}")  # now the broker is reachable
        gateway = Child.watertel("rtu-gateway-2", ["rtu-gateway", "--config", str(rtu_cfg)], logs)
        assert sim.proc.wait(45) == 0, sim.log_tail()
        summary = json.loads(sim.log_path.read_text().strip().splitlines()[-1])
        assert summary["acknowledged"] == count and summary["reconnects"] >= 1, summary
        sent = _sent(tmp_path)
        assert len(sent) == count * 3
        stored, _ = _wait_stored(cloud_cfg, len(sent), ingest)
        _same(stored, sent)
        assert gateway.stop() == 0, gateway.log_tail()
    finally:
        for child in (sim, gateway, ingest):
            if child:
                child.stop()


def test_the_gateway_imports_no_modbus_stack():
    """The rtu-gateway runs beside the cloud, without the edge agent's Modbus dependencies."""
    code = ("import sys; from watertel.shell.cli import build_parser, handler;"
            "handler(build_parser().parse_args(['rtu-gateway', '--config', 'rtu.yaml']).handler);"
            "assert not {'pymodbus', 'serial'} & set(sys.modules), sorted(sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


@pytest.mark.server
@pytest.mark.timeout(120)
def test_two_hundred_rtus_at_once_are_stored_exactly_once(mosquitto, tmp_path):
    """Hundreds of RTUs connected at once, through the gateway process, Mosquitto and the cloud
    ingest: every station's report is stored once, none twice, none missing."""
    n, port = 200, free_port()
    stations = [{"protocol": "szy206", "address": f"330102-{3000 + i}", "station": f"ST-{i:03d}",
                 "points": SZY_POINTS} for i in range(n)]
    rtu_cfg = _write_config(tmp_path, mosquitto, listen=f"127.0.0.1:{port}", extra=stations)
    cloud_cfg = _cloud_config(tmp_path, mosquitto)
    doc = yaml.safe_load(cloud_cfg.read_text())
    doc["gateways"][0]["stations"] += [s["station"] for s in stations]
    cloud_cfg.write_text(yaml.safe_dump(doc, sort_keys=False))
    logs = tmp_path / "logs"
    ingest = Child.watertel("ingest", ["cloud", "ingest", "--config", str(cloud_cfg)], logs)
    gateway = Child.watertel("rtu-gateway", ["rtu-gateway", "--config", str(rtu_cfg)], logs)

    async def rtu(i: int, all_open: asyncio.Event, opened: list) -> None:
        c = await Client.connect(port)
        opened.append(i)
        if len(opened) == n:
            all_open.set()
        await all_open.wait()  # all 200 connected before any reports
        await c.send(_report(Protocol.SZY206, f"330102-{3000 + i}", i))
        assert isinstance((await c.frames(timeout=30))[0].message, szy206.Confirm)
        c.writer.close()

    async def main() -> None:
        all_open, opened = asyncio.Event(), []
        await asyncio.wait_for(asyncio.gather(*(rtu(i, all_open, opened) for i in range(n))), 60)

    try:
        wait_until(lambda: port_open(port), "the rtu-gateway's port", gateway)
        _wait_subscribed(ingest)
        asyncio.run(main())
        stored, sources = _wait_stored(cloud_cfg, 2 * n, ingest, timeout=60)
        keys = [(r.station, r.point, r.t_ms) for r in stored]
        assert len(keys) == len(set(keys)) == 2 * n
        assert {r.station for r in stored} == {s["station"] for s in stations}
        assert {g for _, g in sources} == {"rtu-t.szy206"}
    finally:
        for child in (gateway, ingest):
            child.stop()

"""The upward forwarder: readings in an edge buffer → `watertel forward` → a simulated regulator
platform (simulators/platform.py), in SZY 206 and SL 651: every reading received once with its
value; the platform down then up; a kill -9 mid-stream (duplicates only as whole re-sent
frames); a platform that refuses or never answers (retried with back-off); the config's errors;
and split / multi-packet messages joined by the platform and the rtu-gateway."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from watertel.edge_agent.buffer import Buffer
from watertel.edge_agent.forward.config import load_forward_config
from watertel.edge_agent.forward.service import Forwarder
from watertel.simulators.platform import Platform
from watertel.config import ConfigError
from watertel.ports import free_port, port_open
from watertel.shell.processes import Child, wait_until
from watertel.protocols import Protocol, sl651, szy206
from watertel.readings import Quality, Reading

SZY, SL = "330102-1234", "0011223344"
POINTS = {
    "szy206": {"flow": {"element": "flow_1"}, "total": {"element": "volume_1"},
               "p_out": {"element": "pressure_1"}, "alarm": {"element": "alarm_state"}},
    "sl651": {"flow": {"element": "flow"}, "level": {"element": "water_level"},
              "p_out": {"element": "water_pressure_1", "bytes": 4, "decimals": 2},
              "volts": {"element": "supply_voltage"}},
}
ADDRESS = {"szy206": SZY, "sl651": SL}


def _element_point(protocol: str) -> dict[str, str]:
    return {v["element"]: k for k, v in POINTS[protocol].items()}


def _readings(protocol: str, n: int, start_ms: int, first: int = 0) -> list[Reading]:
    """n samples a minute apart of the station's four points; flows go negative now and then."""
    out = []
    for i in range(first, first + n):
        t = start_ms + i * 60_000
        flow = round((-1 if i % 7 == 3 else 1) * (12.345 + i * 0.5), 3)
        values = {"flow": flow, "level": round(10 + i * 0.01, 3)} if protocol == "sl651" else \
            {"flow": flow, "total": 100_000.0 + 17 * i, "alarm": float(i % 3)}
        values["p_out"] = round(250.5 + i, 2)
        if protocol == "sl651":
            values["volts"] = 12.5
        out += [Reading("ST-1", p, t, v, "-") for p, v in values.items()]
    out.append(Reading("ST-1", "unmapped", start_ms, 1.0, "-"))  # not in the config: never sent
    return out


def _fill(path: Path, readings: list[Reading]) -> None:
    buffer = Buffer(path, "gw-1")
    try:
        buffer.add(readings)
    finally:
        buffer.close()


def _start_ms(n: int) -> int:
    """n minutes ago, on a whole minute (so a day's SZY time labels resolve to these days)."""
    return (int(time.time()) // 60 - n - 1) * 60_000


def _config(tmp: Path, protocol: str, port: int, name: str = "forward.yaml", **platform) -> Path:
    cfg = {"source": {"buffer": "gw-1.db"}, "state": f"forward-{protocol}.db",
           "platform": {"protocol": protocol, "connect": f"127.0.0.1:{port}", "ack_timeout_s": 2,
                        "retry_first_s": 0.1, "retry_max_s": 0.5, "keepalive_s": 5, **platform},
           "poll_s": 0.05, "settle_s": 0.5,
           "stations": [{"station": "ST-1", "address": ADDRESS[protocol], "points": POINTS[protocol]}]}
    path = tmp / name
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _received(protocol: str, reports: list[dict], acknowledged_only: bool = True) -> Counter:
    """(point, t_ms, value) of every value the platform took, counted."""
    point_of = _element_point(protocol)
    got: Counter = Counter()
    for rec in reports:
        if acknowledged_only and not rec["acknowledged"]:
            continue
        for key, value in rec["values"].items():
            if key == "alarm_state" and "flow_1" not in rec["values"]:
                continue  # the alarm word rides in every SZY report: counted with the flow/volume one
            if key in point_of:
                got[(point_of[key], rec["t_ms"], value)] += 1
            elif key != "terminal_state" and key != "alarm_state":
                raise AssertionError(f"unexpected value {key} in {rec}")
    return got


def _expected(readings: list[Reading]) -> Counter:
    return Counter((r.point, r.t_ms, r.value) for r in readings if r.point != "unmapped")


def _assert_once(protocol: str, reports: list[dict], readings: list[Reading]) -> None:
    got, want = _received(protocol, reports), _expected(readings)
    assert set(got) == set(want), (sorted(set(want) - set(got))[:5], sorted(set(got) - set(want))[:5])
    assert all(n == 1 for n in got.values()), [k for k, n in got.items() if n > 1][:5]


async def _until(check, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def _forwarding(cfg_path: Path):
    forwarder = Forwarder(load_forward_config(cfg_path))
    stop = asyncio.Event()
    return forwarder, stop, asyncio.create_task(forwarder.run(stop))


# --- exactly once, both protocols -----------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["szy206", "sl651"])
def test_every_reading_reaches_the_platform_once_with_its_value(tmp_path, protocol):
    n = 40
    readings = _readings(protocol, n, _start_ms(n))
    _fill(tmp_path / "gw-1.db", readings)

    async def main() -> tuple[list[dict], dict]:
        platform = Platform(protocol=Protocol(protocol))
        port = await platform.start()
        forwarder, stop, task = await _forwarding(_config(tmp_path, protocol, port))
        try:
            more = _readings(protocol, 5, _start_ms(n), first=n)[:-1]  # arriving while it runs
            _fill(tmp_path / "gw-1.db", more)
            readings.extend(more)
            await _until(lambda: len(platform.reports) >= (n + 5) * (2 if protocol == "szy206" else 1), "all reports")
            await asyncio.sleep(0.2)
            return platform.reports, forwarder.outbox.stats()
        finally:
            stop.set()
            await task
            await platform.close()

    reports, stats = asyncio.run(main())
    _assert_once(protocol, reports, readings)
    assert stats["frames_waiting"] == 0 and stats["pending"] == 0 and stats["not_mapped"] == 1, stats
    assert any(v < 0 for (p, _, v) in _received(protocol, reports) if p == "flow")  # the sign made it
    if protocol == "szy206":  # flow/volume (type 3) and pressure (type 15) reports, the alarm word in both
        assert all(rec["values"]["alarm_state"] in (0, 1, 2) for rec in reports)
    assert all(len(rec["frames"]) == 1 for rec in reports)


# --- platform down, then up -----------------------------------------------------------------------


def test_platform_down_then_up_loses_nothing(tmp_path):
    protocol, n = "sl651", 20
    readings = _readings(protocol, n, _start_ms(n))
    _fill(tmp_path / "gw-1.db", readings)
    port = free_port()

    async def main() -> tuple[list[dict], Counter]:
        forwarder, stop, task = await _forwarding(_config(tmp_path, protocol, port))
        platform = Platform(port=port)
        try:
            await _until(lambda: forwarder.stats["failures"] >= 3, "three failed connection attempts")
            assert forwarder.outbox.stats()["frames_waiting"] == n  # built and kept while nobody listens
            await platform.start()
            await _until(lambda: len(platform.reports) >= n, "the backlog delivered")
            await platform.close()  # down again mid-run: the rest waits
            more = _readings(protocol, 10, _start_ms(n), first=n)[:-1]
            _fill(tmp_path / "gw-1.db", more)
            readings.extend(more)
            await asyncio.sleep(0.5)
            platform.server = None
            await platform.start()
            await _until(lambda: len(platform.reports) >= n + 10, "the rest delivered")
            return platform.reports, forwarder.stats
        finally:
            stop.set()
            await task
            await platform.close()

    reports, stats = asyncio.run(main())
    _assert_once(protocol, reports, readings)
    assert stats["failures"] >= 4


# --- kill -9 mid-stream ---------------------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("protocol", ["szy206", "sl651"])
def test_kill_9_mid_stream_loses_nothing_and_repeats_only_whole_frames(tmp_path, protocol):
    n = 60
    readings = _readings(protocol, n, _start_ms(n))
    _fill(tmp_path / "gw-1.db", readings)
    port, record, logs = free_port(), tmp_path / "platform.jsonl", tmp_path / "logs"
    cfg = _config(tmp_path, protocol, port)
    platform = Child.watertel("platform", ["sim", "platform", "--listen", f"127.0.0.1:{port}", "--protocol", protocol,
                                           "--record", str(record), "--ack-delay", "0.03"], logs)
    forwarder = None
    lines = lambda: len(record.read_text().splitlines()) if record.exists() else 0
    frames_per_sample = 2 if protocol == "szy206" else 1
    try:
        wait_until(lambda: port_open(port), "the platform's port", platform)
        forwarder = Child.watertel("forward-1", ["forward", "--config", str(cfg)], logs)
        wait_until(lambda: lines() >= 20, "20 reports", forwarder)
        forwarder.proc.kill()
        forwarder.proc.wait()
        at_kill = lines()
        assert at_kill < n * frames_per_sample  # mid-stream
        forwarder = Child.watertel("forward-2", ["forward", "--config", str(cfg)], logs)
        reports = lambda: [json.loads(line) for line in record.read_text().splitlines()]
        wait_until(lambda: set(_received(protocol, reports())) >= set(_expected(readings)), "every reading",
                   forwarder, 40)
        assert forwarder.stop() == 0, forwarder.log_tail()
    finally:
        for child in (forwarder, platform):
            if child:
                child.stop()
    got = reports()
    _assert_once_or_resent(protocol, got, readings)


def _assert_once_or_resent(protocol: str, reports: list[dict], readings: list[Reading]) -> None:
    """Every reading arrived; a report that arrived twice is the same frame, byte for byte."""
    got = _received(protocol, reports)
    assert set(got) == set(_expected(readings))
    by_time: dict[tuple, set] = {}
    for rec in reports:
        by_time.setdefault((rec["address"], rec["t_ms"], tuple(sorted(rec["values"]))), set()).add(tuple(rec["frames"]))
    assert all(len(frames) == 1 for frames in by_time.values()), [k for k, f in by_time.items() if len(f) > 1]
    repeated = sum(n - 1 for n in got.values())
    assert repeated <= 4 * 2, repeated  # at most the frame in flight at the kill (its values) came twice


# --- refused / never acknowledged: back-off -------------------------------------------------------


@pytest.mark.parametrize("protocol, answer", [("sl651", "nak"), ("szy206", "silent")])
def test_a_refusing_or_silent_platform_gets_the_frame_again_with_back_off(tmp_path, protocol, answer):
    n = 5
    readings = _readings(protocol, n, _start_ms(n))
    _fill(tmp_path / "gw-1.db", readings)

    async def main() -> list[dict]:
        platform = Platform(answer=answer)
        port = await platform.start()
        forwarder, stop, task = await _forwarding(_config(tmp_path, protocol, port, ack_timeout_s=0.2,
                                                          retry_first_s=0.1, retry_max_s=0.8))
        try:
            await _until(lambda: len(platform.reports) >= 5, "five attempts", 10)
            assert forwarder.outbox.stats().get("forwarded_frames", 0) == 0
            platform.answer = "ack"
            await _until(lambda: forwarder.outbox.stats()["frames_waiting"] == 0, "the frames acknowledged")
            return platform.reports
        finally:
            stop.set()
            await task
            await platform.close()

    reports = asyncio.run(main())
    refused = [r for r in reports if not r["acknowledged"]]
    assert len({tuple(r["frames"]) for r in refused}) == 1  # the same frame, again and again
    gaps = [(b["received_ms"] - a["received_ms"]) / 1000 for a, b in zip(refused, refused[1:])]
    assert gaps[0] >= 0.08 and gaps[-1] >= gaps[0] + 0.2, gaps  # the back-off grows
    _assert_once(protocol, reports, readings)


# --- config ---------------------------------------------------------------------------------------


def test_config_errors_name_file_line_key_and_fix(tmp_path):
    path = _config(tmp_path, "szy206", 9206)
    cfg = yaml.safe_load(path.read_text())
    cfg["stations"][0]["points"] = {"flow": {"element": "flow_1"}, "ph": {"element": "ph", "decimals": 2},
                                    "x": {"element": "level"}}
    cfg["stations"].append({"station": "ST-1", "address": "33-1", "points": {"p": {"element": "pressure_2"}}})
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    with pytest.raises(ConfigError) as err:
        load_forward_config(path)
    text = "\n".join(err.value.problems)
    assert "flow_N and volume_N come in pairs" in text and "(map both of each pair)" in text
    assert "stations.0.points.ph: bytes and decimals are for SL 651 elements" in text
    assert "stations.0.points.x.element: 'level' is not a SZY 206 value" in text
    assert "stations.1.station: station ST-1 is also stations.0" in text
    assert "stations.1.address: a SZY 206 address" in text and "got '33-1' (write it like 330102-1234)" in text
    assert "pressure_N must be numbered from 1" in text
    for line in err.value.problems:
        assert line.startswith(f"{path}:") and line.split(":")[1].isdigit(), line
    path = _config(tmp_path, "sl651", 5005)
    cfg = yaml.safe_load(path.read_text())
    cfg["stations"][0]["points"]["p_out"] = {"element": "water_pressure_1"}
    cfg["platform"]["password"] = "12345"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    with pytest.raises(ConfigError, match=r"forward.yaml:\d+: platform.password: .*\(match the pattern"):
        load_forward_config(path)
    cfg["platform"]["password"] = "1234"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    with pytest.raises(ConfigError, match=r"stations.0.points.p_out: element water_pressure_1 has no default size "
                                          r"\(give bytes and decimals"):
        load_forward_config(path)


def test_the_shipped_example_config_loads():
    cfg = load_forward_config(Path(__file__).parent.parent / "deploy" / "forward.example.yaml")
    assert cfg.platform.protocol == Protocol.SZY206 and cfg.stations[0].points["total"].element == "volume_1"


def test_a_state_file_is_kept_to_its_protocol(tmp_path):
    from watertel.edge_agent.forward.outbox import Outbox

    Outbox(tmp_path / "s.db", "szy206").close()
    with pytest.raises(ValueError, match="holds szy206 frames, not sl651"):
        Outbox(tmp_path / "s.db", "sl651")


def test_values_the_protocol_cannot_carry_are_counted_not_sent(tmp_path):
    """SZY 206 has no 'invalid': a NaN flow holds back its flow/volume report; SL 651 sends AAH."""
    start = _start_ms(3)
    _fill(tmp_path / "gw-1.db", [
        Reading("ST-1", "flow", start, math.nan, "-", Quality.SENSOR_FAULT), Reading("ST-1", "total", start, 5.0, "-"),
        Reading("ST-1", "p_out", start, 1.5, "-")])
    forwarder = Forwarder(load_forward_config(_config(tmp_path, "szy206", 1)))
    try:
        assert forwarder.pull() == 1  # the pressure report only
        assert forwarder.outbox.stats()["unreportable"] == 2
    finally:
        forwarder.outbox.close()
    (tmp_path / "gw-1.db").unlink()
    _fill(tmp_path / "gw-1.db", [Reading("ST-1", "level", start, math.nan, "-", Quality.SENSOR_FAULT),
                                 Reading("ST-1", "flow", start, 1.25, "-")])
    forwarder = Forwarder(load_forward_config(_config(tmp_path, "sl651", 1)))
    try:
        assert forwarder.pull(now_ms=int(time.time() * 1000)) == 1
        frame = sl651.decode(forwarder.outbox.next_frame().data)
        assert [(e.ident, e.value) for e in frame.message.elements] == [(0x27, sl651.Decimal("1.250")), (0x39, None)]
    finally:
        forwarder.outbox.close()


def test_cursor_survives_pruning_a_buffer_that_starts_again_and_start_newest(tmp_path):
    import sqlite3

    buffer_path, start = tmp_path / "gw-1.db", _start_ms(20)
    _fill(buffer_path, _readings("sl651", 3, start)[:-1])
    forwarder = Forwarder(load_forward_config(_config(tmp_path, "sl651", 1)))
    try:
        assert forwarder.pull() == 3
        with sqlite3.connect(buffer_path) as db:  # the buffer emptied (all sent, size limit): ids start again
            db.execute("DELETE FROM readings")
        _fill(buffer_path, _readings("sl651", 2, start, first=3)[:-1])
        assert forwarder.pull() == 2
        _fill(buffer_path, _readings("sl651", 3, start, first=5)[:-1])
        with sqlite3.connect(buffer_path) as db:  # pruned before the forwarder took them
            db.execute("DELETE FROM readings WHERE id IN (SELECT id FROM readings ORDER BY id DESC LIMIT 4 OFFSET 8)")
        assert forwarder.pull() == 2
        stats = forwarder.outbox.stats()
        assert stats["pruned_unforwarded"] == 4 and stats["frames_waiting"] == 7, stats
    finally:
        forwarder.outbox.close()
        forwarder.source.close()
    path = _config(tmp_path, "sl651", 1, name="newest.yaml")
    cfg = yaml.safe_load(path.read_text())
    cfg["state"], cfg["source"]["start"] = "newest.db", "newest"
    path.write_text(yaml.safe_dump(cfg))
    forwarder = Forwarder(load_forward_config(path))
    try:
        assert forwarder.pull() == 0  # the first run starts after what the buffer holds
        _fill(buffer_path, _readings("sl651", 1, start, first=8)[:-1])
        assert forwarder.pull() == 1
    finally:
        forwarder.outbox.close()
        forwarder.source.close()


# --- split / multi-packet messages into the platform and the rtu-gateway ----------------------------


def _sl_report() -> sl651.Frame:
    from watertel.simulators.field_rtu import FieldRtu

    return sl651.decode(FieldRtu(Protocol.SL651, "127.0.0.1", 1, SL, count=3, seed=1).make_report(1).frame)


def _szy_report() -> szy206.Frame:
    from watertel.simulators.field_rtu import FieldRtu

    return szy206.decode(FieldRtu(Protocol.SZY206, "127.0.0.1", 1, SZY, count=3, seed=1).make_report(1).frame)


async def _exchange(port: int, frames: list[bytes], answers: int) -> list:
    from watertel.protocols.framing import StreamFramer

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for frame in frames:
            writer.write(frame)
        await writer.drain()
        got, framer = [], StreamFramer()
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            try:
                data = await asyncio.wait_for(reader.read(4096), deadline - time.monotonic())
            except TimeoutError:
                break
            got += [(szy206 if p == Protocol.SZY206 else sl651).decode(raw) for p, raw in framer.feed(data)]
        assert len(got) == answers, got
        return got
    finally:
        writer.close()


def test_platform_joins_split_and_multi_packet_reports_and_answers_once():
    from watertel.protocols.multipart import split_sl, split_szy

    sl, szy = _sl_report(), _szy_report()

    async def main() -> list[dict]:
        platform = Platform()
        port = await platform.start()
        try:
            (answer,) = await _exchange(port, [sl651.encode(p) for p in split_sl(sl, 9)], 1)
            assert answer.end == sl651.End.ESC and answer.message.serial == sl.message.serial
            (answer,) = await _exchange(port, [szy206.encode(p) for p in split_szy(szy, 4)], 1)
            assert isinstance(answer.message, szy206.Confirm)
            return platform.reports
        finally:
            await platform.close()

    sl_rec, szy_rec = asyncio.run(main())
    assert len(sl_rec["frames"]) > 3 and sl_rec["values"]["water_level"] == float(sl.message.elements[1].value)
    assert len(szy_rec["frames"]) > 3 and szy_rec["values"]["flow_1"] == float(szy.message.payload.points[0].flow)


def test_rtu_gateway_joins_split_and_multi_packet_reports(tmp_path):
    """The rtu-gateway's server stores a joined message's readings once and answers once."""
    from watertel.edge_agent.rtu_gateway.config import RtuGatewayConfig
    from watertel.edge_agent.rtu_gateway.server import RtuServer
    from watertel.protocols.multipart import split_sl, split_szy

    cfg = RtuGatewayConfig.model_validate({
        "gateway_id": "rtu-t", "key": {"private_key": "k.pem", "key_id": "k"},
        "uplink": {"brokers": ["mqtt://127.0.0.1:1"]}, "buffer": {"path": str(tmp_path / "b.db")},
        "stations": [{"protocol": "szy206", "address": SZY, "station": "ST-SZY",
                      "points": {"flow_1": {"point": "flow", "unit": "m3/h"}}},
                     {"protocol": "sl651", "address": SL, "station": "ST-SL",
                      "points": {"water_level": {"point": "level", "unit": "m"}}}]})
    recorded: list = []

    class Gateway:
        async def record(self, readings) -> None:
            recorded.extend(readings)

    sl, szy = _sl_report(), _szy_report()

    async def main() -> dict:
        server = RtuServer(cfg, {Protocol.SZY206: Gateway(), Protocol.SL651: Gateway()})
        port = await server.start("127.0.0.1", 0)
        try:
            await _exchange(port, [sl651.encode(p) for p in split_sl(sl, 11)], 1)
            await _exchange(port, [szy206.encode(p) for p in split_szy(szy, 6)], 1)
            parts = [sl651.encode(p) for p in split_sl(sl, 11)]
            await _exchange(port, [parts[0], parts[2]], 0)  # a packet missing: refused, not acknowledged
            return dict(server.stats)
        finally:
            await server.close()

    stats = asyncio.run(main())
    assert [(r.station, r.point) for r in recorded] == [("ST-SL", "level"), ("ST-SZY", "flow")]
    assert stats["joined"] == 2 and stats["reports"] == 2 and stats["bad_frames"] == 1, stats

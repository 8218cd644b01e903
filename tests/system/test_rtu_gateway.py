"""The rtu-gateway: stream framing, replies and refusals, hundreds of long connections, and the
whole path from simulated SZY 206 / SL 651 RTUs through a real Mosquitto into the cloud store,
including a kill -9 between acknowledging reports and uploading them.

This file holds the kill -9 and whole-system tests; the others are in
tests/unit/edge_agent/rtu_gateway/test_rtu_gateway.py and
tests/integration/edge_agent/rtu_gateway/test_rtu_gateway.py."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import pytest
import yaml

from watertel.edge_agent.buffer import read_all
from watertel.ports import free_port, port_open
from watertel.shell.processes import Child, wait_until
from watertel.protocols import Protocol, szy206

from tests.support.rtu import POINT_OF, SL, SL_PASSWORD, SZY, SZY_POINTS, Client, rtu_report, write_rtu_config


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
                                              "--seed", str(seed), "--keepalive", "0.5", "--password", SL_PASSWORD,
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
    rtu_cfg = write_rtu_config(tmp_path, mosquitto, listen=f"127.0.0.1:{port}")
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
    rtu_cfg = write_rtu_config(tmp_path, free_port(), listen=f"127.0.0.1:{port}")  # nobody listens on that broker port
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
        rtu_cfg = write_rtu_config(tmp_path, mosquitto, listen=f"127.0.0.1:{port}")  # now the broker is reachable
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


@pytest.mark.server
@pytest.mark.timeout(120)
def test_two_hundred_rtus_at_once_are_stored_exactly_once(mosquitto, tmp_path):
    """Hundreds of RTUs connected at once, through the gateway process, Mosquitto and the cloud
    ingest: every station's report is stored once, none twice, none missing."""
    n, port = 200, free_port()
    stations = [{"protocol": "szy206", "address": f"330102-{3000 + i}", "station": f"ST-{i:03d}",
                 "points": SZY_POINTS} for i in range(n)]
    rtu_cfg = write_rtu_config(tmp_path, mosquitto, listen=f"127.0.0.1:{port}", extra=stations,
                               max_connections_per_address=n)  # all behind one address, as behind a carrier's NAT
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
        await c.send(rtu_report(Protocol.SZY206, f"330102-{3000 + i}", i))
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

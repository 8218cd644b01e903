"""A real agent whose buffer fills while the broker is away: it drops the oldest unsent readings
within its size limit, keeps polling, and once the broker is back the cloud raises a buffer_full
device alarm from the agent's status message (real Mosquitto, simulators, `edge run`, `cloud ingest`)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from watertel.shell.demo import Demo
from watertel.ports import port_open
from watertel.shell.processes import Child, wait_until


def buffer_status(demo: Demo) -> dict:
    path = demo.dir / "gw-1-buffer.status.json"
    try:
        return json.loads(path.read_text())["buffer"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return {}


def open_alarms(db: Path) -> list[tuple[str, str]]:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT type, station FROM alarms WHERE state != 'closed' AND type = 'buffer_full'").fetchall()
    except sqlite3.OperationalError:
        return []


@pytest.mark.server
@pytest.mark.timeout(240)
def test_a_full_buffer_drops_within_its_limit_and_raises_a_cloud_alarm(mosquitto_server, tmp_path):
    mosquitto_server.stop()  # away from the start: nothing drains
    demo = Demo(tmp_path / "demo", mosquitto_server.url)
    demo.prepare()
    edge_yaml = demo.dir / "edge-gw-1.yaml"
    edge = yaml.safe_load(edge_yaml.read_text())
    edge["buffer"].update(max_mb=1, when_full="drop_oldest", full_clear_after_s=600)
    edge["batching"] = {"max_readings": 100, "max_latency_s": 0.5}
    for bus in edge["buses"]:
        for device in bus["devices"]:
            device["poll_interval_s"] = 0.02
    edge_yaml.write_text(yaml.safe_dump(edge))
    cloud_db = demo.dir / "cloud-data" / "watertel.db"
    sim = Child.watertel("sim", ["sim", "run", "--config", str(demo.dir / "sim.yaml")], demo.logs)
    agent = ingest = None
    try:
        wait_until(lambda: port_open(demo.tcp_ports["fm-1"]) and port_open(demo.tcp_ports["pump-1"]), "simulators", sim)
        agent = Child.watertel("edge", ["edge", "run", "--config", str(edge_yaml)], demo.logs)
        wait_until(lambda: buffer_status(demo).get("dropped", 0) > 0, "the buffer full and dropping", agent, timeout=150)
        polled_when_full = buffer_status(demo)["polled"]
        assert (demo.dir / "gw-1-buffer.db").stat().st_size <= 1.5 * 2**20  # within its limit (+ WAL slack)
        mosquitto_server.start()
        ingest = Child.watertel("ingest", ["cloud", "ingest", "--config", str(demo.dir / "cloud.yaml")], demo.logs)
        wait_until(lambda: open_alarms(cloud_db) == [("buffer_full", "gw-1")], "the buffer_full alarm in the cloud",
                   ingest, timeout=60)
        wait_until(lambda: buffer_status(demo)["polled"] > polled_when_full, "polling going on", agent)
        assert "buffer_full raised" in (demo.logs / "edge.log").read_text()
    finally:
        for child in (agent, ingest, sim):
            if child:
                child.stop()

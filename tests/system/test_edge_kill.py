"""kill -9 of an edge agent at random moments, 20 times, while it polls and publishes to a real
Mosquitto: every reading its buffer recorded as polled reaches a subscriber, and a duplicate is
only ever a whole envelope sent again with the same sequence number and the same bytes."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from collections import Counter

import paho.mqtt.client as mqtt
import pytest

from watertel.edge_agent.buffer import Buffer, read_all
from watertel.crypto import SM2PublicKey
from watertel.shell.demo import Demo
from watertel.envelope import open_envelope
from watertel.ports import port_open
from watertel.shell.processes import Child, wait_until

KILLS = 20


class Subscriber:
    """Everything published on the gateway's topic, in arrival order (a session that never drops)."""

    def __init__(self, port: int, topic: str) -> None:
        self.payloads: list[bytes] = []
        self.ready = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="kill-test-subscriber")
        self.client.on_connect = lambda c, u, f, rc, p: (c.subscribe(topic, qos=1), self.ready.set())
        self.client.on_message = lambda c, u, msg: self.payloads.append(msg.payload)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.ready.wait(10), "subscriber could not connect"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _status(demo: Demo) -> dict:
    """What `watertel edge status --json` says (exit 0 only while the agent runs with its uplink up)."""
    done = subprocess.run([sys.executable, "-m", "watertel", "edge", "status", "--json", "--config",
                           str(demo.dir / "edge-gw-1.yaml")], capture_output=True, text=True, timeout=30)
    status = json.loads(done.stdout) if done.stdout else {"running": False, "uplink": {"last_ack_ms": None, "connected": False}}
    assert done.returncode == (1 if not status["running"] else 0 if status["uplink"]["connected"] else 2), done.stderr
    return status


@pytest.mark.server
@pytest.mark.timeout(300)
def test_kill_9_twenty_times_loses_no_polled_reading(mosquitto, tmp_path):
    demo = Demo(tmp_path / "demo", f"mqtt://127.0.0.1:{mosquitto}")
    demo.prepare()
    logs, edge_args = demo.logs, ["edge", "run", "--config", str(demo.dir / "edge-gw-1.yaml")]
    sim = Child.watertel("sim", ["sim", "run", "--config", str(demo.dir / "sim.yaml")], logs)
    subscriber = Subscriber(mosquitto, "watertel/gw-1/up")
    rng = random.Random(20261122)
    try:
        for port in (demo.tcp_ports["fm-1"], demo.tcp_ports["pump-1"]):
            wait_until(lambda: port_open(port), "simulated devices", sim)
        for _ in range(KILLS):
            edge = Child.watertel("edge-gw-1", edge_args, logs)
            time.sleep(rng.uniform(0.5, 3.5))  # start-up, polling, sealing, publishing: anywhere
            edge.proc.kill()
            edge.proc.wait()
        buffer = demo.dir / "gw-1-buffer.db"
        before = len(read_all(buffer))
        edge = Child.watertel("edge-gw-1", edge_args, logs)  # the last run drains what is left
        wait_until(lambda: len(read_all(buffer)) > before + 20, "polling after the kills", edge, timeout=30)
        wait_until(lambda: _status(demo)["uplink"]["last_ack_ms"], "a status file with an acknowledgement", edge, 15)
        status = _status(demo)
        assert status["running"] and status["uplink"]["connected"] and status["pid"] == edge.proc.pid
        assert set(status["devices"]) == {"fm-1", "pump-1"}
        assert all(d["last_good_ms"] and not d["circuit_open"] for d in status["devices"].values())
        prom = (demo.dir / "gw-1-buffer.status.prom").read_text()
        assert 'watertel_edge_uplink_connected{gateway="gw-1"} 1' in prom
        assert 'watertel_edge_device_errors_total{gateway="gw-1",device="fm-1"} 0' in prom
        assert edge.stop(timeout=60) == 0, edge.log_tail()
        assert not _status(demo)["running"] and not _status(demo)["uplink"]["connected"]
    finally:
        sim.stop()
        time.sleep(1)  # the last PUBLISH reaches the subscriber
        subscriber.close()

    polled = read_all(buffer)
    public = SM2PublicKey.from_pem((demo.dir / "keys" / "gw-1.pub.pem").read_text())
    first_bytes, delivered = {}, []
    for payload in subscriber.payloads:
        env = open_envelope(payload, lambda g, k: public)
        if env.seq in first_bytes:
            assert first_bytes[env.seq] == payload, f"seq {env.seq} sent twice with different contents"
            continue
        first_bytes[env.seq] = payload
        delivered += env.readings
    buf = Buffer(buffer, "gw-1")
    stats = buf.stats()
    buf.close()
    assert stats["batches_pending"] == 0 and stats["unsealed"] == 0, stats
    assert len(polled) > 100
    as_row = lambda r: (r.station, r.point, r.t_ms, repr(r.value), r.unit, r.quality)  # NaN == NaN here
    assert Counter(map(as_row, delivered)) == Counter(map(as_row, polled)), "each polled reading in exactly one envelope"
    seqs = sorted(first_bytes)
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "no sequence number skipped"

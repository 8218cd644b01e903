"""The gateway's presence on MQTT: a retained birth message when it connects, "offline" as its
last will when it dies (kill -9), "stopped" when it stops cleanly; each signed with its key."""

from __future__ import annotations

import json
import queue
import sqlite3

import paho.mqtt.client as mqtt
import pytest

from watertel.shell.demo import Demo
from watertel.shell.processes import Child, wait_until


def _subscribe(port: int, topic: str) -> tuple[mqtt.Client, queue.Queue]:
    got: queue.Queue = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="presence-test")
    client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
    client.on_message = lambda c, u, msg: got.put((msg.retain, json.loads(msg.payload)))
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client, got


def _offline_alarm(demo: Demo) -> str | None:
    """State of the newest gateway_offline alarm of gw-1 in the cloud store."""
    try:
        with sqlite3.connect(f"file:{demo.dir / 'cloud-data' / 'watertel.db'}?mode=ro", uri=True) as db:
            row = db.execute("SELECT state FROM alarms WHERE type = 'gateway_offline' AND station = 'gw-1'"
                             " ORDER BY id DESC LIMIT 1").fetchone()
    except sqlite3.OperationalError:
        return None
    return row[0] if row else None


@pytest.mark.server
def test_birth_will_and_clean_stop(mosquitto, tmp_path):
    demo = Demo(tmp_path / "demo", f"mqtt://127.0.0.1:{mosquitto}")
    demo.prepare()
    args = ["edge", "run", "--config", str(demo.dir / "edge-gw-1.yaml")]
    client, got = _subscribe(mosquitto, "watertel/gw-1/status")
    cloud = Child.watertel("cloud", ["cloud", "ingest", "--config", str(demo.dir / "cloud.yaml")], demo.logs)
    try:
        wait_until(lambda: "ingest subscribed" in (demo.logs / "cloud.log").read_text(), "the cloud ingest", cloud)
        edge = Child.watertel("edge", args, demo.logs)
        retained, birth = got.get(timeout=20)
        assert birth["state"] == "online" and birth["gateway_id"] == "gw-1" and not retained
        assert birth["profiles"] == ["emf_flow_meter", "pump_vfd"] and len(birth["config_sm3"]) == 64

        assert birth["n"] == 1 and birth["key_id"] == "gw-1-k1" and len(birth["sig"]) > 100

        edge.proc.kill()  # power cut: the broker publishes the will, signed when the connection opened
        edge.proc.wait()
        will = got.get(timeout=20)[1]
        assert (will["state"], will["will"], will["session"], will["n"]) == ("offline", True, birth["session"], 0)
        wait_until(lambda: _offline_alarm(demo) == "raised", "the cloud's gateway_offline alarm", cloud, timeout=20)

        edge = Child.watertel("edge", args, demo.logs)
        again = got.get(timeout=20)[1]
        assert again["state"] == "online" and again["session"] > birth["session"]
        wait_until(lambda: _offline_alarm(demo) == "cleared", "gateway_offline cleared", cloud, timeout=20)
        assert edge.stop() == 0
        stopped = got.get(timeout=20)[1]
        assert (stopped["state"], stopped["session"]) == ("stopped", again["session"]) and stopped["n"] > again["n"]
    finally:
        client.disconnect()
        client.loop_stop()
        cloud.stop()

    late, late_got = _subscribe(mosquitto, "watertel/gw-1/status")  # a newcomer sees the last state
    try:
        retained, last = late_got.get(timeout=10)
        assert retained and last["state"] == "stopped"
    finally:
        late.disconnect()
        late.loop_stop()

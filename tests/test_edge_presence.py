"""The gateway's presence on MQTT: a retained birth message when it connects, "offline" as its
last will when it dies (kill -9) and when it stops cleanly."""

from __future__ import annotations

import json
import queue

import paho.mqtt.client as mqtt
import pytest

from watertel.demo import Demo
from watertel.processes import Child


def _subscribe(port: int, topic: str) -> tuple[mqtt.Client, queue.Queue]:
    got: queue.Queue = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="presence-test")
    client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
    client.on_message = lambda c, u, msg: got.put((msg.retain, json.loads(msg.payload)))
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client, got


@pytest.mark.server
def test_birth_will_and_clean_stop(mosquitto, tmp_path):
    demo = Demo(tmp_path / "demo", f"mqtt://127.0.0.1:{mosquitto}")
    demo.prepare()
    args = ["edge", "run", "--config", str(demo.dir / "edge-gw-1.yaml")]
    client, got = _subscribe(mosquitto, "watertel/gw-1/status")
    try:
        edge = Child.watertel("edge", args, demo.logs)
        retained, birth = got.get(timeout=20)
        assert birth["state"] == "online" and birth["gateway_id"] == "gw-1" and not retained
        assert birth["profiles"] == ["emf_flow_meter", "pump_vfd"] and len(birth["config_sm3"]) == 64

        edge.proc.kill()  # power cut: the broker publishes the will
        edge.proc.wait()
        assert got.get(timeout=20)[1] == {"gateway_id": "gw-1", "state": "offline"}

        edge = Child.watertel("edge", args, demo.logs)
        assert got.get(timeout=20)[1]["state"] == "online"
        assert edge.stop() == 0
        assert got.get(timeout=20)[1] == {"gateway_id": "gw-1", "state": "offline"}
    finally:
        client.disconnect()
        client.loop_stop()

    late, late_got = _subscribe(mosquitto, "watertel/gw-1/status")  # a newcomer sees the last state
    try:
        assert late_got.get(timeout=10) == (True, {"gateway_id": "gw-1", "state": "offline"})
    finally:
        late.disconnect()
        late.loop_stop()

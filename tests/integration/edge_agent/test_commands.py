"""Signed commands from the cloud to a real edge agent through a real Mosquitto: the allowed ones
are done and answered with a signed result; forged, replayed, expired, unknown, unlisted and
out-of-limits ones are refused with the reason, and nothing is written to the device."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt
import pytest
import yaml

from watertel.commands import Answer, command, pack
from watertel.crypto import SM2PrivateKey, SM2PublicKey
from watertel.shell.demo import Demo
from watertel.keys import write_key_pair
from watertel.ports import port_open
from watertel.shell.processes import Child, wait_until


@pytest.fixture
def gateway(mosquitto, tmp_path):
    """The demo's gw-1 (flow meter + pump) taking commands, its simulators, and the cloud config."""
    demo = Demo(tmp_path / "demo", f"mqtt://127.0.0.1:{mosquitto}")
    demo.prepare()
    write_key_pair(demo.dir / "keys", "cloud")
    edge_yaml = demo.dir / "edge-gw-1.yaml"
    edge = yaml.safe_load(edge_yaml.read_text())
    edge["commands"] = {"cloud_public_key": "keys/cloud.pub.pem", "allow": ["read_now", "set_poll_interval", "write_point"],
                        "writable": ["pump-1.speed_setpoint"]}
    edge_yaml.write_text(yaml.safe_dump(edge))
    sim_yaml = demo.dir / "sim.yaml"
    sim_cfg = yaml.safe_load(sim_yaml.read_text())
    pump = next(d for d in sim_cfg["devices"] if d["name"] == "pump-1")
    pump.pop("model", None)  # the demo drives its pump by the site's physics: here a drive held at a setpoint
    pump["signals"] = {"speed_setpoint": {"mean": 40}}  # the drive runs at 40 Hz until told otherwise
    sim_yaml.write_text(yaml.safe_dump(sim_cfg))
    cloud_yaml = demo.dir / "cloud.yaml"
    cloud = yaml.safe_load(cloud_yaml.read_text())
    cloud["command_key"] = "keys/cloud.key.pem"
    cloud_yaml.write_text(yaml.safe_dump(cloud))
    sim = Child.watertel("sim", ["sim", "run", "--config", str(demo.dir / "sim.yaml")], demo.logs)
    agent = None
    try:
        wait_until(lambda: port_open(demo.tcp_ports["pump-1"]), "simulated pump", sim)
        agent = Child.watertel("edge", ["edge", "run", "--config", str(edge_yaml)], demo.logs)
        wait_until(lambda: "uplink connected" in (demo.logs / "edge.log").read_text(), "the agent online", agent)
        time.sleep(0.5)  # its command subscription follows the connection
        yield demo, mosquitto
    finally:
        if agent:
            agent.stop()
        sim.stop()


def cloud_command(demo: Demo, name: str, args: dict) -> tuple[int, dict]:
    done = subprocess.run([sys.executable, "-m", "watertel", "cloud", "command", name, "--gateway", "gw-1", "--args",
                           json.dumps(args), "--timeout", "20", "--config", str(demo.dir / "cloud.yaml")],
                          capture_output=True, text=True, timeout=60)
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


@pytest.mark.server
def test_allowed_commands_are_done_and_answered(gateway):
    demo, _ = gateway
    rc, answer = cloud_command(demo, "read_now", {"device": "fm-1"})
    assert rc == 0 and answer["status"] == "done", answer
    assert {r["point"] for r in answer["result"]["readings"]} == {"flow", "velocity", "total"}
    rc, answer = cloud_command(demo, "set_poll_interval", {"device": "pump-1", "seconds": 5})
    assert rc == 0 and answer["result"] == {"before_s": 1.0, "after_s": 5.0}
    rc, answer = cloud_command(demo, "write_point", {"device": "pump-1", "point": "speed_setpoint", "value": 44})
    assert rc == 0 and answer["result"] == {"before": 40.0, "after": 44.0}, answer
    rc, answer = cloud_command(demo, "write_point", {"device": "pump-1", "point": "speed_setpoint", "value": 50})
    assert rc == 1 and answer["reason"] == "outside_limits" and "largest step" in json.dumps(answer), answer


@pytest.mark.server
@pytest.mark.parametrize("args, reason", [
    ({"device": "pump-1", "point": "speed_setpoint", "value": 70}, "outside_limits"),  # above 50 Hz
    ({"device": "pump-1", "point": "run_command", "value": 1}, "not_writable"),  # not on the gateway's list
    ({"device": "nope", "point": "speed_setpoint", "value": 30}, "unknown_device"),
])
def test_writes_outside_the_rules_are_refused(gateway, args, reason):
    demo, _ = gateway
    rc, answer = cloud_command(demo, "write_point", args)
    assert rc == 1 and answer["status"] == "refused" and answer["reason"] == reason, answer


class Wire:
    """Raw MQTT access to the gateway's command and answer topics (what an attacker could send)."""

    def __init__(self, port: int, gateway_key: SM2PublicKey) -> None:
        self.answers: queue.Queue = queue.Queue()
        subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="wire")
        self.client.on_message = lambda c, u, m: self.answers.put(Answer.unpack(m.payload, gateway_key))
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("watertel/gw-1/result", qos=1)
        self.client.loop_start()
        # the broker's SUBACK, not a pause: an answer published before it would be lost
        assert subscribed.wait(10), "no SUBACK for watertel/gw-1/result within 10 s"

    def send(self, message: bytes) -> Answer:
        self.client.publish("watertel/gw-1/cmd", message, qos=1).wait_for_publish(5)
        return self.answers.get(timeout=20)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.server
def test_forged_replayed_expired_and_unknown_commands_are_refused(gateway):
    demo, port = gateway
    cloud_key = SM2PrivateKey.from_pem((demo.dir / "keys" / "cloud.key.pem").read_text())
    wire = Wire(port, SM2PublicKey.from_pem((demo.dir / "keys" / "gw-1.pub.pem").read_text()))
    read = {"device": "fm-1"}
    try:
        assert wire.send(command("gw-1", "read_now", read, SM2PrivateKey.generate())[1]).reason == "bad_signature"
        _, genuine = command("gw-1", "read_now", read, cloud_key)
        assert wire.send(genuine).status == "done"
        assert wire.send(genuine).reason == "replayed"
        assert wire.send(command("gw-1", "read_now", read, cloud_key, ttl_s=-1)[1]).reason == "expired"
        assert wire.send(command("gw-2", "read_now", read, cloud_key)[1]).reason == "wrong_gateway"
        now = int(time.time() * 1000)
        unknown = pack({"gateway": "gw-1", "id": "x-1", "nonce": "00", "issued_ms": now, "expires_ms": now + 60_000,
                        "command": "format_disk", "args": {}}, cloud_key)
        assert wire.send(unknown).reason == "not_allowed"
        assert wire.send(b"WC\x01garbage").reason == "bad_format"
    finally:
        wire.close()

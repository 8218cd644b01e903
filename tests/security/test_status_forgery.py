"""Issue 21, item 8: gateway status messages are signed by the gateway's key.

As found: ``{"state":"offline"}`` published by anyone on ``watertel/gw-b/status`` raised
gateway_offline, ``online`` cleared it, the fleet view showed a forged version and config hash,
and a status on an unregistered name made an alarm whose station was the sender's text.
Replayed here through a real Mosquitto into a real `watertel cloud ingest`, with a real edge agent
whose signed status must still work: a clean stop raises no gateway_offline, a kill -9 does."""

from __future__ import annotations

import json
import queue
import re
import sqlite3

import paho.mqtt.client as mqtt
import pytest
import yaml

from tests.support.cli import watertel
from watertel.crypto import SM2PrivateKey
from watertel.presence import sign_status
from watertel.shell.demo import Demo
from watertel.shell.processes import Child, wait_until

TOPIC = "watertel/gw-1/status"


class Broker:
    """An MQTT client of the test: publishes as an attacker would, and hears every status."""

    def __init__(self, port: int) -> None:
        self.heard: queue.Queue = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="attacker")
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe("watertel/+/status", qos=1)
        self.client.on_message = lambda c, u, msg: self.heard.put((msg.topic, msg.payload))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1, retain=True).wait_for_publish(timeout=10)

    def next_status(self, state: str, topic: str = TOPIC) -> bytes:
        """The next message heard on ``topic`` in ``state`` (the edge agent's, signed)."""
        while True:
            heard_topic, payload = self.heard.get(timeout=30)
            if heard_topic == topic and json.loads(payload).get("state") == state and "sig" in json.loads(payload):
                return payload

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _alarms(demo: Demo) -> list[tuple[str, str, str]]:
    """(type, station, state) of the alarms a status could raise: gateway_offline, and any on a
    station named by a status topic (the gateway's own data alarms are not this test's)."""
    try:
        with sqlite3.connect(f"file:{demo.dir / 'cloud-data' / 'watertel.db'}?mode=ro", uri=True) as db:
            rows = db.execute("SELECT type, station, state FROM alarms ORDER BY id").fetchall()
    except sqlite3.OperationalError:
        return []
    return [r for r in rows if r[0] in ("gateway_offline", "buffer_full") or r[1] in ("gw-evil", "<img src=x>")]


def _fleet(demo: Demo) -> dict:
    """gw-1's row of `watertel cloud fleet --json` (the view the console's fleet page shows)."""
    done = watertel("cloud", "fleet", "--config", str(demo.dir / "cloud.yaml"), "--json")
    assert done.returncode == 0, done.stderr
    return next(r for r in json.loads(done.stdout) if r["gateway"] == "gw-1")


def _ignored(demo: Demo, reason: str) -> int:
    """How many status messages the cloud's log counts as ignored for ``reason``."""
    text = (demo.logs / "cloud.log").read_text()
    return sum(int(n) for n in re.findall(rf"refused (\d+) messages? from .+? \(status_{reason}\)", text))


def _settle(demo: Demo, broker: Broker, cloud: Child) -> None:
    """Return once the cloud handled everything published before: a marker (an unsigned status on
    the same topic, so delivered after them) is counted."""
    seen = _ignored(demo, "unsigned")
    broker.publish(TOPIC, b'{"gateway_id": "gw-1", "state": "online", "marker": true}')
    wait_until(lambda: _ignored(demo, "unsigned") == seen + 1, "the marker counted", cloud)


@pytest.fixture
def site(mosquitto, tmp_path):
    demo = Demo(tmp_path / "demo", f"mqtt://127.0.0.1:{mosquitto}")
    demo.prepare()
    cfg = yaml.safe_load((demo.dir / "cloud.yaml").read_text())
    cfg["ingest"] = {"refusal_log_every_s": 1}
    (demo.dir / "cloud.yaml").write_text(yaml.safe_dump(cfg))
    broker = Broker(mosquitto)
    cloud = Child.watertel("cloud", ["cloud", "ingest", "--config", str(demo.dir / "cloud.yaml")], demo.logs)
    try:
        wait_until(lambda: "ingest subscribed" in (demo.logs / "cloud.log").read_text(), "the cloud ingest", cloud)
        yield demo, broker, cloud
    finally:
        broker.close()
        cloud.stop()


def _edge(demo: Demo) -> Child:
    return Child.watertel("edge", ["edge", "run", "--config", str(demo.dir / "edge-gw-1.yaml")], demo.logs)


@pytest.mark.server
def test_forged_status_raises_no_alarm_and_leaves_the_fleet_as_it_was(site):
    demo, broker, cloud = site
    edge = _edge(demo)
    try:
        birth = json.loads(broker.next_status("online"))
        wait_until(lambda: _fleet(demo)["state"] == "online", "the real birth in the fleet view", cloud)
        real = _fleet(demo)
        assert real["version"] == birth["version"] and real["config_sm3"] == birth["config_sm3"]

        forged_online = {"gateway_id": "gw-1", "state": "online", "version": "6.6.6", "config_sm3": "f" * 64}
        attacks = [
            ("unsigned", TOPIC, json.dumps({"state": "offline"}).encode()),  # the finding, byte for byte
            ("unsigned", TOPIC, json.dumps({"gateway_id": "gw-1", "state": "offline"}).encode()),
            ("unsigned", TOPIC, json.dumps(forged_online).encode()),
            ("bad_signature", TOPIC, sign_status({**forged_online, "session": birth["session"] + 1, "n": 1,
                                                  "key_id": birth["key_id"]}, SM2PrivateKey.generate())),
            ("unregistered", "watertel/gw-evil/status", json.dumps({"gateway_id": "gw-evil", "state": "offline"}).encode()),
            ("unregistered", "watertel/<img src=x>/status", json.dumps({"state": "offline"}).encode()),
        ]
        for _, topic, payload in attacks:
            broker.publish(topic, payload)
        for reason in ("unsigned", "bad_signature", "unregistered"):
            expected = sum(1 for r, *_ in attacks if r == reason)
            wait_until(lambda: _ignored(demo, reason) == expected, f"{expected} {reason} statuses ignored", cloud)

        assert _alarms(demo) == []  # no gateway_offline, no alarm on a station named by the sender
        after = _fleet(demo)
        assert (after["state"], after["version"], after["config_sm3"]) == ("online", real["version"], real["config_sm3"])

        broker.publish(TOPIC, json.dumps(birth).encode())  # the real birth again: known, not news
        assert edge.stop() == 0  # a planned stop: signed "stopped", no gateway_offline
        broker.next_status("stopped")
        wait_until(lambda: _fleet(demo)["state"] == "stopped", "the signed stop in the fleet view", cloud)
        broker.publish(TOPIC, json.dumps(birth).encode())  # replayed after the stop: must not look alive
        _settle(demo, broker, cloud)
        assert _fleet(demo)["state"] == "stopped" and _alarms(demo) == []
    finally:
        edge.stop()


@pytest.mark.server
def test_a_killed_gateway_raises_gateway_offline_and_its_will_cannot_be_replayed_later(site):
    demo, broker, cloud = site
    edge = _edge(demo)
    broker.next_status("online")
    edge.proc.kill()  # kill -9: the broker publishes the will the agent signed when it connected
    edge.proc.wait()
    will = broker.next_status("offline")
    wait_until(lambda: ("gateway_offline", "gw-1", "raised") in _alarms(demo), "gateway_offline raised", cloud)

    edge = _edge(demo)
    try:
        broker.next_status("online")
        wait_until(lambda: _alarms(demo) == [("gateway_offline", "gw-1", "cleared")], "gateway_offline cleared", cloud)
        broker.publish(TOPIC, will)  # the old session's will, signed and genuine, published again
        _settle(demo, broker, cloud)
        assert _alarms(demo) == [("gateway_offline", "gw-1", "cleared")] and _fleet(demo)["state"] == "online"
        broker.publish(TOPIC, sign_status({**json.loads(will), "n": 0}, SM2PrivateKey.generate()))  # re-signed: forged
        wait_until(lambda: _ignored(demo, "bad_signature") == 1, "the re-signed will ignored", cloud)
        assert _alarms(demo) == [("gateway_offline", "gw-1", "cleared")] and _fleet(demo)["state"] == "online"
    finally:
        edge.stop()

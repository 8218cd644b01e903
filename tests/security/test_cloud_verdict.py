"""Issue 22: the cloud's verdict reaches the gateway.

As found: an unregistered gateway's `edge status` said "connected, last acknowledgement 7 s ago,
0 batches unsent" and exited 0 while the cloud refused every envelope (``unknown_key``): the
broker's PUBACK is not the cloud's acceptance. Replayed here through a real Mosquitto, a real
`watertel cloud ingest` and a real edge agent whose key is not registered: the cloud answers with
signed notices (one per reason per period, not one per envelope), `edge status` shows the refusal
and exits 3 within seconds, registering the key (the gateways file reloaded) clears it, and a
notice signed by another key is ignored and counted."""

from __future__ import annotations

import contextlib
import json
import queue
import re
import subprocess
import time

import paho.mqtt.client as mqtt
import pytest
import yaml

from tests.support.cli import watertel
from watertel.crypto import SM2PrivateKey
from watertel.commands import CommandError
from watertel.notices import Notice
from watertel.shell.demo import Demo
from watertel.shell.processes import Child, wait_until

CMD = "watertel/gw-1/cmd"


class Listener:
    """An MQTT client of the test: hears what the cloud sends gw-1, and publishes as an attacker."""

    def __init__(self, port: int) -> None:
        self.heard: queue.Queue = queue.Queue()
        self.topics: list[str] = []  # every command topic a message was heard on
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="listener")
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe("watertel/+/cmd", qos=1)
        self.client.on_message = self._heard
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _heard(self, client, userdata, msg) -> None:
        self.topics.append(msg.topic)
        if msg.topic == CMD:
            self.heard.put(msg.payload)

    def notices(self, key: SM2PrivateKey) -> list[Notice]:
        """The cloud's notices heard since the last call (the test's own forgeries left out)."""
        out = []
        while not self.heard.empty():
            payload = self.heard.get()
            with contextlib.suppress(CommandError):
                out.append(Notice.unpack(payload, key.public))
        return out

    def publish(self, payload: bytes) -> None:
        self.client.publish(CMD, payload, qos=1).wait_for_publish(timeout=10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _status_file(demo: Demo) -> dict:
    try:
        return json.loads((demo.dir / "gw-1-buffer.status.json").read_text())
    except (OSError, ValueError):
        return {}


def _refused(demo: Demo, gateway: str = "gw-1", reason: str = "unknown_key") -> int:
    """How many messages on ``gateway``'s topic the cloud's log counts as refused for ``reason``."""
    text = (demo.logs / "cloud.log").read_text()
    return sum(int(n) for n in re.findall(rf"refused (\d+) messages? from {gateway} \({reason}\)", text))


def _edge_status(demo: Demo) -> subprocess.CompletedProcess:
    return watertel("edge", "status", "--config", str(demo.dir / "edge-gw-1.yaml"))


@pytest.fixture
def site(mosquitto, tmp_path):
    """The demo's configs, gw-1 left out of the cloud's gateways file (kept to register it later)."""
    demo = Demo(tmp_path / "demo", f"mqtt://127.0.0.1:{mosquitto}")
    demo.prepare()
    cfg = yaml.safe_load((demo.dir / "cloud.yaml").read_text())
    cfg["ingest"] = {"refusal_log_every_s": 1, "notices": {"every_s": 2, "valid_s": 60}}
    (demo.dir / "cloud.yaml").write_text(yaml.safe_dump(cfg))
    registered = yaml.safe_load((demo.dir / "gateways.yaml").read_text())
    (demo.dir / "gateways.yaml").write_text(yaml.safe_dump(
        {"gateways": [g for g in registered["gateways"] if g["id"] != "gw-1"]}))
    listener = Listener(mosquitto)
    cloud = Child.watertel("cloud", ["cloud", "ingest", "--config", str(demo.dir / "cloud.yaml")], demo.logs)
    try:
        wait_until(lambda: "ingest subscribed" in (demo.logs / "cloud.log").read_text(), "the cloud ingest", cloud)
        yield demo, registered, listener, cloud
    finally:
        listener.close()
        cloud.stop()


@pytest.mark.server
def test_an_unregistered_gateway_is_told_and_says_so_until_its_key_is_registered(site):
    demo, registered, listener, cloud = site
    cloud_key = SM2PrivateKey.from_pem((demo.dir / "keys" / "cloud-commands.key.pem").read_text())
    started = time.monotonic()
    edge = Child.watertel("edge", ["edge", "run", "--config", str(demo.dir / "edge-gw-1.yaml")], demo.logs)
    try:
        wait_until(lambda: "unknown_key" in (_status_file(demo).get("cloud") or {}).get("refusing", {}),
                   "the refusal in the agent's status file", edge)
        shown_after = time.monotonic() - started
        print(f"refusal shown {shown_after:.1f} s after the agent started")
        shown = _edge_status(demo)
        assert shown.returncode == 3, shown.stdout + shown.stderr  # running, connected, and refused by the cloud
        [line] = [l for l in shown.stdout.splitlines() if l.startswith("cloud refuses:")]
        assert line.startswith("cloud refuses: unknown_key since ") and " envelope" in line, line
        assert "key id gw-1-k1" in line and "register this gateway's public key" in line
        assert "last broker acknowledgement" in shown.stdout and "delivered" not in shown.stdout
        assert shown_after < 15, f"the refusal took {shown_after:.1f} s to show"

        time.sleep(6)  # more envelopes refused: counted in the next notices, not one notice each
        notices = listener.notices(cloud_key)
        assert notices and all(n.gateway == "gw-1" and n.kind == "refused" and n.reason == "unknown_key" for n in notices)
        elapsed = time.monotonic() - started
        assert len(notices) <= elapsed / 2 + 2, f"{len(notices)} notices in {elapsed:.0f} s (one per 2 s allowed)"
        told = sum(n.count for n in notices)
        wait_until(lambda: _status_file(demo)["cloud"]["refusing"]["unknown_key"]["envelopes"] >= told,
                   f"the {told} envelopes the notices counted in the status file", edge)
        wait_until(lambda: _refused(demo) >= told, f"the cloud's log to count the {told} refusals told", cloud)
        assert told >= 2
        prom = (demo.dir / "gw-1-buffer.status.prom").read_text()
        assert 'watertel_edge_cloud_refusing{gateway="gw-1",reason="unknown_key"} 1' in prom
        assert f'watertel_edge_cloud_refused_envelopes_total{{gateway="gw-1",reason="unknown_key"}} ' in prom

        (demo.dir / "gateways.new").write_text(yaml.safe_dump(registered))  # register the key: the file reloads
        (demo.dir / "gateways.new").rename(demo.dir / "gateways.yaml")
        wait_until(lambda: not (_status_file(demo).get("cloud") or {}).get("refusing"), "the refusal cleared", edge)
        cleared = _edge_status(demo)
        assert cleared.returncode == 0, cleared.stdout + cleared.stderr
        assert "cloud: no refusal notified; accepted again since" in cleared.stdout
        assert [n.kind for n in listener.notices(cloud_key)][-1:] == ["accepted"]

        forged = Notice("gw-1", "refused", "key_revoked", 1, "gw-1-k1", 1, "", int(time.time() * 1000),
                        int(time.time() * 1000) + 60_000)
        listener.publish(forged.pack(SM2PrivateKey.generate()))  # signed, but not by the cloud's key
        wait_until(lambda: (_status_file(demo).get("cloud") or {}).get("ignored_notices") == {"bad_signature": 1},
                   "the forged notice counted", edge)
        after = _edge_status(demo)
        assert after.returncode == 0 and "key_revoked" not in after.stdout, after.stdout
        assert "cloud notices ignored: 1 (bad_signature 1)" in after.stdout
        assert 'watertel_edge_cloud_notices_ignored_total{gateway="gw-1",reason="bad_signature"} 1' in \
            (demo.dir / "gw-1-buffer.status.prom").read_text()

        listener.client.publish("watertel/gw-1/up", b"garbage", qos=1).wait_for_publish(timeout=10)  # not gw-1's
        wait_until(lambda: (_status_file(demo).get("cloud") or {}).get("ignored_notices", {}).get("not_ours") == 1,
                   "the notice about someone else's garbage ignored", edge)
        assert [(n.kind, n.reason, n.seq) for n in listener.notices(cloud_key)] == [("refused", "bad_magic", None)]
        assert _edge_status(demo).returncode == 0
    finally:
        edge.stop()
    log = (demo.logs / "edge.log").read_text()
    assert "Traceback" not in log and "command ? refused" not in log  # a notice is not taken for a command
    assert log.count("the cloud refuses this gateway's envelopes") == 1
    assert log.count("cloud notice ignored") == 2  # the first of each reason; repeats at debug


@pytest.mark.server
def test_a_gateway_without_the_cloud_key_says_once_that_it_cannot_know(site):
    demo, _, _, cloud = site
    config = yaml.safe_load((demo.dir / "edge-gw-2.yaml").read_text())
    del config["commands"]
    (demo.dir / "edge-gw-2.yaml").write_text(yaml.safe_dump(config))
    edge = Child.watertel("edge", ["edge", "run", "--config", str(demo.dir / "edge-gw-2.yaml")], demo.logs)
    try:
        wait_until(lambda: (demo.dir / "gw-2-buffer.status.json").exists(), "gw-2's status file", edge)
        shown = watertel("edge", "status", "--config", str(demo.dir / "edge-gw-2.yaml"))
        assert "cloud: verdict unknown (no commands.cloud_public_key" in shown.stdout, shown.stdout
    finally:
        edge.stop()
    assert (demo.logs / "edge.log").read_text().count("the cloud's notices (refused envelopes) cannot be verified") == 1


@pytest.mark.server
def test_a_flood_of_bad_envelopes_is_not_answered_by_a_flood_of_notices(site):
    demo, _, listener, cloud = site
    started = time.monotonic()
    for i in range(500):  # on one gateway's topic, and on 500 gateway names a publisher made up
        listener.client.publish("watertel/gw-1/up", b"garbage %d" % i, qos=1)
        listener.client.publish(f"watertel/gw-x{i}/up", b"garbage", qos=1).wait_for_publish(timeout=10)
    wait_until(lambda: _refused(demo, "gw-1", "bad_magic") == 500, "the 500 on gw-1's topic refused", cloud, timeout=60)
    elapsed = time.monotonic() - started
    time.sleep(1)  # the last notices on their way
    periods = elapsed / 2 + 1  # every_s: 2
    print(f"1000 bad envelopes in {elapsed:.1f} s: {len(listener.topics)} notices,"
          f" {listener.topics.count(CMD)} of them to gw-1")
    assert listener.topics.count(CMD) <= periods + 1, listener.topics.count(CMD)
    assert len(listener.topics) <= 100 * periods  # the budget over all gateways (max_per_period)
    assert cloud.alive()

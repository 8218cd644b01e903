"""The production examples in deploy/ work as shipped: configs validate, systemd units verify, and
Mosquitto with deploy/mosquitto carries a real gateway's envelopes to a real cloud over TLS while
refusing anonymous, plain-text and wrong-topic clients."""

from __future__ import annotations

import getpass
import os
import shutil
import sqlite3
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml

from watertel.ports import free_port, port_open
from watertel.shell.mosquitto import find_mosquitto
from watertel.shell.processes import Child, wait_until

from tests.support.checks import need
from tests.support.paths import ROOT
from tests.support.pki import write_pki

DEPLOY = ROOT / "deploy"
WATERTEL = Path(sys.executable).parent / "watertel"


def _watertel(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(WATERTEL), *args], capture_output=True, text=True, timeout=60)


def _password_hash(password: str) -> str:
    done = subprocess.run([str(WATERTEL), "cloud", "hash-password"], input=password + "\n",
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


# --- example configurations --------------------------------------------------------------------


def _etc(tmp_path: Path) -> Path:
    """An /etc/watertel as deploy/README.md sets it up, from the shipped examples."""
    etc = tmp_path / "etc-watertel"
    etc.mkdir()
    for name in ("edge", "cloud", "sim", "registry"):
        shutil.copy(DEPLOY / f"{name}.example.yaml", etc / f"{name}.yaml")
    assert _watertel("keys", "new", "--gateway", "gw-0001", "--out", str(etc / "keys")).returncode == 0
    return etc


def test_example_configs_validate_once_keys_and_hashes_are_in_place(tmp_path):
    etc = _etc(tmp_path)
    config = etc / "edge.yaml"
    edge = _watertel("edge", "check", "--config", str(config))  # as deploy/README.md's steps stand after `keys new`
    assert edge.returncode == 1 and not edge.stdout
    assert edge.stderr.splitlines() == [
        f"{config}: uplink.password_file: {etc}/secrets/mqtt-password does not exist "
        "(write the gateway's broker password into it)",
        f"{config}: uplink.tls.ca_file: {etc}/tls/ca.pem does not exist (copy the broker's CA certificate there, PEM)",
        f"{config}: buses.0.transport.port: /dev/ttyUSB0 does not exist (plug the RS-485 adapter in, or name its "
        "device: ls /dev/ttyUSB* /dev/ttyAMA* /dev/serial/by-id/)"]

    write_pki(etc / "tls")  # the README's next steps: the broker's CA, the password (0600), the adapter
    (etc / "secrets").mkdir()
    (etc / "secrets" / "mqtt-password").write_text("gw1-secret\n")
    (etc / "secrets" / "mqtt-password").chmod(0o600)
    leader, follower = os.openpty()
    try:
        config.write_text(config.read_text().replace("/dev/ttyUSB0", os.ttyname(follower))
                          .replace("/var/lib/watertel/buffer.db", str(tmp_path / "buffer.db")))
        edge = _watertel("edge", "check", "--config", str(config))
    finally:
        os.close(leader)
        os.close(follower)
    assert edge.returncode == 0, edge.stderr
    assert "gateway gw-0001, 2 buses, 3 devices" in edge.stdout

    shipped = _watertel("cloud", "check", "--config", str(etc / "cloud.yaml"))
    assert shipped.returncode == 1, "the placeholder password hash must not pass"
    line = next(n for n, text in enumerate((etc / "cloud.yaml").read_text().splitlines(), 1) if "REPLACE" in text)
    assert f"cloud.yaml:{line}: api.users.0.password_hash: not a password hash" in shipped.stderr

    text = (etc / "cloud.yaml").read_text()
    placeholder = next(line.split('"')[1] for line in text.splitlines() if "REPLACE" in line)
    (etc / "cloud.yaml").write_text(text.replace(placeholder, _password_hash("correct horse")))
    cloud = _watertel("cloud", "check", "--config", str(etc / "cloud.yaml"))
    assert cloud.returncode == 0, cloud.stderr
    assert "1 gateways, 1 users" in cloud.stdout

    from watertel.simulators.config import SimConfig
    from watertel.config import load_model

    sim = load_model(etc / "sim.yaml", SimConfig)
    assert [d.name for d in sim.devices] == ["fm-1", "wq-1", "pt-2"]


def test_the_edge_example_refuses_mqtts_without_a_ca(tmp_path):
    etc = _etc(tmp_path)
    cfg = yaml.safe_load((etc / "edge.yaml").read_text())
    del cfg["uplink"]["tls"]
    (etc / "edge.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    done = _watertel("edge", "check", "--config", str(etc / "edge.yaml"))
    assert done.returncode == 1
    assert "uplink: mqtts:// brokers need a tls section" in done.stderr


def test_systemd_units_verify(tmp_path):
    need(shutil.which("systemd-analyze") is not None, "systemd-analyze")
    for unit in (DEPLOY / "systemd").glob("*.service"):
        text = unit.read_text().replace("/opt/watertel/bin/watertel", str(WATERTEL))
        (tmp_path / unit.name.replace("@.", "@1.")).write_text(text)  # a template is verified as an instance
    units = sorted(str(p) for p in tmp_path.glob("*.service"))
    assert len(units) == 4
    done = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not done.stdout.strip() and not done.stderr.strip(), done.stdout + done.stderr


# --- Mosquitto with TLS, passwords and the ACL --------------------------------------------------


PASSWORDS = {"gw-0001": "gw1-secret", "gw-0002": "gw2-secret", "watertel-ingest": "ingest-secret"}


@pytest.fixture
def secured_broker(tmp_path):
    """Mosquitto running deploy/mosquitto/watertel.conf, its paths and port moved into tmp_path."""
    binary, passwd = find_mosquitto(), shutil.which("mosquitto_passwd")
    need(binary is not None and passwd is not None, "mosquitto and mosquitto_passwd")
    etc, state, port = tmp_path / "mosquitto", tmp_path / "mosquitto-state", free_port()
    etc.mkdir()
    state.mkdir()
    write_pki(etc / "tls")
    shutil.copy(DEPLOY / "mosquitto" / "acl", etc / "acl")
    (etc / "passwd").touch()
    for user, password in PASSWORDS.items():
        subprocess.run([passwd, "-b", str(etc / "passwd"), user, password], check=True, capture_output=True)
    conf = (DEPLOY / "mosquitto" / "watertel.conf").read_text()
    assert "listener 8883\n" in conf and "/etc/mosquitto/watertel/" in conf and "/var/lib/mosquitto/" in conf
    conf = (conf.replace("/etc/mosquitto/watertel/", f"{etc}/").replace("/var/lib/mosquitto/", f"{state}/")
            .replace("listener 8883\n", f"listener {port} 127.0.0.1\n"))
    conf += f"user {getpass.getuser()}\n"  # started as root, mosquitto would switch to a user who cannot read tmp_path
    (etc / "watertel.conf").write_text(conf)
    proc = subprocess.Popen([binary, "-c", str(etc / "watertel.conf")], stdout=subprocess.DEVNULL,
                            stderr=open(tmp_path / "mosquitto.log", "w"))
    try:
        wait_until(lambda: port_open(port), "mosquitto with the deploy config", timeout=10)
        yield port, etc / "tls" / "ca.pem"
    finally:
        proc.terminate()
        proc.wait(10)


class Session:
    """A paho client that records its CONNACK and the messages it receives."""

    def __init__(self, port: int, ca: Path | None, user: str | None, password: str | None) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{user}-{time.monotonic_ns()}")
        if ca:
            self.client.tls_set(ca_certs=str(ca), tls_version=ssl.PROTOCOL_TLS_CLIENT)
        if user:
            self.client.username_pw_set(user, password)
        self.connack, self.received, self.lock = threading.Event(), [], threading.Lock()
        self.reason = None
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda c, u, msg: self.received.append((msg.topic, msg.payload))
        self.port = port

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        self.reason = reason
        self.connack.set()

    def connect(self) -> bool:
        """True once the broker accepted the login; False when it refused it or the link failed."""
        try:
            self.client.connect("127.0.0.1", self.port, keepalive=10)
        except (OSError, ssl.SSLError):
            return False
        self.client.loop_start()
        got = self.connack.wait(5)
        return got and not self.reason.is_failure

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_deploy_broker_refuses_anonymous_plaintext_and_foreign_topics(secured_broker):
    port, ca = secured_broker
    refused = [Session(port, ca, None, None), Session(port, ca, "gw-0001", "wrong"), Session(port, None, "gw-0001", "gw1-secret")]
    try:
        assert [s.connect() for s in refused] == [False, False, False], "anonymous, wrong password, plain text"
    finally:
        for s in refused:
            s.client.loop_stop()

    ingest, spy = (Session(port, ca, "watertel-ingest", PASSWORDS["watertel-ingest"]),
                   Session(port, ca, "gw-0001", PASSWORDS["gw-0001"]))
    try:
        assert ingest.connect() and spy.connect()
        ingest.client.subscribe("$share/ingest/watertel/+/up", qos=1)
        spy.client.subscribe("watertel/+/up", qos=1)  # a gateway may not read others' envelopes
        time.sleep(0.5)
        for topic, payload in (("watertel/gw-0002/up", b"forged"), ("watertel/gw-0001/down", b"wrong topic"),
                               ("watertel/gw-0001/up", b"genuine")):
            gw1 = Session(port, ca, "gw-0001", PASSWORDS["gw-0001"])
            assert gw1.connect()
            try:  # the broker may drop a client that publishes where it may not: that is a refusal too
                gw1.client.publish(topic, payload, qos=1).wait_for_publish(5)
            except RuntimeError:
                pass
            gw1.close()
        wait_until(lambda: ingest.received, "the ingest user to receive gw-0001's envelope", timeout=10)
        time.sleep(1.0)
        assert ingest.received == [("watertel/gw-0001/up", b"genuine")]
        assert spy.received == []
    finally:
        for s in (ingest, spy):
            s.close()


def test_a_gateway_reaches_the_cloud_through_the_deploy_broker_over_tls(secured_broker, tmp_path):
    """The examples, pointed at local ports: simulated flow meter → edge → TLS Mosquitto → cloud."""
    port, ca = secured_broker
    etc = _etc(tmp_path)
    for user in ("gw-0001", "watertel-ingest"):
        (etc / "secrets").mkdir(exist_ok=True)
        (etc / "secrets" / f"{user}.password").write_text(PASSWORDS[user] + "\n")
        (etc / "secrets" / f"{user}.password").chmod(0o600)  # a secret open to others stops `edge run`
    (etc / "tls").mkdir()
    shutil.copy(ca, etc / "tls" / "ca.pem")
    meter_port = free_port()

    sim = yaml.safe_load((etc / "sim.yaml").read_text())
    sim["served_log"] = str(tmp_path / "served.jsonl")
    sim["devices"] = [dict(sim["devices"][0], transport={"kind": "tcp", "host": "127.0.0.1", "port": meter_port})]
    edge = yaml.safe_load((etc / "edge.yaml").read_text())
    edge["uplink"].update(brokers=[f"mqtts://127.0.0.1:{port}"], password_file="secrets/gw-0001.password")
    edge["buffer"]["path"] = str(tmp_path / "buffer.db")
    edge["batching"]["max_latency_s"] = 0.5
    edge["buses"] = [dict(edge["buses"][1], transport={"kind": "tcp", "host": "127.0.0.1", "port": meter_port})]
    edge["buses"][0]["devices"][0]["poll_interval_s"] = 0.5
    cloud = yaml.safe_load((etc / "cloud.yaml").read_text())
    cloud["data_dir"] = str(tmp_path / "cloud-data")
    cloud["mqtt"].update(host="127.0.0.1", port=port, password_file="secrets/watertel-ingest.password")
    cloud["api"].update(port=free_port(), users=[])
    for name, data in (("sim", sim), ("edge", edge), ("cloud", cloud)):
        (etc / f"{name}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))

    logs = tmp_path / "logs"
    children = [Child.watertel("cloud", ["cloud", "run", "--config", str(etc / "cloud.yaml")], logs),
                Child.watertel("sim", ["sim", "run", "--config", str(etc / "sim.yaml")], logs)]
    try:
        wait_until(lambda: port_open(meter_port), "the simulated flow meter", children[1])
        children.append(Child.watertel("edge", ["edge", "run", "--config", str(etc / "edge.yaml")], logs))
        db = tmp_path / "cloud-data" / "watertel.db"

        def stored() -> int:
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                    return conn.execute("SELECT count(*) FROM readings WHERE station = 'ST-0001'").fetchone()[0]
            except sqlite3.OperationalError:  # not created yet, or its schema not yet written
                return 0

        wait_until(lambda: stored() >= 30, "readings of ST-0001 stored by the cloud over TLS", children[2], timeout=60)
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            assert conn.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 0
            points = {p for (p,) in conn.execute("SELECT DISTINCT point FROM readings")}
        assert points == {"flow", "velocity", "total"}
    finally:
        for child in reversed(children):
            child.stop()


def test_edge_check_online_logs_in_to_the_deploy_broker_and_reads_each_device(secured_broker, tmp_path):
    """`edge check --online` proves what the files cannot: the password, the CA and the unit ids."""
    port, ca = secured_broker
    etc = _etc(tmp_path)
    (etc / "secrets").mkdir()
    password = etc / "secrets" / "mqtt-password"
    password.write_text(PASSWORDS["gw-0001"] + "\n")
    password.chmod(0o600)
    (etc / "tls").mkdir()
    shutil.copy(ca, etc / "tls" / "ca.pem")
    meter_port = free_port()
    sim = yaml.safe_load((etc / "sim.yaml").read_text())
    sim["devices"] = [dict(sim["devices"][0], transport={"kind": "tcp", "host": "127.0.0.1", "port": meter_port})]
    sim["served_log"] = str(tmp_path / "served.jsonl")
    (etc / "sim.yaml").write_text(yaml.safe_dump(sim, sort_keys=False))
    edge = yaml.safe_load((etc / "edge.yaml").read_text())
    edge["uplink"]["brokers"] = [f"mqtts://127.0.0.1:{port}"]
    edge["buffer"]["path"] = str(tmp_path / "buffer.db")
    edge["buses"] = [dict(edge["buses"][1], transport={"kind": "tcp", "host": "127.0.0.1", "port": meter_port})]
    config = etc / "edge.yaml"

    def check(unit_id: int = 1) -> subprocess.CompletedProcess:
        edge["buses"][0]["devices"][0]["unit_id"] = unit_id
        config.write_text(yaml.safe_dump(edge, sort_keys=False))
        return _watertel("edge", "check", "--online", "--config", str(config))

    meter = Child.watertel("sim", ["sim", "run", "--config", str(etc / "sim.yaml")], tmp_path / "logs")
    try:
        wait_until(lambda: port_open(meter_port), "the simulated flow meter", meter)
        ok = check()
        assert ok.returncode == 0 and "brokers connected, devices answered" in ok.stdout, ok.stderr

        password.write_text("not-the-password\n")
        refused = check()
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        assert refused.stderr.startswith(f"{config}: uplink.brokers.0: cannot connect to mqtts://127.0.0.1:{port}: ")
        assert refused.stderr.rstrip().endswith(
            "(check uplink.username and the password file against the broker's password file)")
        assert len(refused.stderr.splitlines()) == 1

        password.write_text(PASSWORDS["gw-0001"] + "\n")
        wrong_unit = check(unit_id=7)
        assert wrong_unit.returncode == 1 and "Traceback" not in wrong_unit.stderr
        assert wrong_unit.stderr.startswith(
            f"{config}: buses.0.devices.0: device fm-1 (unit 7 at 127.0.0.1:{meter_port}) did not answer")
        assert "did not answer a read of 8 registers at 0: no answer within 1 s (check unit_id" in wrong_unit.stderr
        assert len(wrong_unit.stderr.splitlines()) == 1
    finally:
        meter.stop()

"""A small site for configuration-push and fleet tests: one simulated flow meter (Modbus TCP),
gateways ``gw-1``… each polling it for its own station (``ST-gw-1``…), each in its own folder with
its own key, taking signed commands from the cloud's key, and a real cloud ingest, all on one real
Mosquitto."""

from __future__ import annotations

import json
import queue
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import yaml

from watertel.commands import Answer
from watertel.crypto import SM2PublicKey
from watertel.shell.demo import Demo
from watertel.keys import write_key_pair
from watertel.ports import port_open
from watertel.shell.processes import Child, wait_until

ALLOW = ["read_now", "set_config", "check_clock", "set_time"]


def edge_config(gateway: str, broker: str, meter_port: int, probation_s: float = 5, buffer: str = "buffer.db") -> dict:
    return {
        "gateway_id": gateway, "key": {"private_key": f"keys/{gateway}.key.pem", "key_id": f"{gateway}-k1"},
        "uplink": {"brokers": [broker], "status_every_s": 1}, "buffer": {"path": buffer},
        "batching": {"max_readings": 500, "max_latency_s": 0.5},
        "buses": [{"name": "tcp-fm", "transport": {"kind": "tcp", "host": "127.0.0.1", "port": meter_port},
                   "devices": [{"name": "fm-1", "profile": "emf_flow_meter", "unit_id": 1, "station": f"ST-{gateway}",
                                "poll_interval_s": 1}]}],
        "flag_unsynced_clock": False,
        "commands": {"cloud_public_key": "keys/cloud.pub.pem", "allow": ALLOW, "config_probation_s": probation_s},
    }


class Site:
    def __init__(self, root: Path, mosquitto: int, gateways: list[str], probation_s: float = 5) -> None:
        self.port, self.gateways = mosquitto, gateways
        self.broker = f"mqtt://127.0.0.1:{mosquitto}"
        self.demo = demo = Demo(root / "demo", self.broker)
        demo.prepare()
        self.dir, self.logs = demo.dir, demo.logs
        write_key_pair(demo.dir / "keys", "cloud")
        sim = yaml.safe_load((demo.dir / "sim.yaml").read_text())
        sim["devices"] = [d for d in sim["devices"] if d["name"] == "fm-1"]
        (demo.dir / "sim.yaml").write_text(yaml.safe_dump(sim))
        self.meter_port = demo.tcp_ports["fm-1"]
        for gw in gateways:
            folder = self.folder(gw)
            write_key_pair(folder / "keys", gw)
            shutil.copy(demo.dir / "keys" / "cloud.pub.pem", folder / "keys" / "cloud.pub.pem")
            self.write_edge(gw, edge_config(gw, self.broker, self.meter_port, probation_s))
        cloud = yaml.safe_load((demo.dir / "cloud.yaml").read_text())
        cloud["command_key"] = "keys/cloud.key.pem"
        cloud.pop("gateways_file", None)  # this site's gateways instead of the demo region's
        cloud["gateways"] = [{"id": gw, "key_id": f"{gw}-k1", "public_key": f"{gw}/keys/{gw}.pub.pem",
                              "stations": [f"ST-{gw}"]} for gw in gateways]
        self.cloud_yaml = demo.dir / "cloud.yaml"
        self.cloud_yaml.write_text(yaml.safe_dump(cloud))
        self.children: dict[str, Child] = {}

    def folder(self, gateway: str) -> Path:
        return self.dir / gateway

    def edge_path(self, gateway: str) -> Path:
        return self.folder(gateway) / "edge.yaml"

    def write_edge(self, gateway: str, cfg: dict) -> None:
        self.edge_path(gateway).parent.mkdir(parents=True, exist_ok=True)
        self.edge_path(gateway).write_text(yaml.safe_dump(cfg, sort_keys=False))

    def start(self) -> None:
        self.children["cloud"] = cloud = Child.watertel("cloud", ["cloud", "ingest", "--config", str(self.cloud_yaml)],
                                                        self.logs)
        self.children["sim"] = sim = Child.watertel("sim", ["sim", "run", "--config", str(self.dir / "sim.yaml")], self.logs)
        wait_until(lambda: "ingest subscribed" in (self.logs / "cloud.log").read_text(), "the cloud ingest", cloud)
        wait_until(lambda: port_open(self.meter_port), "the simulated flow meter", sim)
        for gw in self.gateways:
            self.children[gw] = Child.watertel(gw, ["edge", "run", "--config", str(self.edge_path(gw))], self.logs)
        for gw in self.gateways:
            wait_until(lambda: self.fleet_row(gw) is not None and self.readings(gw) > 0, f"{gw} reporting",
                       self.children[gw], timeout=30)

    def stop(self) -> None:
        for name in [*self.gateways, "sim", "cloud"]:
            if name in self.children:
                self.children[name].stop()

    def watertel(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "watertel", *args, "--config", str(self.cloud_yaml)],
                              capture_output=True, text=True, timeout=timeout)

    def command(self, gateway: str, name: str, args: dict, timeout: float = 30) -> tuple[int, dict]:
        done = self.watertel("cloud", "command", name, "--gateway", gateway, "--args", json.dumps(args),
                             "--timeout", str(timeout), timeout=timeout + 30)
        assert done.stdout, done.stderr
        return done.returncode, json.loads(done.stdout)

    def fleet(self) -> dict[str, dict]:
        done = self.watertel("cloud", "fleet", "--json")
        assert done.returncode == 0, done.stderr
        return {row["gateway"]: row for row in json.loads(done.stdout)}

    def fleet_row(self, gateway: str) -> dict | None:
        """The ingest's stored status of one gateway (None before the first one)."""
        path = self.dir / "cloud-data" / "fleet" / f"{gateway}.status.json"
        try:
            return json.loads(path.read_text())["status"]
        except (OSError, ValueError):
            return None

    def readings(self, gateway: str) -> int:
        """Readings the cloud stored for the gateway's station."""
        try:
            with sqlite3.connect(f"file:{self.dir / 'cloud-data' / 'watertel.db'}?mode=ro", uri=True) as db:
                return db.execute("SELECT count(*) FROM readings WHERE station = ?", (f"ST-{gateway}",)).fetchone()[0]
        except sqlite3.OperationalError:
            return 0


class Wire:
    """Raw MQTT access to a gateway's command and answer topics (what an attacker could send)."""

    def __init__(self, port: int, gateway: str, gateway_key: SM2PublicKey, timeout: float = 10) -> None:
        self.gateway = gateway
        self.answers: queue.Queue = queue.Queue()
        subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"wire-{gateway}")
        self.client.on_message = lambda c, u, m: self.answers.put(Answer.unpack(m.payload, gateway_key))
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"watertel/{gateway}/result", qos=1)
        self.client.loop_start()
        # the broker's SUBACK, not a pause: an answer published before it would be lost
        assert subscribed.wait(timeout), f"no SUBACK for watertel/{gateway}/result within {timeout} s"

    def send(self, message: bytes, timeout: float = 20) -> Answer:
        self.client.publish(f"watertel/{self.gateway}/cmd", message, qos=1).wait_for_publish(5)
        return self.answers.get(timeout=timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

"""`watertel demo`: the whole data path on one machine, with embedded defaults.

    simulators (3 Modbus TCP devices, 2 RTU devices on a pseudo-terminal bus)
      → 2 edge agents (poll, decode, SQLite buffer, SM2-signed envelopes)
      → MQTT (embedded amqtt, or --broker-url)
      → cloud (verify, chain, dedupe, SQLite store, alarms, API + console)

Every part is a separate process started here and stopped here in order: edge agents first
(they finish their poll, seal and deliver what they hold), then the simulators, then the cloud
once it has stored everything delivered, then the broker. The summary compares, reading by
reading, what the agents polled with what the cloud stored.
"""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import sqlite3
import sys
import time
from pathlib import Path

import yaml

from watertel.cloud.api.auth import hash_password
from watertel.cloud.config import load_cloud_config
from watertel.cloud.store import open_store
from watertel.edge_agent.buffer import Buffer, read_all
from watertel.keys import write_key_pair
from watertel.ports import free_port, port_open

from watertel.shell.processes import Child, StartupError, http_ok, mqtt_ready, path_exists, wait_until

MARKER = ".watertel-demo"
USER = "admin"


def _signals() -> dict:
    """Sim signals per device: lively but plausible values, with a turbidity excursion above
    1 NTU and a recurring calibration fault so the alarms have something to show."""
    return {
        "fm-1": {"flow": {"mean": 120, "amplitude": 40, "period_s": 120, "noise": 0.5},
                 "velocity": {"mean": 1.2, "amplitude": 0.3, "period_s": 120},
                 "total": {"integrate": "flow", "start": 15234.5}},
        "pump-1": {"running": {"mean": 1}, "fault_code": {"mean": 0},
                   "frequency": {"mean": 45, "amplitude": 3, "period_s": 90},
                   "current": {"mean": 30, "amplitude": 5, "period_s": 90}, "power": {"mean": 15, "amplitude": 3, "period_s": 90},
                   "energy": {"integrate": "power", "start": 80000}},
        "pt-1": {"pressure": {"mean": 0.32, "amplitude": 0.05, "period_s": 60, "noise": 0.002}},
        "pt-2": {"pressure": {"mean": 0.45, "amplitude": 0.04, "period_s": 75, "noise": 0.002}},
        "wq-1": {"free_chlorine": {"mean": 0.4, "amplitude": 0.15, "period_s": 100},
                 "turbidity": {"mean": 0.7, "amplitude": 0.5, "period_s": 20, "noise": 0.02},
                 "ph": {"mean": 7.4, "amplitude": 0.3, "period_s": 200},
                 "conductivity": {"mean": 450, "amplitude": 40, "period_s": 150},
                 "temperature": {"mean": 16, "amplitude": 1.5, "period_s": 300}},
    }


class Demo:
    def __init__(self, data_dir: Path, broker_url: str | None, store_dsn: str | None = None) -> None:
        self.store_dsn = store_dsn  # PostgreSQL instead of SQLite for the cloud
        self.dir = data_dir
        self.logs = data_dir / "logs"
        self.broker_port = None if broker_url else free_port()
        self.broker_url = broker_url or f"mqtt://127.0.0.1:{self.broker_port}"
        self.api_port = free_port()
        self.tcp_ports = {name: free_port() for name in ("fm-1", "pt-1", "pump-1")}
        self.rtu_link = data_dir / "ttyRS485-0"
        self.password = secrets.token_urlsafe(9)
        self.children: dict[str, Child] = {}
        self.argv: dict[str, list[str]] = {}

    # --- configuration ------------------------------------------------------------------------
    def _write(self, name: str, data: dict) -> Path:
        path = self.dir / name
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def prepare(self) -> None:
        if self.dir.exists() and any(self.dir.iterdir()) and not (self.dir / MARKER).exists():
            raise StartupError(f"{self.dir} exists and is not a demo folder; choose another --data-dir")
        shutil.rmtree(self.dir, ignore_errors=True)
        (self.dir / "keys").mkdir(parents=True)
        (self.dir / MARKER).touch()
        for name in ("gw-1", "gw-2", "cloud-commands"):  # the cloud signs commands (e.g. resend) with its own key
            write_key_pair(self.dir / "keys", name)
        sig = _signals()
        tcp = lambda n, unit, profile: {"name": n, "profile": profile, "unit_id": unit, "seed": unit,
                                        "transport": {"kind": "tcp", "port": self.tcp_ports[n]}, "signals": sig[n]}
        rtu = lambda n, unit, profile, **kw: {"name": n, "profile": profile, "unit_id": unit, "seed": unit,
                                              "transport": {"kind": "rtu", "link": str(self.rtu_link)}, "signals": sig[n], **kw}
        self._write("sim.yaml", {"served_log": str(self.dir / "served.jsonl"), "devices": [
            tcp("fm-1", 1, "emf_flow_meter"), tcp("pump-1", 4, "pump_vfd"), tcp("pt-1", 2, "pressure_4_20ma"),
            rtu("wq-1", 3, "wq_multiparam", faults=[{"bit": 3, "every_s": 15, "for_s": 3}]),
            rtu("pt-2", 2, "pressure_4_20ma"),
        ]})
        dev = lambda n, profile, unit, station: {"name": n, "profile": profile, "unit_id": unit, "station": station,
                                                 "poll_interval_s": 1}
        tcp_bus = lambda n, devices: {"name": f"tcp-{n}", "transport": {"kind": "tcp", "host": "127.0.0.1",
                                                                        "port": self.tcp_ports[n]}, "devices": devices}
        gateways = {
            "gw-1": [tcp_bus("fm-1", [dev("fm-1", "emf_flow_meter", 1, "ST-PH1")]),
                     tcp_bus("pump-1", [dev("pump-1", "pump_vfd", 4, "ST-PH1")])],
            "gw-2": [{"name": "rs485-0", "transport": {"kind": "rtu", "port": str(self.rtu_link), "baudrate": 9600},
                      "timeout_s": 0.5, "devices": [dev("wq-1", "wq_multiparam", 3, "ST-WQ1"),
                                                    dev("pt-2", "pressure_4_20ma", 2, "ST-WQ1-P")]},
                     tcp_bus("pt-1", [dev("pt-1", "pressure_4_20ma", 2, "ST-NET1")])],
        }
        for gw, buses in gateways.items():
            self._write(f"edge-{gw}.yaml", {
                "gateway_id": gw, "key": {"private_key": f"keys/{gw}.key.pem", "key_id": f"{gw}-k1"},
                "uplink": {"brokers": [self.broker_url]}, "buffer": {"path": f"{gw}-buffer.db"},
                "batching": {"max_readings": 500, "max_latency_s": 1.0}, "buses": buses,
                "flag_unsynced_clock": False,  # a developer's machine or a VM often runs without NTP
                "commands": {"cloud_public_key": "keys/cloud-commands.pub.pem", "allow": ["read_now", "resend"]},
            })
        stations = {gw: sorted({d["station"] for b in buses for d in b["devices"]}) for gw, buses in gateways.items()}
        host, _, port = self.broker_url.split("://", 1)[1].rpartition(":")
        self._write("cloud.yaml", {
            "data_dir": "cloud-data", "command_key": "keys/cloud-commands.key.pem",
            **({"store": {"kind": "postgres", "dsn": self.store_dsn}} if self.store_dsn else {}),
            "mqtt": {"host": host, "port": int(port), "client_id": "watertel-ingest"},
            "api": {"host": "127.0.0.1", "port": self.api_port,
                    "users": [{"username": USER, "role": "admin", "password_hash": hash_password(self.password)}]},
            "gateways": [{"id": gw, "key_id": f"{gw}-k1", "public_key": f"keys/{gw}.pub.pem", "stations": stations[gw]}
                         for gw in gateways],
            "alarms": {"water_quality": {"min_duration_s": 0}},  # the demo runs for seconds: raise at once
        })

    # --- processes ----------------------------------------------------------------------------
    def _start(self, name: str, args: list[str]) -> Child:
        self.children[name] = child = Child.watertel(name, args, self.logs)
        self.argv[name] = args
        return child

    def restart(self, name: str) -> Child:
        """Start a stopped (or killed) part again with the same arguments."""
        return self._start(name, self.argv[name])

    def start(self) -> None:
        if self.broker_port:
            b = self._start("broker", ["broker", "--listen", f"127.0.0.1:{self.broker_port}"])
            wait_until(lambda: mqtt_ready(self.broker_port), "the embedded MQTT broker", b)
        c = self._start("cloud", ["cloud", "run", "--config", str(self.dir / "cloud.yaml")])
        wait_until(lambda: http_ok(f"http://127.0.0.1:{self.api_port}/healthz"), "the cloud API", c)
        s = self._start("sim", ["sim", "run", "--config", str(self.dir / "sim.yaml")])
        for port in self.tcp_ports.values():
            wait_until(lambda: port_open(port), f"simulated device on port {port}", s)
        wait_until(lambda: path_exists(self.rtu_link), "the simulated RS-485 bus", s)
        for gw in ("gw-1", "gw-2"):
            self._start(f"edge-{gw}", ["edge", "run", "--config", str(self.dir / f"edge-{gw}.yaml")])

    def stop(self) -> None:
        """Edges first (they drain), then sims, then the cloud once it stored what was sent."""
        for name in ("edge-gw-1", "edge-gw-2"):
            if name in self.children:
                self.children[name].stop(timeout=45)
        if "sim" in self.children:
            self.children["sim"].stop()
        if "cloud" in self.children:
            published = sum(self._edge_stats(gw)["batches_sent"] for gw in ("gw-1", "gw-2"))
            wait_for_store = lambda: self._cloud_counts().get("envelopes", 0) >= published
            try:
                wait_until(wait_for_store, "the cloud to store every delivered envelope", timeout=30)
            except StartupError as err:
                print(f"warning: {err}", file=sys.stderr)
            self.children["cloud"].stop()
        if "broker" in self.children:
            self.children["broker"].stop()

    # --- figures ------------------------------------------------------------------------------
    def _edge_stats(self, gw: str) -> dict:
        path = self.dir / f"{gw}-buffer.db"
        if not path.exists():
            return {"batches_sent": 0}
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            (sent,) = db.execute("SELECT count(*) FROM batches WHERE sent_ms IS NOT NULL").fetchone()
        return {"batches_sent": sent}

    def open_store(self):
        """The cloud's store, as its configuration says (SQLite file or PostgreSQL)."""
        cfg = load_cloud_config(self.dir / "cloud.yaml")
        return open_store(cfg.store, cfg.data_dir)

    def _cloud_counts(self) -> dict:
        if not self.store_dsn and not (self.dir / "cloud-data" / "watertel.db").exists():
            return {}
        try:
            store = self.open_store()
            try:
                counts = store.counts()
            finally:
                store.close()
        except Exception:  # not created yet, or the database is busy: no figures this time
            return {}
        return {"envelopes": counts["envelopes"], "refused_n": sum(counts["refused"].values())}

    def summary(self, duration_s: float) -> dict:
        polled, published = [], 0
        for gw in ("gw-1", "gw-2"):
            path = self.dir / f"{gw}-buffer.db"
            if path.exists():
                polled += read_all(path)
                buf = Buffer(path, gw)
                published += buf.stats()["published"]
                buf.close()
        store = self.open_store()
        try:
            stored = {r.key(): r for r in store.readings()}
            counts = store.counts()
        finally:
            store.close()
        lost = [r for r in polled if r.key() not in stored]
        changed = [r for r in polled if r.key() in stored and not r.same_as(stored[r.key()])]
        return {
            "duration_s": round(duration_s, 1), "gateways": 2, "devices": len(_signals()),
            "polled": len(polled), "published": published, "stored": len(stored),
            "verified": counts["envelopes"], "rejected": sum(counts["refused"].values()),
            "rejected_by_reason": counts["refused"], "lost": len(lost), "changed": len(changed),
            "faulty_readings": sum(1 for r in polled if r.quality != 0),
            "alarms": counts["alarms"],
        }


def _progress(demo: Demo, started: float) -> None:
    counts = demo._cloud_counts()
    print(f"  {time.monotonic() - started:5.0f}s  envelopes stored: {counts.get('envelopes', 0)}"
          f"  refused: {counts.get('refused_n', 0)}", flush=True)


def command(args) -> int:
    """`watertel demo`."""
    return run_demo(Path(args.data_dir), args.duration, args.broker_url, args.postgres)


def run_demo(data_dir: Path, duration: float | None, broker_url: str | None, store_dsn: str | None = None) -> int:
    demo = Demo(data_dir.resolve(), broker_url, store_dsn)
    stopping = {"now": False}
    signal.signal(signal.SIGINT, lambda *_: stopping.update(now=True))
    signal.signal(signal.SIGTERM, lambda *_: stopping.update(now=True))
    started = time.monotonic()
    try:
        demo.prepare()
        demo.start()
        print(f"watertel demo running (data in {demo.dir})")
        print(f"  console:  http://127.0.0.1:{demo.api_port}/   user: {USER}   password: {demo.password}")
        print(f"  broker:   {demo.broker_url}")
        print(f"  logs:     {demo.logs}/")
        print("  " + (f"stopping in {duration:.0f}s" if duration else "press Ctrl-C to stop"), flush=True)
        next_progress = time.monotonic() + 10
        while not stopping["now"] and (duration is None or time.monotonic() - started < duration):
            dead = [c.name for c in demo.children.values() if not c.alive()]
            if dead:
                raise StartupError(f"{', '.join(dead)} stopped unexpectedly:\n{demo.children[dead[0]].log_tail()}")
            if time.monotonic() >= next_progress:
                _progress(demo, started)
                next_progress += 10
            time.sleep(0.2)
        print("stopping: edge agents drain first …", flush=True)
    except StartupError as err:
        print(f"error: {err}", file=sys.stderr)
        demo.stop()
        return 1
    demo.stop()
    result = demo.summary(time.monotonic() - started)
    print(json.dumps(result))
    return 0 if result["lost"] == 0 and result["rejected"] == 0 and result["changed"] == 0 else 1

"""The system `watertel soak` runs: the demo's system rewired for fault injection.

Compared with `watertel demo` (see demo.py):

* the edge agents reach Mosquitto through a :class:`~watertel.shell.faultproxy.FaultProxy`;
* the cloud runs as separate processes, ``api`` and ``ingest-1`` … ``ingest-N`` (an MQTT shared
  subscription splits the envelopes between the workers), so each can be killed on its own;
* the simulators run a seeded scenario of device faults (offline, exception, corrupted RTU
  CRC) and write the ground truth of when each really started;
* gw-2's buffer lives on a small tmpfs (when the soak may mount one: root with CAP_SYS_ADMIN)
  that the disk-full fault fills with a filler file;
* a tap copies every reading out of the buffers as it is recorded, so readings the agent later
  prunes (sent history, freed when the disk is full) are still reconciled one by one.
"""

from __future__ import annotations

import math
import random
import os
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import yaml

from watertel.shell.demo import Demo
from watertel.shell.postgres import Postgres, find_pg_bin
from watertel.ports import port_open
from watertel.shell.processes import StartupError, http_ok, path_exists, wait_until
from watertel.readings import Quality, Reading

GATEWAYS = ("gw-1", "gw-2")
DEVICE_FAULTS = ("offline", "exception", "crc")
RTU_DEVICES, TCP_DEVICES = ("wq-1", "pt-2"), ("fm-1", "pump-1", "pt-1")
DEVICE_GAP_S = (6.0, 14.0)  # between device faults in the scenario
DISK_GATEWAY = "gw-2"
DISK_SIZE = "8m"


def mount_tmpfs(path: Path, size: str = DISK_SIZE) -> str | None:
    """Mount a size-limited tmpfs at ``path``; None when done, else why it could not be."""
    path.mkdir(parents=True, exist_ok=True)
    if os.path.ismount(path):
        subprocess.run(["umount", "-l", str(path)], capture_output=True)
    if os.geteuid() != 0:
        return "not root: cannot mount a size-limited tmpfs"
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
                          capture_output=True, text=True)
    return None if done.returncode == 0 else f"mount tmpfs failed: {done.stderr.strip()}"


def unmount(path: Path) -> None:
    if os.path.ismount(path):
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def device_scenario(rng: random.Random, seconds: float) -> dict:
    """Seeded offline / exception / crc events over the first ``seconds`` of the simulators' run."""
    events, t, bag = [], 5.0, []
    while True:
        t += rng.uniform(*DEVICE_GAP_S)
        if t >= seconds:
            return {"events": events}
        if not bag:
            bag = rng.sample(DEVICE_FAULTS, len(DEVICE_FAULTS))
        kind = bag.pop()
        device = rng.choice(RTU_DEVICES if kind == "crc" else RTU_DEVICES + TCP_DEVICES)
        events.append({"at": round(t, 1), "for": round(rng.uniform(3, 8), 1), "kind": kind, "device": device})


def postgres_cluster():
    """A throw-away PostgreSQL cluster (initdb in a temporary folder), started."""
    bindir = find_pg_bin()
    if bindir is None:
        raise StartupError("--postgres needs PostgreSQL (Debian: apt-get install postgresql)")
    server = Postgres(bindir)
    server.start()
    return server


class Tap:
    """Copies new buffer rows every ``period_s``; a reading is kept by its key (station, point, t)."""

    def __init__(self, paths: dict[str, Path], period_s: float = 0.3) -> None:
        self.paths, self.period_s = paths, period_s
        self.last_id = dict.fromkeys(paths, 0)
        self.readings: dict[tuple, Reading] = {}
        self.by_gateway: dict[str, set] = {gw: set() for gw in paths}
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="soak-tap", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self.thread.is_alive():
            self.thread.join(10)
        self.sweep()

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            self.sweep()

    def sweep(self) -> None:
        for gw, path in self.paths.items():
            if not path.exists():
                continue
            try:
                with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)) as db:
                    (top,) = db.execute("SELECT coalesce(max(id), 0) FROM readings").fetchone()
                    if top < self.last_id[gw]:  # a new file (set aside as corrupt): ids start again
                        self.last_id[gw] = 0
                    rows = db.execute("SELECT id, station, point, t_ms, value, unit, quality FROM readings"
                                      " WHERE id > ? ORDER BY id", (self.last_id[gw],)).fetchall()
            except sqlite3.Error:
                continue  # busy or being created: next sweep
            for i, s, p, t, v, u, q in rows:
                r = Reading(s, p, t, math.nan if v is None else v, u, Quality(q))
                self.readings.setdefault(r.key(), r)
                self.by_gateway[gw].add(r.key())
                self.last_id[gw] = i


class Steady:
    """Asked again and again with a value: True once it has stayed the same for ``for_s`` seconds."""

    def __init__(self, for_s: float) -> None:
        self.for_s, self.value, self.since = for_s, object(), 0.0

    def __call__(self, value: object) -> bool:
        if value != self.value:
            self.value, self.since = value, time.monotonic()
        return time.monotonic() - self.since >= self.for_s


class SoakSystem(Demo):
    def __init__(self, data_dir: Path, broker_url: str, proxy_port: int, scenario: dict,
                 ingest_workers: int, disk_dir: Path | None, store_dsn: str | None = None) -> None:
        super().__init__(data_dir, broker_url, store_dsn)
        self.proxy_url = f"mqtt://127.0.0.1:{proxy_port}"
        self.scenario, self.workers, self.disk_dir = scenario, ingest_workers, disk_dir
        self.truth = data_dir / "truth.jsonl"

    def buffer_path(self, gw: str) -> Path:
        if gw == DISK_GATEWAY and self.disk_dir is not None:
            return self.disk_dir / f"{gw}-buffer.db"
        return self.dir / f"{gw}-buffer.db"

    def _edit(self, name: str, change) -> None:
        path = self.dir / name
        data = yaml.safe_load(path.read_text())
        change(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False))

    def prepare(self) -> None:
        super().prepare()
        for gw in GATEWAYS:
            def edge(data: dict, gw: str = gw) -> None:
                data["uplink"]["brokers"] = [self.proxy_url]
                data["buffer"]["path"] = str(self.buffer_path(gw))
            self._edit(f"edge-{gw}.yaml", edge)
        def cloud(data: dict) -> None:
            if self.workers > 1:
                data["mqtt"]["shared_group"] = "soak"
            data["resend"] = {"after_s": 3, "repeat_s": 10}  # holes asked for quickly: a soak is short
        self._edit("cloud.yaml", cloud)
        self._write("scenario.yaml", self.scenario)

    # --- processes ----------------------------------------------------------------------------
    def ingest_names(self) -> list[str]:
        return [f"ingest-{i}" for i in range(1, self.workers + 1)]

    def wait_subscribed(self, name: str) -> None:
        child = self.children[name]
        wait_until(lambda: "ingest subscribed" in child.log_path.read_text(errors="replace").split("=== start")[-1],
                   f"{name} to subscribe", child, timeout=30)

    def _start(self, name, args):
        if name.startswith("ingest-"):  # wait_subscribed reads the log from the newest start on
            self.logs.mkdir(parents=True, exist_ok=True)
            with open(self.logs / f"{name}.log", "a") as log:
                log.write("=== start\n")
        return super()._start(name, args)

    def start(self) -> None:
        cloud = str(self.dir / "cloud.yaml")
        api = self._start("api", ["cloud", "api", "--config", cloud])
        wait_until(lambda: http_ok(f"http://127.0.0.1:{self.api_port}/healthz"), "the cloud API", api)
        for i, name in enumerate(self.ingest_names(), 1):
            self._start(name, ["cloud", "ingest", "--config", cloud, "--worker", str(i)])
            self.wait_subscribed(name)
        s = self._start("sim", ["sim", "run", "--config", str(self.dir / "sim.yaml"),
                                "--scenario", str(self.dir / "scenario.yaml"), "--truth", str(self.truth)])
        for port in self.tcp_ports.values():
            wait_until(lambda: port_open(port), f"simulated device on port {port}", s)
        wait_until(lambda: path_exists(self.rtu_link), "the simulated RS-485 bus", s)
        for gw in GATEWAYS:
            self._start(f"edge-{gw}", ["edge", "run", "--config", str(self.dir / f"edge-{gw}.yaml")])

    def stop(self) -> None:
        """Edges first (they drain, and answer the cloud's resends until no chain has a hole),
        then sims, then the cloud once it stored what was sent."""
        # a batch dropped by a full buffer's policy never comes: holes unchanged for 15 s are counted, not waited for
        holes_steady = Steady(15.0)
        wait_until(lambda: not (holes := self._holes()) or holes_steady(holes), "the chain holes to be resent",
                   timeout=120)
        for gw in GATEWAYS:
            if f"edge-{gw}" in self.children:
                self.children[f"edge-{gw}"].stop(timeout=45)
        if "sim" in self.children:
            self.children["sim"].stop()
        published = sum(self._edge_stats(gw)["batches_sent"] for gw in GATEWAYS)
        try:
            wait_until(lambda: self._cloud_counts().get("envelopes", 0) >= published,
                       "the cloud to store every delivered envelope", timeout=60)
        except StartupError as err:
            print(f"warning: {err}", file=sys.stderr)
        # pruned sent history makes the agents' count of sent batches a floor, not the total: wait for a quiet store
        count_steady = Steady(3.0)
        wait_until(lambda: count_steady(self._cloud_counts().get("envelopes", 0)), "the cloud's store to settle",
                   timeout=60)
        for name in ["api", *self.ingest_names()]:
            if name in self.children:
                self.children[name].stop()

    def _holes(self) -> dict:
        store = self.open_store()
        try:
            return store.chain_holes(int(time.time() * 1000))
        finally:
            store.close()

    def _edge_stats(self, gw: str) -> dict:
        path = self.buffer_path(gw)
        if not path.exists():
            return {"batches_sent": 0}
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            (sent,) = db.execute("SELECT count(*) FROM batches WHERE sent_ms IS NOT NULL").fetchone()
        return {"batches_sent": sent}

    def agent_counters(self) -> dict[str, dict[str, int]]:
        """Per gateway: readings ``recorded``, ``dropped`` (size-limit policy), ``unrecorded`` (disk full)."""
        out = {}
        for gw in GATEWAYS:
            path = self.buffer_path(gw)
            if path.exists():
                with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
                    out[gw] = dict(db.execute("SELECT name, n FROM counters").fetchall())
        return out

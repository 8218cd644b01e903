"""`watertel demo`: a small real region on one machine, with embedded defaults.

    simulators (3 Modbus TCP devices, 2 RTU devices on a pseudo-terminal bus)
      → 2 edge agents (poll, decode, SQLite buffer, SM2-signed envelopes)
      → MQTT (embedded amqtt, or --broker-url)
      → cloud (verify, chain, dedupe, SQLite store, alarms, API + console)

around them the region of demo_region.py: a province, two cities, four counties and nineteen
stations in the registry, permits, a metered area, users of every role, notifications to the
demo's own inbox (demo_desk.py). Before the cloud starts, a week of the region's history (half a
year for the permit meters) is replayed through the cloud's ingest path (demo_history.py), so
every page has content on first open; the gateways without an edge agent then go on live
(demo_feed.py).

Every part is a separate process started here and stopped here in order: edge agents first
(they finish their poll, seal and deliver what they hold), then the simulators, then the cloud
once it has stored everything delivered, then the broker. The summary compares, reading by
reading, what the live agents polled with what the cloud stored, and counts the history apart.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import signal
import sqlite3
import sys
import time
from pathlib import Path

import yaml

from watertel.cloud.config import load_cloud_config
from watertel.cloud.registry import load_registry
from watertel.cloud.store import open_store
from watertel.edge_agent.buffer import Buffer, read_all
from watertel.errors import OperatorError
from watertel.keys import write_key_pair
from watertel.ports import free_port, port_open
from watertel.simulators.history import history

from watertel.shell import demo_region as region
from watertel.shell.demo_desk import Inbox, hand_over
from watertel.shell.demo_devices import LIVE, SITES, past_gateways, sim_devices
from watertel.shell.demo_feed import Feed
from watertel.shell.demo_history import Figures, backfill, logged_to, split
from watertel.shell.processes import Child, StartupError, http_ok, mqtt_ready, path_exists, wait_until

MARKER = ".watertel-demo"
USER = "admin"
EDGES = ("gw-1", "gw-2")
BACKFILL_TIMEOUT_S = 300


class Demo:
    """``history_days``: days of back-filled history before the live parts start (0: none, as the
    tests of the live data path want it)."""

    def __init__(self, data_dir: Path, broker_url: str | None, store_dsn: str | None = None,
                 history_days: int = 0) -> None:
        self.store_dsn = store_dsn  # PostgreSQL instead of SQLite for the cloud
        self.dir = data_dir
        self.logs = data_dir / "logs"
        self.broker_port = None if broker_url else free_port()
        self.broker_url = broker_url or f"mqtt://127.0.0.1:{self.broker_port}"
        self.api_port = free_port()
        self.inbox_port = free_port()
        self.tcp_ports = {name: free_port() for name in ("fm-1", "pt-1", "pump-1")}
        self.rtu_link = data_dir / "ttyRS485-0"
        self.passwords = {name: secrets.token_urlsafe(9) for name, *_ in region.USERS}
        self.password = self.passwords[USER]
        self.history_days = history_days
        self.timeline = region.Timeline(time.time(), history_days or 7)
        self.children: dict[str, Child] = {}
        self.argv: dict[str, list[str]] = {}
        self.inbox: Inbox | None = None
        self.feed: Feed | None = None
        self.history: Figures | None = None
        self.handed_over: str | None = None

    @property
    def live_since_ms(self) -> int:
        """Readings sampled from here on are the live agents' (the history of their stations ends before)."""
        return int(self.timeline.now * 1000)

    # --- configuration ------------------------------------------------------------------------
    def _write(self, name: str, data: dict) -> Path:
        path = self.dir / name
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
        return path

    def prepare(self) -> None:
        if self.dir.exists() and any(self.dir.iterdir()) and not (self.dir / MARKER).exists():
            raise StartupError(f"{self.dir} exists and is not a demo folder; choose another --data-dir")
        shutil.rmtree(self.dir, ignore_errors=True)
        (self.dir / "keys").mkdir(parents=True)
        (self.dir / MARKER).touch()
        gateways = region.gateways()
        for name in [g["id"] for g in gateways] + ["cloud-commands"]:  # the cloud signs commands (e.g. resend) with its own key
            write_key_pair(self.dir / "keys", name)
        self._write("registry.yaml", region.registry(self.timeline))
        self._write("users.yaml", {"users": region.users(self.passwords)})
        self._write("gateways.yaml", {"gateways": gateways})
        self._write("notifications.yaml", region.notifications(f"http://127.0.0.1:{self.inbox_port}/hooks/duty-desk",
                                                               f"http://127.0.0.1:{self.api_port}"))
        self._write_sim()
        self._write_edges()
        host, _, port = self.broker_url.split("://", 1)[1].rpartition(":")
        self._write("cloud.yaml", {
            "data_dir": "cloud-data", "command_key": "keys/cloud-commands.key.pem",
            **({"store": {"kind": "postgres", "dsn": self.store_dsn}} if self.store_dsn else {}),
            "mqtt": {"host": host, "port": int(port), "client_id": "watertel-ingest"},
            "api": {"host": "127.0.0.1", "port": self.api_port, "users_file": "users.yaml"},
            "gateways_file": "gateways.yaml", "registry_file": "registry.yaml", "notifications_file": "notifications.yaml",
            "quality": {"timezone": str(region.TZ)},
            "alarms": region.alarms(), "lifecycle": region.lifecycle(),
        })

    def _write_sim(self) -> None:
        """The five live devices under the 瓶窑 site's physics, their totalisers where the history left them."""
        transport = {"fm-1": ("tcp", 1), "pump-1": ("tcp", 4), "pt-1": ("tcp", 2), "wq-1": ("rtu", 3), "pt-2": ("rtu", 2)}
        devices = []
        for entry in sim_devices(self.timeline, self.history_days > 0):
            kind, unit = transport[entry["name"]]
            devices.append({**entry, "unit_id": unit, "transport": {"kind": "tcp", "port": self.tcp_ports[entry["name"]]}
                            if kind == "tcp" else {"kind": "rtu", "link": str(self.rtu_link)}})
        self._write("sim.yaml", {"served_log": str(self.dir / "served.jsonl"),
                                 "site": SITES["pingyao"].model_dump(mode="json"), "devices": devices})

    def _write_edges(self) -> None:
        station = {d.name: d.station for d in LIVE}
        profile = {d.name: d.profile for d in LIVE}
        dev = lambda n, unit: {"name": n, "profile": profile[n], "unit_id": unit, "station": station[n], "poll_interval_s": 1}
        tcp_bus = lambda n, devices: {"name": f"tcp-{n}", "transport": {"kind": "tcp", "host": "127.0.0.1",
                                                                        "port": self.tcp_ports[n]}, "devices": devices}
        buses = {
            "gw-1": [tcp_bus("fm-1", [dev("fm-1", 1)]), tcp_bus("pump-1", [dev("pump-1", 4)])],
            "gw-2": [{"name": "rs485-0", "transport": {"kind": "rtu", "port": str(self.rtu_link), "baudrate": 9600},
                      "timeout_s": 0.5, "devices": [dev("wq-1", 3), dev("pt-2", 2)]},
                     tcp_bus("pt-1", [dev("pt-1", 2)])],
        }
        for gw in EDGES:
            self._write(f"edge-{gw}.yaml", {
                "gateway_id": gw, "key": {"private_key": f"keys/{gw}.key.pem", "key_id": f"{gw}-k1"},
                "uplink": {"brokers": [self.broker_url]}, "buffer": {"path": f"{gw}-buffer.db"},
                "batching": {"max_readings": 500, "max_latency_s": 1.0}, "buses": buses[gw],
                "flag_unsynced_clock": False,  # a developer's machine or a VM often runs without NTP
                "commands": {"cloud_public_key": "keys/cloud-commands.pub.pem", "allow": ["read_now", "resend"]},
            })

    # --- processes ----------------------------------------------------------------------------
    def _start(self, name: str, args: list[str]) -> Child:
        self.children[name] = child = Child.watertel(name, args, self.logs)
        self.argv[name] = args
        return child

    def restart(self, name: str) -> Child:
        """Start a stopped (or killed) part again with the same arguments."""
        return self._start(name, self.argv[name])

    def start(self, progress=None) -> None:
        """Broker, simulators, [the history], cloud, edge agents, [the region's played gateways live]."""
        if self.broker_port:
            b = self._start("broker", ["broker", "--listen", f"127.0.0.1:{self.broker_port}"])
            wait_until(lambda: mqtt_ready(self.broker_port), "the embedded MQTT broker", b)
        self.inbox = Inbox(self.logs / "notifications.jsonl", self.inbox_port)
        # the devices take their ports before the history's seconds of replay (another program
        # could take a port chosen free in the meantime); the edges poll them only later
        s = self._start("sim", ["sim", "run", "--config", str(self.dir / "sim.yaml")])
        for port in self.tcp_ports.values():
            wait_until(lambda: port_open(port), f"simulated device on port {port}", s)
        wait_until(lambda: path_exists(self.rtu_link), "the simulated RS-485 bus", s)
        if self.history_days:
            self._backfill(progress)
        c = self._start("cloud", ["cloud", "run", "--config", str(self.dir / "cloud.yaml")])
        wait_until(lambda: http_ok(f"http://127.0.0.1:{self.api_port}/healthz"), "the cloud API", c)
        wait_until(lambda: "ingest subscribed" in c.log_path.read_text(errors="replace"), "the cloud's ingest", c)
        if self.feed is not None:
            self.feed.ready.set()
        for gw in EDGES:
            self._start(f"edge-{gw}", ["edge", "run", "--config", str(self.dir / f"edge-{gw}.yaml")])
        if self.history_days:
            try:
                self.handed_over = hand_over(f"http://127.0.0.1:{self.api_port}",
                                             ("operator", self.passwords["operator"]), "LA-NET1", "crew")
            except (OSError, ValueError, KeyError, TypeError) as err:  # the demo runs on without it (HTTPError is an OSError)
                self.handed_over = f"the hand-over to the crew failed: {err}"

    def _backfill(self, progress) -> None:
        """Replay the region's past through the cloud's ingest path; keep the rest of the stream live."""
        cfg = load_cloud_config(self.dir / "cloud.yaml")
        tl = self.timeline
        gateways = past_gateways(self.dir / "keys", tl)
        past, rest = split(history(gateways), self.live_since_ms)
        self.feed = Feed(self.broker_url, rest, [g for g in gateways if g.id not in EDGES])
        self.feed.start()
        run = backfill(cfg, load_registry(cfg.registry_file), self.broker_url, past, int(tl.at(tl.long_start) * 1000),
                       int(tl.at(tl.week_start) * 1000), self.live_since_ms, progress)
        try:
            with logged_to(self.logs / "history.log"):
                self.history = asyncio.run(asyncio.wait_for(run, BACKFILL_TIMEOUT_S))
        except TimeoutError:
            raise StartupError(f"the history was not replayed within {BACKFILL_TIMEOUT_S} s") from None

    def stop(self) -> None:
        """Edges first (they drain), then the played gateways and sims, then the cloud once it
        stored what was sent, then the broker."""
        for name in ("edge-gw-1", "edge-gw-2"):
            if name in self.children:
                self.children[name].stop(timeout=45)
        if self.feed is not None:
            self.feed.stop()
        if "sim" in self.children:
            self.children["sim"].stop()
        if "cloud" in self.children:
            expected = self._history_stored() + self._feed_acked() + sum(self._edge_stats(gw)["batches_sent"] for gw in EDGES)
            wait_for_store = lambda: self._cloud_counts().get("envelopes", 0) >= expected
            try:
                wait_until(wait_for_store, "the cloud to store every delivered envelope", timeout=30)
            except StartupError as err:
                print(f"warning: {err}", file=sys.stderr)
            self.children["cloud"].stop()
        if "broker" in self.children:
            self.children["broker"].stop()
        if self.inbox is not None:
            self.inbox.close()

    # --- figures ------------------------------------------------------------------------------
    def _history_stored(self) -> int:
        return self.history.outcomes["stored"] if self.history else 0

    def _feed_acked(self) -> int:
        return self.feed.counts["acked"] if self.feed else 0

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
        """The live agents' readings reconciled one by one with the store; the history and the
        played gateways' live envelopes counted apart."""
        polled, published = [], 0
        for gw in EDGES:
            path = self.dir / f"{gw}-buffer.db"
            if path.exists():
                polled += read_all(path)
                buf = Buffer(path, gw)
                published += buf.stats()["published"]
                buf.close()
        live = {d.station for d in LIVE}
        store = self.open_store()
        try:
            stored = {r.key(): r for r in store.readings() if r.station in live and r.t_ms >= self.live_since_ms}
            counts = store.counts()
            alarms = store.alarms()
        finally:
            store.close()
        lost = [r for r in polled if r.key() not in stored]
        changed = [r for r in polled if r.key() in stored and not r.same_as(stored[r.key()])]
        by_type = lambda rows: dict(sorted(_count(a["type"] for a in rows).items()))
        return {
            "duration_s": round(duration_s, 1), "gateways": len(EDGES), "devices": len(LIVE),
            "live_since_ms": self.live_since_ms,
            "polled": len(polled), "published": published, "stored": len(stored),
            "verified": counts["envelopes"] - self._history_stored() - self._feed_acked(),
            "rejected": sum(counts["refused"].values()),
            "rejected_by_reason": counts["refused"], "lost": len(lost), "changed": len(changed),
            "faulty_readings": sum(1 for r in polled if r.quality != 0),
            "alarms": counts["alarms"],
            "alarms_live": by_type(a for a in alarms if a["raised_ms"] >= self.live_since_ms),
            "history": self.history and {**self.history.summary(),
                                         "alarms": by_type(a for a in alarms if a["raised_ms"] < self.live_since_ms)},
            "region_live": self.feed and {**self.feed.counts, "error": str(self.feed.error) if self.feed.error else None},
            "operator": self.handed_over,
        }


def _count(items) -> dict:
    out: dict = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out


def _progress(demo: Demo, started: float) -> None:
    counts = demo._cloud_counts()
    print(f"  {time.monotonic() - started:5.0f}s  envelopes stored: {counts.get('envelopes', 0)}"
          f"  refused: {counts.get('refused_n', 0)}", flush=True)


def _history_progress(figures: Figures, t_ms: int) -> None:
    stamp = time.strftime("%m-%d %H:%M", time.gmtime(t_ms / 1000 + 8 * 3600))
    print(f"  history: replayed to {stamp} (China time)  envelopes {figures.envelopes}"
          f"  stored {figures.outcomes['stored']}", flush=True)


def command(args) -> int:
    """`watertel demo`."""
    if args.duration is not None and not args.duration > 0:
        raise OperatorError(f"--duration must be > 0 seconds (got {args.duration:g}; leave it out to run until Ctrl-C)")
    return run_demo(Path(args.data_dir), args.duration, args.broker_url, args.postgres, args.history_days)


def _print_start(demo: Demo, backfill_s: float | None) -> None:
    print(f"watertel demo running (data in {demo.dir})")
    print(f"  console:  http://127.0.0.1:{demo.api_port}/   user: {USER}   password: {demo.password}")
    for name, role, regions in region.USERS[1:]:
        scope = ", ".join(regions) or "all regions"
        print(f"            user: {name:<9} password: {demo.passwords[name]}   ({role}, {scope})")
    if demo.history is not None:
        h = demo.history
        print(f"  history:  {h.envelopes} envelopes, {h.readings} readings replayed in {backfill_s:.1f}s"
              f" (stored {h.outcomes['stored']}, refused {h.summary()['refused']})")
    if demo.handed_over:
        print(f"  operator: {demo.handed_over}")
    print(f"  broker:   {demo.broker_url}")
    print(f"  logs:     {demo.logs}/ (notifications: {demo.logs / 'notifications.jsonl'})")


def run_demo(data_dir: Path, duration: float | None, broker_url: str | None, store_dsn: str | None = None,
             history_days: int = 7) -> int:
    demo = Demo(data_dir.resolve(), broker_url, store_dsn, history_days)
    stopping = {"now": False}
    signal.signal(signal.SIGINT, lambda *_: stopping.update(now=True))
    signal.signal(signal.SIGTERM, lambda *_: stopping.update(now=True))
    began = time.monotonic()
    try:
        demo.prepare()
        if history_days:
            print(f"watertel demo: replaying {history_days} days of the region's history (half a year for the permit"
                  " meters) before the cloud starts …", flush=True)
        demo.start(_history_progress)
        started = time.monotonic()
        _print_start(demo, demo.history.seconds if demo.history else None)
        print(f"  started in {started - began:.1f}s; " + (f"stopping in {duration:.0f}s" if duration else
                                                           "press Ctrl-C to stop"), flush=True)
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
    print(json.dumps(result, ensure_ascii=False))
    history_ok = demo.history is None or demo.history.summary()["refused"] == 0
    return 0 if result["lost"] == 0 and result["rejected"] == 0 and result["changed"] == 0 and history_ok else 1

"""`watertel soak`: the real system under seeded random faults, then a reading-by-reading account.

It runs the demo's system (simulated Modbus TCP and RTU devices, two edge agents, an API and
``--ingest-workers`` ingest workers (default 1), the cloud on SQLite or with ``--postgres`` on a
throw-away PostgreSQL) against a local Mosquitto with persistence, the agents reaching it through
a fault proxy (soak_system.py). One seeded generator picks every fault, its moment and its
length. The harness injects, one after another, in seeded order (each kind once a round, 1–4 s
apart):

* ``kill_edge`` / ``kill_ingest`` / ``kill_api``: kill -9 of an edge agent, an ingest worker or
  the API, restarted 1–3 s later;
* ``broker_restart``: Mosquitto stopped for 2–5 s, then started again;
* ``proxy_drop``: every agent connection closed and new ones refused for 2–5 s;
* ``proxy_delay``: 0.2–1.5 s added to every chunk both ways for 3–8 s;
* ``proxy_cut``: each agent connection torn in the middle of its next chunk;
* ``disk_full``: gw-2's buffer tmpfs filled to the last byte for 4–10 s (needs root to mount it;
  otherwise this kind is left out and the JSON says why);
* ``hostile``: forged (signed by an unknown key), replayed, garbage and oversized messages on a
  gateway's topic.

Meanwhile the simulators play a seeded scenario: ``device_offline``, ``device_exception`` and
``device_crc`` (corrupted RTU frames) for 3–8 s each, counted from their ground truth.

At the end everything stops in order and every reading the agents recorded (tapped from their
buffers as they were written) is looked up in the cloud's store. The last stdout line is one JSON
object; exit status 0 only when nothing was lost, changed or stored twice and no process died
unasked. Recovery time: from the end of a fault to the next envelope stored (API: to healthz).
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import paho.mqtt.client as mqtt

from watertel.crypto import SM2PrivateKey
from watertel.envelope import MAX_ENVELOPE_BYTES, ChainState, seal
from watertel.shell.faultproxy import FaultProxy
from watertel.shell.mosquitto import Mosquitto, find_mosquitto
from watertel.errors import OperatorError
from watertel.ports import free_port
from watertel.shell.processes import StartupError, http_ok, wait_until
from watertel.readings import Reading
from watertel.shell.soak_system import (
    DEVICE_FAULTS, DISK_GATEWAY, GATEWAYS, SoakSystem, Tap, device_scenario, mount_tmpfs, postgres_cluster, unmount,
)

FAULTS = ("kill_edge", "kill_ingest", "kill_api", "broker_restart", "proxy_drop", "proxy_delay", "proxy_cut",
          "disk_full", "hostile")
FAULT_GAP_S = (1.0, 4.0)  # between harness faults: a 10-minute soak injects well over 50
SETTLE_S = 15  # no fault in the last seconds: the system catches up before the account


class Soak:
    def __init__(self, data_dir: Path, minutes: float, seed: int, ingest_workers: int = 1,
                 postgres: bool = False) -> None:
        binary = find_mosquitto()
        if binary is None:
            raise StartupError("the soak needs Mosquitto (Debian: apt-get install mosquitto)")
        self.rng, self.minutes = random.Random(seed), minutes
        shutil.rmtree(data_dir / "mosquitto", ignore_errors=True)  # no sessions left from an earlier soak
        self.broker = Mosquitto(binary, data_dir / "mosquitto")
        self.proxy = FaultProxy(free_port(), self.broker.port)
        self.pg = postgres_cluster() if postgres else None
        self.disk_dir = data_dir / "gw-disk"
        self.disk_unavailable = mount_tmpfs(self.disk_dir)
        if self.disk_unavailable:
            print(f"  soak: disk_full left out ({self.disk_unavailable})", file=sys.stderr)
        scenario = device_scenario(self.rng, minutes * 60 - SETTLE_S - 10)
        self.system = SoakSystem(data_dir / "system", self.broker.url, self.proxy.listen_port, scenario,
                                 ingest_workers, None if self.disk_unavailable else self.disk_dir,
                                 self.pg.new_database() if self.pg else None)
        self.tap = Tap({gw: self.system.buffer_path(gw) for gw in GATEWAYS})
        self.kinds = [k for k in FAULTS if not (k == "disk_full" and self.disk_unavailable)]
        self.faults: Counter[str] = Counter()
        self.exits: Counter[str] = Counter()  # processes that died without being killed
        self.errors: list[str] = []  # faults the harness failed to inject
        self.forger = SM2PrivateKey.generate()  # crypto loaded now, once: not from a tree edited meanwhile
        seal([Reading("ST-PH1", "flow", 0, 0.0, "m3/h")], self.forger, "gw-1", "gw-1-k1", ChainState(), 0)
        self.recoveries: list[float] = []
        self.captured: list[tuple[str, bytes]] = []  # genuine envelopes seen on the wire, for replays

    def say(self, text: str) -> None:
        print(f"  soak {time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)

    # --- the run ------------------------------------------------------------------------------
    def run(self) -> dict:
        spy = None
        try:
            self.broker.start()
            self.proxy.start()
            self.system.prepare()
            try:
                self.system.start()
                self.tap.start()
                began, spy = time.monotonic(), self._spy()
                self._inject(began + self.minutes * 60 - SETTLE_S)
                time.sleep(max(0.0, began + self.minutes * 60 - time.monotonic()))
                self._check_alive()
            finally:
                if spy:
                    spy.disconnect()
                    spy.loop_stop()
                self.system.stop()
                self.tap.stop()
            self.proxy.stop()
            self.broker.stop()
            return self._account(time.monotonic() - began)
        finally:
            self.proxy.stop()
            self.broker.stop()
            for part in self.disk_dir.glob("*-buffer.db*") if self.system.dir.exists() else []:
                shutil.copy2(part, self.system.dir / part.name)  # kept for a post-mortem
            unmount(self.disk_dir)
            if self.pg:
                self.pg.stop()

    def _inject(self, end: float) -> None:
        bag: list[str] = []
        while True:
            time.sleep(self.rng.uniform(*FAULT_GAP_S))
            if time.monotonic() >= end:
                return
            if not bag:
                bag = self.rng.sample(self.kinds, len(self.kinds))
            kind = bag.pop()
            self.say(f"fault: {kind}")
            try:
                getattr(self, f"_{kind}")()
            except Exception as err:  # a harness failure is reported in the JSON, not a crash without one
                self.errors.append(f"{kind}: {type(err).__name__}: {err}")
                self.say(f"fault {kind} failed: {err!r}")
            self.faults[kind] += 1
            self._check_alive()

    def _check_alive(self) -> None:
        """A part that died unasked is a finding: count it, show its log, start it again."""
        for name, child in list(self.system.children.items()):
            if not child.alive():
                self.exits[name] += 1
                self.say(f"{name} exited unasked (status {child.proc.returncode}):\n{child.log_tail()}")
                self.system.restart(name)

    def _spy(self) -> mqtt.Client:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="soak-spy")
        client.on_connect = lambda c, u, f, rc, p: c.subscribe("watertel/+/up", qos=0)
        client.on_message = lambda c, u, m: self.captured.append((m.topic, m.payload)) if len(self.captured) < 20 else None
        client.connect_async("127.0.0.1", self.broker.port)
        client.loop_start()
        return client

    # --- faults -------------------------------------------------------------------------------
    def _kill(self, name: str) -> None:
        self.system.children[name].proc.kill()
        self.system.children[name].proc.wait()
        time.sleep(self.rng.uniform(1, 3))
        self.system.restart(name)

    def _kill_edge(self) -> None:
        self._kill(f"edge-{self.rng.choice(GATEWAYS)}")
        self._recovered()

    def _kill_ingest(self) -> None:
        name = self.rng.choice(self.system.ingest_names())
        self._kill(name)
        self.system.wait_subscribed(name)
        self._recovered()

    def _kill_api(self) -> None:
        self._kill("api")
        start = time.monotonic()
        wait_until(lambda: http_ok(f"http://127.0.0.1:{self.system.api_port}/healthz"), "the API back",
                   self.system.children["api"], timeout=60)
        self.recoveries.append(time.monotonic() - start)

    def _broker_restart(self) -> None:
        self.broker.stop()
        time.sleep(self.rng.uniform(2, 5))
        self.broker.start()
        self._recovered()

    def _proxy_drop(self) -> None:
        seconds = self.rng.uniform(2, 5)
        self.proxy.drop(seconds)
        time.sleep(seconds)
        self._recovered()

    def _proxy_delay(self) -> None:
        seconds = self.rng.uniform(3, 8)
        self.proxy.delay(seconds, self.rng.uniform(0.2, 1.5))
        time.sleep(seconds)
        self._recovered()

    def _proxy_cut(self) -> None:
        self.proxy.cut()
        self._recovered()

    def _disk_full(self) -> None:
        """Fill gw-2's buffer filesystem to the last byte, hold, free it."""
        filler = self.disk_dir / "filler"
        try:
            with open(filler, "wb", buffering=0) as f:  # unbuffered: nothing left to fail at close
                try:
                    while True:
                        f.write(b"\0" * 65536)
                except OSError as err:
                    if err.errno != errno.ENOSPC:
                        raise
            time.sleep(self.rng.uniform(4, 10))
        finally:  # whatever happened, the disk is given back
            filler.unlink(missing_ok=True)
        self._recovered()

    def _hostile(self) -> None:
        forged, _ = seal([Reading("ST-PH1", "flow", int(time.time() * 1000), 9999.0, "m3/h")],
                         self.forger, "gw-1", "gw-1-k1", ChainState(), int(time.time() * 1000))
        topic = "watertel/gw-1/up"
        messages = [(topic, forged), (topic, os.urandom(self.rng.randint(1, 300))),
                    (topic, b"WT" + os.urandom(MAX_ENVELOPE_BYTES))]
        if self.captured:
            messages.append(self.rng.choice(self.captured))  # a replay on its own topic: a duplicate, dropped
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"soak-hostile-{self.rng.random()}")
        client.connect("127.0.0.1", self.broker.port)
        client.loop_start()
        try:
            for topic, message in messages:
                client.publish(topic, message, qos=1).wait_for_publish(10)
        finally:
            client.disconnect()
            client.loop_stop()

    def _recovered(self) -> None:
        """Seconds from now (the fault just ended) until the cloud stores another envelope."""
        start, before = time.monotonic(), self.system._cloud_counts().get("envelopes", 0)
        try:
            wait_until(lambda: self.system._cloud_counts().get("envelopes", 0) > before, "recovery", timeout=60)
            self.recoveries.append(time.monotonic() - start)
        except StartupError:
            self.recoveries.append(60.0)

    # --- the account --------------------------------------------------------------------------
    def _device_faults(self) -> Counter[str]:
        """Device faults that really started, from the simulators' ground truth."""
        started: Counter[str] = Counter()
        if self.system.truth.exists():
            for line in self.system.truth.read_text().splitlines():
                record = json.loads(line)
                if record.get("phase") == "start" and record.get("kind") in DEVICE_FAULTS:
                    started[f"device_{record['kind']}"] += 1
        return started

    def _failed_polls(self) -> Counter[str]:
        """Polls whose readings the agent neither recorded nor counted, from its log (by cause)."""
        failed: Counter[str] = Counter()
        for gw in GATEWAYS:
            log = self.system.logs / f"edge-{gw}.log"
            for line in log.read_text(errors="replace").splitlines() if log.exists() else []:
                if "failed unexpectedly" in line:
                    failed["disk_full" if "disk is full" in line else "other"] += 1
        return failed

    def _account(self, duration_s: float) -> dict:
        store = self.system.open_store()
        try:
            stored = {r.key(): r for r in store.readings()}
            refused = store.counts()["refused"]
            stored_twice = store.readings_stored_twice()
        finally:
            store.close()
        polled = self.tap.readings
        lost = [k for k in polled if k not in stored]
        changed = [k for k, r in polled.items() if k in stored and not r.same_as(stored[k])]
        counters = self.system.agent_counters()
        # readings the agent recorded that the tap never saw (pruned first): cannot be reconciled
        untapped = sum(max(0, c.get("recorded", 0) - len(self.tap.by_gateway[gw])) for gw, c in counters.items())
        r = sorted(self.recoveries)
        faults = dict(self.faults) | dict(self._device_faults())
        return {
            "minutes": self.minutes, "duration_s": round(duration_s, 1),
            "store": "postgres" if self.pg else "sqlite", "ingest_workers": self.system.workers,
            "polled": len(polled), "stored": len(stored), "lost": len(lost), "changed": len(changed),
            "duplicated": stored_twice, "untapped": untapped,
            "dropped_by_policy": sum(c.get("dropped", 0) for c in counters.values()),
            "unrecorded_disk_full": sum(c.get("unrecorded", 0) for c in counters.values()),
            "polls_unrecorded_uncounted": dict(self._failed_polls()),
            "refused": refused, "faults": faults, "faults_total": sum(faults.values()),
            "proxy_torn_mid_chunk": self.proxy.torn, "unexpected_exits": dict(self.exits),
            "harness_errors": self.errors,
            "disk_full": self.disk_unavailable or f"{DISK_GATEWAY} buffer on a tmpfs",
            "recovery_p50_s": round(statistics.median(r), 2) if r else None,
            "recovery_p99_s": round(r[min(len(r) - 1, int(len(r) * 0.99))], 2) if r else None,
            "lost_sample": [list(k) for k in lost[:5]],
        }


def command(args) -> int:
    """`watertel soak`."""
    if not args.minutes > 0 or args.ingest_workers < 1:
        raise OperatorError(f"--minutes must be > 0 and --ingest-workers >= 1 (got {args.minutes:g} and "
                            f"{args.ingest_workers})")
    return run_soak(Path(args.data_dir), args.minutes, args.seed, args.ingest_workers, args.postgres)


def run_soak(data_dir: Path, minutes: float, seed: int, ingest_workers: int = 1, postgres: bool = False) -> int:
    try:
        result = Soak(data_dir.resolve(), minutes, seed, ingest_workers, postgres).run()
    except RuntimeError as err:  # StartupError, or Mosquitto that would not start
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    ok = not (result["lost"] or result["duplicated"] or result["changed"] or result["untapped"]
              or result["unexpected_exits"] or result["harness_errors"])
    return 0 if ok else 1

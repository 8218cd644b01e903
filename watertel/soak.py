"""`watertel soak`: the real system under seeded random faults, then a reading-by-reading account.

It runs the demo's system (simulated Modbus TCP and RTU devices, two edge agents, the cloud with
SQLite) against a local Mosquitto with persistence, and at random but seeded moments:

* ``kill_edge``: kill -9 of an edge agent, restarted 1–3 s later;
* ``kill_cloud``: kill -9 of the cloud service (ingest + API), restarted 1–3 s later;
* ``broker_restart``: Mosquitto stopped for 2–5 s, then started again;
* ``hostile``: forged (signed by an unknown key), replayed, garbage and oversized messages on a
  gateway's topic.

At the end everything stops in order and the readings the agents recorded are compared with what
the cloud stored. The last stdout line is one JSON object; exit status 0 only when nothing was
lost and nothing stored twice. Recovery time: from the end of a fault to the next envelope
stored by the cloud.
"""

from __future__ import annotations

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
from watertel.demo import Demo
from watertel.envelope import MAX_ENVELOPE_BYTES, ChainState, seal
from watertel.mosquitto import Mosquitto, find_mosquitto
from watertel.processes import StartupError, http_ok, wait_until
from watertel.readings import Reading

FAULTS = ("kill_edge", "kill_cloud", "broker_restart", "hostile")
SETTLE_S = 15  # no fault in the last seconds: the system catches up before the account


class Soak:
    def __init__(self, data_dir: Path, minutes: float, seed: int) -> None:
        binary = find_mosquitto()
        if binary is None:
            raise StartupError("the soak needs Mosquitto (Debian: apt-get install mosquitto)")
        self.rng, self.minutes = random.Random(seed), minutes
        shutil.rmtree(data_dir / "mosquitto", ignore_errors=True)  # no sessions left from an earlier soak
        self.broker = Mosquitto(binary, data_dir / "mosquitto")
        self.demo = Demo(data_dir / "system", self.broker.url)
        self.faults: Counter[str] = Counter()
        self.recoveries: list[float] = []
        self.captured: list[tuple[str, bytes]] = []  # genuine envelopes seen on the wire, for replays

    def say(self, text: str) -> None:
        print(f"  soak {time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)

    # --- the run ------------------------------------------------------------------------------
    def run(self) -> dict:
        self.broker.start()
        self.demo.prepare()
        self.demo.start()
        began, spy = time.monotonic(), self._spy()
        try:
            end = began + self.minutes * 60 - SETTLE_S
            while time.monotonic() < end:
                time.sleep(self.rng.uniform(3, 8))
                if time.monotonic() >= end:
                    break
                kind = self.rng.choice(FAULTS)
                self.say(f"fault: {kind}")
                getattr(self, f"_{kind}")()
                self.faults[kind] += 1
            time.sleep(max(0.0, began + self.minutes * 60 - time.monotonic()))
        finally:
            spy.disconnect()
            spy.loop_stop()
            self.demo.stop()
            self.broker.stop()
        return self._account(time.monotonic() - began)

    def _spy(self) -> mqtt.Client:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="soak-spy")
        client.on_connect = lambda c, u, f, rc, p: c.subscribe("watertel/+/up", qos=0)
        client.on_message = lambda c, u, m: self.captured.append((m.topic, m.payload)) if len(self.captured) < 20 else None
        client.connect_async("127.0.0.1", self.broker.port)
        client.loop_start()
        return client

    # --- faults -------------------------------------------------------------------------------
    def _restart_after_kill(self, name: str) -> None:
        self.demo.children[name].proc.kill()
        self.demo.children[name].proc.wait()
        time.sleep(self.rng.uniform(1, 3))
        self.demo.restart(name)
        if name == "cloud":
            wait_until(lambda: http_ok(f"http://127.0.0.1:{self.demo.api_port}/healthz"), "cloud back", timeout=30)
        self._recovered()

    def _kill_edge(self) -> None:
        self._restart_after_kill(self.rng.choice(["edge-gw-1", "edge-gw-2"]))

    def _kill_cloud(self) -> None:
        self._restart_after_kill("cloud")

    def _broker_restart(self) -> None:
        self.broker.stop()
        time.sleep(self.rng.uniform(2, 5))
        self.broker.start()
        self._recovered()

    def _hostile(self) -> None:
        forged, _ = seal([Reading("ST-PH1", "flow", int(time.time() * 1000), 9999.0, "m3/h")],
                         SM2PrivateKey.generate(), "gw-1", "gw-1-k1", ChainState(), int(time.time() * 1000))
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
        start, before = time.monotonic(), self.demo._cloud_counts().get("envelopes", 0)
        try:
            wait_until(lambda: self.demo._cloud_counts().get("envelopes", 0) > before, "recovery", timeout=60)
            self.recoveries.append(time.monotonic() - start)
        except StartupError:
            self.recoveries.append(60.0)

    # --- the account --------------------------------------------------------------------------
    def _account(self, duration_s: float) -> dict:
        summary = self.demo.summary(duration_s)
        store = self.demo.open_store()
        try:
            (stored_twice,) = store._rows("SELECT count(*) - count(DISTINCT station || '|' || point || '|' || t_ms)"
                                          " FROM readings")[0]
        finally:
            store.close()
        r = sorted(self.recoveries)
        return {
            "minutes": self.minutes, "polled": summary["polled"], "stored": summary["stored"],
            "lost": summary["lost"], "changed": summary["changed"], "duplicated": stored_twice,
            "refused": summary["rejected_by_reason"], "faults": dict(self.faults),
            "recovery_p50_s": round(statistics.median(r), 2) if r else None,
            "recovery_p99_s": round(r[min(len(r) - 1, int(len(r) * 0.99))], 2) if r else None,
        }


def run_soak(data_dir: Path, minutes: float, seed: int) -> int:
    try:
        result = Soak(data_dir.resolve(), minutes, seed).run()
    except StartupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0 if result["lost"] == 0 and result["duplicated"] == 0 and result["changed"] == 0 else 1

"""Two ingest workers share one subscription on a real Mosquitto; one is killed with -9 in the
middle of the stream and started again: every published envelope is stored, each reading once."""

from __future__ import annotations

import sqlite3
import time

import paho.mqtt.client as mqtt
import pytest
import yaml

from watertel.crypto import SM2PrivateKey
from watertel.envelope import ChainState, seal
from watertel.keys import write_key_pair
from watertel.shell.processes import Child, wait_until
from watertel.readings import Reading

GATEWAYS, ENVELOPES, PER = 5, 300, 50


T0 = int(time.time() * 1000) - 86_400_000  # a day ago: inside the ingest's sample-time window


def envelopes(tmp_path) -> list[tuple[str, bytes]]:
    out, keys, states = [], {}, {}
    for g in range(GATEWAYS):
        write_key_pair(tmp_path / "keys", f"gw-{g}")
        keys[g] = SM2PrivateKey.from_pem((tmp_path / "keys" / f"gw-{g}.key.pem").read_text())
        states[g] = ChainState()
    for i in range(ENVELOPES):
        g = i % GATEWAYS
        readings = [Reading(f"S{g}", "flow", T0 + (i * PER + j) * 1000, float(j), "m3/h") for j in range(PER)]
        data, states[g] = seal(readings, keys[g], f"gw-{g}", "k1", states[g], T0)
        out.append((f"gw-{g}", data))
    return out


def counts(db) -> tuple[int, int, int]:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return (conn.execute("SELECT count(*) FROM envelopes").fetchone()[0],
                    conn.execute("SELECT count(*) FROM readings").fetchone()[0],
                    conn.execute("SELECT count(*) FROM quarantine").fetchone()[0])
    except sqlite3.OperationalError:
        return (0, 0, 0)


@pytest.mark.server
@pytest.mark.timeout(180)
def test_killing_one_of_two_workers_loses_nothing(mosquitto, tmp_path):
    sealed = envelopes(tmp_path)
    (tmp_path / "cloud.yaml").write_text(yaml.safe_dump({
        "data_dir": str(tmp_path / "data"),
        "mqtt": {"host": "127.0.0.1", "port": mosquitto, "client_id": "ingest", "shared_group": "ingest"},
        "gateways": [{"id": f"gw-{g}", "key_id": "k1", "public_key": f"keys/gw-{g}.pub.pem", "stations": [f"S{g}"]}
                     for g in range(GATEWAYS)]}))
    args = lambda w: ["cloud", "ingest", "--worker", str(w), "--config", str(tmp_path / "cloud.yaml")]
    logs = tmp_path / "logs"
    workers = [Child.watertel(f"ingest-{w}", args(w), logs) for w in range(2)]
    db = tmp_path / "data" / "watertel.db"
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="publisher")
    publisher.connect("127.0.0.1", mosquitto)
    publisher.loop_start()
    try:
        for w in range(2):
            wait_until(lambda: "ingest subscribed" in (logs / f"ingest-{w}.log").read_text(), f"worker {w}", workers[w])
        for i, (gw, data) in enumerate(sealed):
            publisher.publish(f"watertel/{gw}/up", data, qos=1).wait_for_publish(10)
            if i == ENVELOPES // 3:
                wait_until(lambda: counts(db)[0] > 0, "the workers storing")
                workers[0].proc.kill()  # mid-stream, likely mid-batch
                workers[0].proc.wait()
            if i == ENVELOPES // 2:
                workers[0] = Child.watertel("ingest-0", args(0), logs)  # same client id: its session resumes
            time.sleep(0.005)
        wait_until(lambda: counts(db)[0] >= ENVELOPES, "every envelope stored", workers[1], timeout=90)
    finally:
        publisher.disconnect()
        publisher.loop_stop()
        for w in workers:
            w.stop()
    assert counts(db) == (ENVELOPES, ENVELOPES * PER, 0)
    last_life = (logs / "ingest-0.log").read_text().rsplit("ingest subscribed", 1)[1]
    assert "'stored': " in last_life, "the restarted worker took its share (and what waited for it)"

"""Benchmark (not a test): what a flood of refused messages costs the cloud (issue 21, item 7).

Run: .venv/bin/python bench/bench_ingest_flood.py [--messages 100] [--size 1048578]

A real Mosquitto and a real `watertel cloud ingest` (the demo's configuration, SQLite); one client
publishes ``--messages`` messages of ``--size`` bytes (over MAX_ENVELOPE_BYTES: refused as
``too_large``) at QoS 1 on a registered gateway's topic. Measured: seconds until every one is
quarantined, the growth of the database and its WAL, and the refusal warnings in the cloud's log
after one refusal-log period (10 s). The last stdout line is the JSON of the figures.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from watertel.shell.demo import Demo
from watertel.shell.mosquitto import Mosquitto, find_mosquitto
from watertel.shell.processes import Child, wait_until


def _size(db: Path) -> int:
    return sum(p.stat().st_size for p in (db, db.with_name(db.name + "-wal")) if p.exists())


def _quarantined(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT count(*) FROM quarantine").fetchone()[0]


def _flood(port: int, n: int, body: bytes) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="flood")
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for info in [client.publish("watertel/gw-1/up", body, qos=1) for _ in range(n)]:
            info.wait_for_publish(timeout=60)
    finally:
        client.disconnect()
        client.loop_stop()


def measure(work: Path, n: int, size: int) -> dict:
    broker = Mosquitto(find_mosquitto(), work / "mosquitto")
    broker.start()
    try:
        demo = Demo(work / "demo", f"mqtt://127.0.0.1:{broker.port}")
        demo.prepare()
        db, log = demo.dir / "cloud-data" / "watertel.db", demo.logs / "cloud.log"
        cloud = Child.watertel("cloud", ["cloud", "ingest", "--config", str(demo.dir / "cloud.yaml")], demo.logs)
        try:
            wait_until(lambda: log.exists() and "ingest subscribed" in log.read_text(), "the cloud ingest", cloud)
            before, started = _size(db), time.monotonic()
            _flood(broker.port, n, b"WT" + b"\x00" * (size - 2))
            wait_until(lambda: _quarantined(db) == n, "every message quarantined", cloud, timeout=300)
            seconds = time.monotonic() - started
            print(f"{n} messages quarantined in {seconds:.2f} s; waiting one refusal-log period", file=sys.stderr)
            time.sleep(11)
        finally:
            cloud.stop()
        lines = [line for line in log.read_text().splitlines() if "level=warning" in line and "refused" in line]
        return {"messages": n, "bytes_each": size, "seconds_to_quarantine": round(seconds, 2),
                "db_growth_mb": round((_size(db) - before) / 2**20, 2), "refusal_warning_lines": len(lines)}
    finally:
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--size", type=int, default=(1 << 20) + 2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        print(json.dumps(measure(Path(work), args.messages, args.size)))


if __name__ == "__main__":
    main()

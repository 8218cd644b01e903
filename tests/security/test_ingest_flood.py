"""Issue 21, item 7: refused messages must not fill the disk or the log.

The attack as found: 100 messages of 1 MB on a gateway's topic (each refused as ``too_large``)
grew the database by 100 MB in 1.1 s, kept every body whole in quarantine and logged one warning
each. Replayed here through a real Mosquitto into a real `watertel cloud ingest`."""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml

from watertel.envelope import MAX_ENVELOPE_BYTES
from watertel.shell.demo import Demo
from watertel.shell.processes import Child, wait_until

MESSAGES = 100
BODY = b"WT" + b"\x00" * MAX_ENVELOPE_BYTES  # 1 MB and a little: refused as too_large


def _files_size(db: Path) -> int:
    """The database and its write-ahead log, as the disk sees them."""
    return sum(p.stat().st_size for p in (db, db.with_name(db.name + "-wal")) if p.exists())


def _quarantine(db: Path) -> tuple[int, int, int, set]:
    """(rows, bytes of message kept, bytes the messages had, reasons)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows, kept, size = conn.execute("SELECT count(*), coalesce(sum(length(payload)), 0), coalesce(sum(size), 0)"
                                        " FROM quarantine").fetchone()
        reasons = {r for (r,) in conn.execute("SELECT DISTINCT reason FROM quarantine")}
    return rows, kept, size, reasons


def _publish(port: int, topic: str, payloads: list[bytes]) -> float:
    """Publish at QoS 1 and wait for every PUBACK; the seconds it took."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="flood")
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        started = time.monotonic()
        infos = [client.publish(topic, p, qos=1) for p in payloads]
        for info in infos:
            info.wait_for_publish(timeout=60)
        return time.monotonic() - started
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.mark.server
def test_a_flood_of_large_messages_leaves_a_bounded_quarantine_and_few_log_lines(mosquitto, tmp_path):
    demo = Demo(tmp_path / "demo", f"mqtt://127.0.0.1:{mosquitto}")
    demo.prepare()
    cfg_path = demo.dir / "cloud.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["ingest"] = {"refusal_log_every_s": 2}  # the counts come sooner than the default 10 s
    cfg_path.write_text(yaml.safe_dump(cfg))
    db, log = demo.dir / "cloud-data" / "watertel.db", demo.logs / "cloud.log"
    cloud = Child.watertel("cloud", ["cloud", "ingest", "--config", str(cfg_path)], demo.logs)
    try:
        wait_until(lambda: log.exists() and "ingest subscribed" in log.read_text(), "the cloud ingest", cloud)
        before = _files_size(db)
        took = _publish(mosquitto, "watertel/gw-1/up", [BODY] * MESSAGES)
        wait_until(lambda: _quarantine(db)[0] == MESSAGES, "every message quarantined", cloud, timeout=60)
        counted = re.compile(r"refused (\d+) messages from gw-1 \(too_large\)")
        wait_until(lambda: sum(int(n) for n in counted.findall(log.read_text())) == MESSAGES,
                   "the refusals counted in the log", cloud, timeout=30)
        grown = _files_size(db) - before
    finally:
        cloud.stop()

    rows, kept, size, reasons = _quarantine(db)
    assert reasons == {"too_large"} and size == MESSAGES * len(BODY)  # what came is known ...
    assert kept == MESSAGES * 256  # ... but only the first 256 bytes of each are kept
    assert grown < 8 * 2**20, f"database and WAL grew {grown / 2**20:.1f} MB for {MESSAGES} MB refused"
    lines = [line for line in log.read_text().splitlines() if "refused" in line and "gw-1" in line
             and "alarm" not in line]
    assert 2 <= len(lines) <= 6, "\n".join(lines)  # the first in full, then counts per 2 s period
    print(f"\n{MESSAGES} x {len(BODY)} bytes published in {took:.2f} s: database + WAL grew {grown / 2**20:.2f} MB,"
          f" {len(lines)} log lines")

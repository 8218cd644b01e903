"""Nothing lost: kill -9 of the cloud service and of an edge agent, and a broker restart, in one
run of the real system (Mosquitto with persistence, as in production). Every reading an edge
agent accepted into its buffer must be stored by the cloud exactly once, unchanged."""

from __future__ import annotations

import sqlite3
import time
import urllib.request

import pytest

from watertel.shell.demo import Demo
from watertel.shell.processes import http_ok, wait_until


def _envelopes(demo: Demo) -> int:
    with sqlite3.connect(f"file:{demo.dir / 'cloud-data' / 'watertel.db'}?mode=ro", uri=True) as db:
        return db.execute("SELECT count(*) FROM envelopes").fetchone()[0]


def _stored_metric(demo: Demo) -> float:
    """watertel_readings_stored_total from the cloud's /metrics (Prometheus text format)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{demo.api_port}/metrics", timeout=5) as page:
        text = page.read().decode()
    return float(next(line.split()[1] for line in text.splitlines() if line.startswith("watertel_readings_stored_total")))


@pytest.mark.server
@pytest.mark.timeout(240)
def test_kill_9_and_broker_restart_lose_nothing(mosquitto_server, tmp_path):
    demo = Demo(tmp_path / "demo", f"mqtt://127.0.0.1:{mosquitto_server.port}")
    demo.prepare()
    demo.start()
    try:
        wait_until(lambda: _envelopes(demo) >= 4, "first envelopes stored", timeout=60)
        first = _stored_metric(demo)
        wait_until(lambda: _stored_metric(demo) > first > 0, "the stored-readings metric moving", timeout=30)

        demo.children["cloud"].proc.kill()  # kill -9 mid-stream: unacknowledged envelopes come again
        time.sleep(3)
        demo.restart("cloud")
        wait_until(lambda: http_ok(f"http://127.0.0.1:{demo.api_port}/healthz"), "cloud back", timeout=30)

        demo.children["edge-gw-2"].proc.kill()  # kill -9 of a gateway: its buffer survives
        time.sleep(2)
        demo.restart("edge-gw-2")

        mosquitto_server.stop()  # broker restart: agents keep buffering, then catch up
        time.sleep(4)
        mosquitto_server.start()
        before = _envelopes(demo)
        wait_until(lambda: _envelopes(demo) >= before + 6, "delivery after the broker restart", timeout=90)
    finally:
        demo.stop()

    summary = demo.summary(0)
    assert summary["polled"] > 150, summary
    assert summary["lost"] == 0 and summary["changed"] == 0 and summary["rejected"] == 0, summary
    assert summary["stored"] == summary["polled"], summary

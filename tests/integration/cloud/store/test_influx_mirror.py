"""The InfluxDB mirror: line protocol, batching, retry, and ingest never waiting on InfluxDB.

Most tests run against a small HTTP server started here on a free loopback port that implements
POST /api/v2/write (no InfluxDB 2/3 server can be installed on Debian: its InfluxDB 1.6 lacks that
endpoint). ``test_a_real_influxdb_gets_the_readings_and_returns_them`` writes to and queries a real
InfluxDB through influxdb-client when INFLUX_URL is set (with INFLUX_TOKEN, INFLUX_ORG,
INFLUX_BUCKET); it skips only when INFLUX_URL is unset.


This file holds the tests that need a real server or run a command; the others are in
tests/unit/cloud/store/test_influx_mirror.py."""

from __future__ import annotations

import logging
import os
import time
import uuid
from pathlib import Path
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse
import threading

import pytest

from watertel.cloud import metrics
from watertel.cloud.store.config import InfluxConfig
from watertel.cloud.store.influx_mirror import InfluxMirror, line
from watertel.readings import Reading

TOKEN = "s3cret-token-never-logged"


class FakeInflux:
    """POST /api/v2/write: answers from ``script`` (status codes, then 204), or hangs while ``hang`` is set.

    ``accepted`` holds the bodies answered 204; ``attempts`` every request as (query, headers, body).
    """

    def __init__(self, script: list[int | tuple[int, dict]] | None = None) -> None:
        self.script, self.accepted, self.attempts = list(script or []), [], []
        self.hang, self.release = threading.Event(), threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                url = urlparse(self.path)
                fake.attempts.append((parse_qs(url.query), dict(self.headers), body))
                if fake.hang.is_set():
                    fake.release.wait(10)
                    return
                status, headers = fake.script.pop(0) if fake.script else 204, {}
                if isinstance(status, tuple):
                    status, headers = status
                if url.path != "/api/v2/write":
                    status = 404
                if status == 204:
                    fake.accepted.append(body)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                payload = b"" if status == 204 else b'{"code":"x","message":"scripted failure"}'
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-influx")
        self.thread.start()

    def lines(self) -> list[str]:
        return [x for body in self.accepted for x in body.decode().split("\n")]

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def influx():
    fake = FakeInflux()
    yield fake
    fake.stop()


def config(url: str, tmp_path: Path, **kw) -> InfluxConfig:
    (tmp_path / "token").write_text(TOKEN + "\n")
    base = dict(enabled=True, url=url, org="water", bucket="tel", token_file=tmp_path / "token",
                flush_interval_ms=50, retry_interval_ms=20, timeout_ms=2000)
    return InfluxConfig(**{**base, **kw})


def readings(n: int, station: str = "ST-1", t0: int = 1_764_432_000_000) -> list[Reading]:
    return [Reading(station, "flow", t0 + i * 1000, 10.0 + i / 4, "m3/h") for i in range(n)]


def wait_for(check, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def metric(outcome: str) -> float:
    return metrics.REGISTRY.get_sample_value("watertel_influx_readings_total", {"outcome": outcome}) or 0.0


def test_every_reading_arrives_once_in_batches_with_precision_org_bucket_and_token(influx, tmp_path):
    mirrored = metric("mirrored")
    mirror = InfluxMirror(config(influx.url, tmp_path, batch_size=1000))
    try:
        sent = readings(2500, "ST-1") + readings(3, "ST 2")
        for i in range(0, len(sent), 7):  # as ingest hands them over: a few per committed batch
            mirror.offer(sent[i:i + 7])
        wait_for(lambda: mirror.counts["mirrored"] == len(sent))
    finally:
        mirror.close()
    assert sorted(influx.lines()) == sorted(line(r) for r in sent)  # each exactly once
    assert len(influx.lines()) == len(set(influx.lines()))
    assert max(b.count(b"\n") + 1 for b in influx.accepted) == 1000  # full batches while readings keep coming
    query, headers, _ = influx.attempts[0]
    assert query == {"org": ["water"], "bucket": ["tel"], "precision": ["ms"]}
    assert headers["Authorization"] == f"Token {TOKEN}"
    assert mirror.counts == {"mirrored": 2503} and metric("mirrored") - mirrored == 2503


def test_a_partial_batch_is_sent_after_the_flush_interval(influx, tmp_path):
    mirror = InfluxMirror(config(influx.url, tmp_path, batch_size=1000, flush_interval_ms=100))
    try:
        start = time.monotonic()
        mirror.offer(readings(3))
        wait_for(lambda: len(influx.accepted) == 1, timeout=5)
        assert 0.09 < time.monotonic() - start < 3
    finally:
        mirror.close()
    assert influx.lines() == [line(r) for r in readings(3)]


def test_503_and_429_are_retried_until_accepted_and_stored_once(influx, tmp_path):
    influx.script = [503, (429, {"Retry-After": "0"}), 503]
    mirror = InfluxMirror(config(influx.url, tmp_path, max_retries=5))
    try:
        mirror.offer(readings(10))
        wait_for(lambda: mirror.counts["mirrored"] == 10)
    finally:
        mirror.close()
    assert len(influx.attempts) == 4 and len({body for *_, body in influx.attempts}) == 1  # the same batch again
    assert influx.lines() == [line(r) for r in readings(10)]
    assert "failed" not in mirror.counts


def test_when_retries_run_out_the_batch_is_counted_failed_and_logged_without_the_token(influx, tmp_path, caplog):
    influx.script = [503] * 3 + [204]
    failed = metric("failed")
    mirror = InfluxMirror(config(influx.url, tmp_path, max_retries=2))
    try:
        with caplog.at_level(logging.INFO, logger="watertel.cloud.influx"):
            mirror.offer(readings(4))
            wait_for(lambda: mirror.counts["failed"] == 4)
            mirror.offer(readings(2, "ST-2"))  # InfluxDB is back
            wait_for(lambda: mirror.counts["mirrored"] == 2)
    finally:
        mirror.close()
    assert len(influx.attempts) == 4 and metric("failed") - failed == 4
    mine = [r for r in caplog.records if r.name == "watertel.cloud.influx"]  # not other loggers of the process
    warnings = [r.getMessage() for r in mine if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "4 readings not mirrored: HTTP 503" in warnings[0], warnings
    assert any("writing again" in r.getMessage() for r in mine if r.levelno == logging.INFO)
    assert TOKEN not in caplog.text


def test_a_refusal_is_not_retried(influx, tmp_path, caplog):
    influx.script = [400]
    mirror = InfluxMirror(config(influx.url, tmp_path, max_retries=5))
    try:
        with caplog.at_level(logging.WARNING, logger="watertel.cloud.influx"):
            mirror.offer(readings(3))
            wait_for(lambda: mirror.counts["failed"] == 3)
    finally:
        mirror.close()
    assert len(influx.attempts) == 1 and "HTTP 400" in caplog.text and "scripted failure" in caplog.text


def test_repeated_failures_warn_once_then_quietly(influx, tmp_path, caplog):
    influx.script = [400] * 5
    mirror = InfluxMirror(config(influx.url, tmp_path, batch_size=1))
    try:
        with caplog.at_level(logging.DEBUG, logger="watertel.cloud.influx"):
            mirror.offer(readings(5))
            wait_for(lambda: mirror.counts["failed"] == 5)
    finally:
        mirror.close()
    levels = [r.levelno for r in caplog.records if r.name == "watertel.cloud.influx"]
    assert levels.count(logging.WARNING) == 1 and levels.count(logging.DEBUG) >= 4


def test_a_hanging_influxdb_never_blocks_ingest_and_overflow_is_counted(influx, tmp_path, caplog):
    influx.hang.set()
    dropped = metric("dropped")
    mirror = InfluxMirror(config(influx.url, tmp_path, batch_size=10, queue_size=50, timeout_ms=30_000,
                                 max_retries=0))
    try:
        wait_for(lambda: True)
        start = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="watertel.cloud.influx"):
            for i in range(100):  # 10,000 readings while the first POST hangs
                mirror.offer(readings(100, f"ST-{i}"))
        offered_s = time.monotonic() - start
        wait_for(lambda: len(influx.attempts) == 1)
    finally:
        influx.release.set()  # the server drops the connection: the hung write fails
        mirror.close(timeout_s=10)
    assert offered_s < 0.5, f"offer took {offered_s:.2f} s"
    c = mirror.counts
    assert c["dropped"] >= 10_000 - 50 - 10 and metric("dropped") - dropped == c["dropped"]
    assert c["dropped"] + c["failed"] + c["mirrored"] == 10_000  # every reading accounted for
    assert "dropped (mirror queue full)" in caplog.text


def test_the_ingest_handler_mirrors_new_readings_once_and_not_duplicates(influx, tmp_path):
    from watertel.cloud.alarms.engine import AlarmEngine
    from watertel.cloud.gateways import GatewayEntry
    from watertel.cloud.ingest.handler import Handler
    from watertel.cloud.ingest.gateway_keys import GatewayKeys
    from watertel.cloud.store.sqlite import SqliteStore
    from watertel.crypto import SM2PrivateKey
    from watertel.envelope import ChainState, seal

    key = SM2PrivateKey.generate()
    (tmp_path / "gw.pub.pem").write_text(key.public.to_pem())
    store = SqliteStore(tmp_path / "w.db")
    mirror = InfluxMirror(config(influx.url, tmp_path))
    registry = GatewayKeys([GatewayEntry(id="gw-1", key_id="k1", public_key=tmp_path / "gw.pub.pem", stations=["S1"])])
    handler = Handler(store, registry, AlarmEngine(store), mirror=mirror, clock=lambda: 1_764_432_000.0)  # arrival near the samples
    envs, state = [], ChainState()
    for i in range(3):
        data, state = seal(readings(2, "S1", t0=1_764_432_000_000 + i * 10_000), key, "gw-1", "k1", state, 0)
        envs.append(data)
    try:
        assert handler.handle_many([("watertel/gw-1/up", e) for e in envs]) == ["stored"] * 3
        assert handler.handle("watertel/gw-1/up", envs[1]) == "duplicate"
        wait_for(lambda: mirror.counts["mirrored"] == 6)
        stored = store.readings()
    finally:
        mirror.close()
        store.close()
    assert len(stored) == 6 and sorted(influx.lines()) == sorted(line(r) for r in stored)


def test_a_real_influxdb_gets_the_readings_and_returns_them(tmp_path):
    """Runs when INFLUX_URL is set (with INFLUX_TOKEN, INFLUX_ORG, INFLUX_BUCKET); skips only without it."""
    url = os.environ.get("INFLUX_URL")
    if not url:
        pytest.skip("INFLUX_URL not set: no InfluxDB 2/3 to write to")
    from influxdb_client import InfluxDBClient

    org, bucket = os.environ["INFLUX_ORG"], os.environ["INFLUX_BUCKET"]
    (tmp_path / "token").write_text(os.environ["INFLUX_TOKEN"])
    station = f"test {uuid.uuid4().hex[:8]},é"  # a fresh series, with characters that need escaping
    now = int(time.time() * 1000) - 60_000
    sent = readings(50, station, t0=now)
    mirror = InfluxMirror(InfluxConfig(enabled=True, url=url, org=org, bucket=bucket, token_file=tmp_path / "token",
                                       batch_size=20, flush_interval_ms=100))
    try:
        mirror.offer(sent)
        wait_for(lambda: mirror.counts["mirrored"] + mirror.counts["failed"] == 50, timeout=30)
    finally:
        mirror.close()
    assert mirror.counts["mirrored"] == 50, mirror.counts
    with InfluxDBClient(url=url, token=os.environ["INFLUX_TOKEN"], org=org) as client:
        flux = (f'from(bucket: "{bucket}") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "reading"'
                f' and r.station == "{station}" and r._field == "value")')
        got = sorted((int(rec.get_time().timestamp() * 1000), rec.get_value())
                     for table in client.query_api().query(flux) for rec in table.records)
    assert got == [(r.t_ms, r.value) for r in sent]

"""The upward forwarder: readings in an edge buffer → `watertel forward` → a simulated regulator
platform (simulators/platform.py), in SZY 206 and SL 651: every reading received once with its
value; the platform down then up; a kill -9 mid-stream (duplicates only as whole re-sent
frames); a platform that refuses or never answers (retried with back-off); the config's errors;
and split / multi-packet messages joined by the platform and the rtu-gateway.

This file holds the kill -9 and whole-system tests; the others are in
tests/unit/edge_agent/forward/test_forward.py and
tests/integration/edge_agent/forward/test_forward.py."""

from __future__ import annotations

import json

import pytest

from watertel.ports import free_port, port_open
from watertel.shell.processes import Child, wait_until
from watertel.readings import Reading

from tests.support.forward import expected, fill_buffer, forward_config, minutes_ago, received, station_readings


def _assert_once_or_resent(protocol: str, reports: list[dict], readings: list[Reading]) -> None:
    """Every reading arrived; a report that arrived twice is the same frame, byte for byte."""
    got = received(protocol, reports)
    assert set(got) == set(expected(readings))
    by_time: dict[tuple, set] = {}
    for rec in reports:
        by_time.setdefault((rec["address"], rec["t_ms"], tuple(sorted(rec["values"]))), set()).add(tuple(rec["frames"]))
    assert all(len(frames) == 1 for frames in by_time.values()), [k for k, f in by_time.items() if len(f) > 1]
    repeated = sum(n - 1 for n in got.values())
    assert repeated <= 4 * 2, repeated  # at most the frame in flight at the kill (its values) came twice


@pytest.mark.timeout(60)
@pytest.mark.parametrize("protocol", ["szy206", "sl651"])
def test_kill_9_mid_stream_loses_nothing_and_repeats_only_whole_frames(tmp_path, protocol):
    n = 60
    readings = station_readings(protocol, n, minutes_ago(n))
    fill_buffer(tmp_path / "gw-1.db", readings)
    port, record, logs = free_port(), tmp_path / "platform.jsonl", tmp_path / "logs"
    cfg = forward_config(tmp_path, protocol, port)
    platform = Child.watertel("platform", ["sim", "platform", "--listen", f"127.0.0.1:{port}", "--protocol", protocol,
                                           "--record", str(record), "--ack-delay", "0.03"], logs)
    forwarder = None
    lines = lambda: len(record.read_text().splitlines()) if record.exists() else 0
    frames_per_sample = 2 if protocol == "szy206" else 1
    try:
        wait_until(lambda: port_open(port), "the platform's port", platform)
        forwarder = Child.watertel("forward-1", ["forward", "--config", str(cfg)], logs)
        wait_until(lambda: lines() >= 20, "20 reports", forwarder)
        forwarder.proc.kill()
        forwarder.proc.wait()
        at_kill = lines()
        assert at_kill < n * frames_per_sample  # mid-stream
        forwarder = Child.watertel("forward-2", ["forward", "--config", str(cfg)], logs)
        reports = lambda: [json.loads(line) for line in record.read_text().splitlines()]
        wait_until(lambda: set(received(protocol, reports())) >= set(expected(readings)), "every reading",
                   forwarder, 40)
        assert forwarder.stop() == 0, forwarder.log_tail()
    finally:
        for child in (forwarder, platform):
            if child:
                child.stop()
    got = reports()
    _assert_once_or_resent(protocol, got, readings)

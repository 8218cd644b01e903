"""The web console in a real Chromium against a real uvicorn server and a real SQLite store:
login and its errors, the latest values and open alarms, live updates by polling, and log out.

This file holds the tests that need no server and start no process; the others are in
tests/integration/cloud/api/test_console_browser.py."""

from __future__ import annotations

from watertel.cloud.store.sqlite import SqliteStore


def test_a_closed_store_leaves_the_alarm_gauges_out_of_a_scrape_not_the_counters(tmp_path):
    from watertel.cloud import metrics

    gone = SqliteStore(tmp_path / "gone.db")
    metrics.watch_store(gone)
    gone.close()
    metrics.READINGS.inc(0)
    assert metrics.REGISTRY.get_sample_value("watertel_readings_stored_total") is not None
    assert metrics.REGISTRY.get_sample_value("watertel_alarms_open", {"severity": "orange"}) is None

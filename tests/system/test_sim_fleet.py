"""`watertel sim fleet` against the real system: the cloud's rates equal the fleet's oracle, exactly.

A real Mosquitto, the real `watertel cloud ingest` (SQLite) started with the cloud.yaml the fleet
wrote, 20 gateways every second with drop-outs, late delivery, duplicates and reordering, then
`watertel report rates` for the run's day. The oracle is the fleet's own count of what it
published (simulators/fleet_oracle.py), computed without cloud/quality.


This file holds the kill -9 and whole-system tests; the others are in
tests/unit/simulators/test_sim_fleet.py."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from watertel.shell.processes import Child, wait_until

FLEET = ["--gateways", "20", "--interval", "1", "--duration", "24", "--on-time-intervals", "5", "--late-by", "14",
         "--drop", "0.06", "--late", "0.08", "--duplicate", "0.1", "--reorder", "0.1", "--seed", "11", "--lead", "10"]


STATION_KEYS = ("expected", "received", "on_time", "late", "service_days", "silent_days", "abnormal_days",
                "upload_rate", "timeliness", "reporting_normally", "abnormal")


OVERALL_KEYS = ("stations", "reporting_normally", "abnormal_stations", "expected", "received", "on_time",
                "completeness", "upload_rate", "timeliness", "abnormal_rate")


def _stored_envelopes(cloud_yaml: Path) -> int:
    from watertel.cloud.config import load_cloud_config
    from watertel.cloud.store import open_store

    try:
        cfg = load_cloud_config(cloud_yaml)
        store = open_store(cfg.store, cfg.data_dir)
    except Exception:  # not created yet
        return -1
    try:
        return store.counts()["envelopes"]
    finally:
        store.close()


@pytest.mark.timeout(150)
def test_the_cloud_computes_the_rates_the_fleet_oracle_wrote(mosquitto_server, tmp_path):
    out = tmp_path / "fleet"
    fleet = subprocess.Popen([sys.executable, "-m", "watertel", "sim", "fleet", "--broker", mosquitto_server.url,
                              "--out", str(out), *FLEET], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ingest = None
    try:
        wait_until(lambda: (out / "cloud.yaml").exists() or fleet.poll() is not None, "the fleet's cloud.yaml", timeout=30)
        assert fleet.poll() is None, fleet.communicate()[1]
        first_sample = yaml.safe_load((out / "registry.yaml").read_text())["stations"][0]["commissioned"]
        ingest = Child.watertel("ingest", ["cloud", "ingest", "--config", str(out / "cloud.yaml")], tmp_path / "logs")
        wait_until(lambda: "ingest subscribed" in ingest.log_tail(50), "the ingest subscription", ingest, timeout=20)
        assert time.time() < dt.datetime.fromisoformat(first_sample).timestamp(), "ingest subscribed after the first sample"

        stdout, stderr = fleet.communicate(timeout=100)
        assert fleet.returncode == 0, stderr
        summary = json.loads(stdout.strip().splitlines()[-1])
        oracle = json.loads((out / "oracle.json").read_text())
        assert all(summary[k] > 0 for k in ("dropped", "late", "duplicated", "reordered")), summary
        assert summary["failed"] == 0 and oracle["margins"]["close_calls"] == 0, (summary, oracle["margins"])
        assert "fleet" in stderr and "published" in stderr  # progress lines

        envelopes = sum(s["received"] for s in oracle["stations"]) // len(oracle["points"])
        wait_until(lambda: _stored_envelopes(out / "cloud.yaml") >= envelopes, f"{envelopes} envelopes stored",
                   ingest, timeout=30)
    finally:
        if fleet.poll() is None:
            fleet.kill()
            fleet.communicate()
        if ingest is not None:
            ingest.stop()

    report = subprocess.run([sys.executable, "-m", "watertel", "report", "rates", "--config", str(out / "cloud.yaml"),
                             "--period", oracle["period"], "--format", "json"], capture_output=True, text=True, timeout=60)
    assert report.returncode == 0, report.stderr
    cloud = json.loads(report.stdout)
    assert oracle["period"] == dt.datetime.fromisoformat(oracle["start"]).date().isoformat()  # today, in the rates calendar
    assert _stored_envelopes(out / "cloud.yaml") == envelopes  # duplicates stored once

    by_station = {s["station"]: s for s in cloud["stations"]}
    assert sorted(by_station) == sorted(s["station"] for s in oracle["stations"])
    mismatches = {s["station"]: {k: (by_station[s["station"]][k], s[k]) for k in STATION_KEYS
                                 if by_station[s["station"]][k] != s[k]}
                  for s in oracle["stations"]}
    assert not {k: v for k, v in mismatches.items() if v}, "station (cloud, oracle) differ"
    assert {k: cloud["overall"][k] for k in OVERALL_KEYS} == {k: oracle["overall"][k] for k in OVERALL_KEYS}
    assert 0 < oracle["overall"]["timeliness"] < 1 and 0 < oracle["overall"]["upload_rate"] < 1

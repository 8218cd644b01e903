"""`watertel sim fleet` against the real system: the cloud's rates equal the fleet's oracle, exactly.

A real Mosquitto, the real `watertel cloud ingest` (SQLite) started with the cloud.yaml the fleet
wrote, 20 gateways every second with drop-outs, late delivery, duplicates and reordering, then
`watertel report rates` for the run's day. The oracle is the fleet's own count of what it
published (simulators/fleet_oracle.py), computed without cloud/quality.
"""

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


# --- the oracle and the options, without a broker ------------------------------------------------


def test_the_oracle_counts_reports_per_slot_and_point_by_hand():
    from watertel.simulators.fleet_oracle import GatewayLog, oracle

    t0, step = 1_764_432_000_000, 1000  # 2025-11-30T00:00+08:00 (a local midnight), 1 s slots
    samples = [t0 + k * step + 100 for k in range(20)]
    # A: every slot, one of them 30 s late; B: 2 of 20 dropped (upload 90 %: not normal, abnormal); C: silent
    a = GatewayLog([t + 50 for t in samples], list(samples))
    a.received_ms[3] = samples[3] + 30_000
    b = GatewayLog([None if k in (4, 9) else t + 10 for k, t in enumerate(samples)],
                   [None if k in (4, 9) else t for k, t in enumerate(samples)], dropped=2)
    c = GatewayLog([None] * 20, [None] * 20, dropped=20)
    doc = oracle([("g-a", "A", a), ("g-b", "B", b), ("g-c", "C", c)], t0, step, 20, "Asia/Shanghai",
                 on_time_s=5, late_by_s=30, points=["flow", "total"], guard_s=1)
    st = {s["station"]: s for s in doc["stations"]}
    assert (st["A"]["expected"], st["A"]["received"], st["A"]["on_time"], st["A"]["late"]) == (40, 40, 38, 2)
    assert st["A"]["reporting_normally"] and not st["A"]["abnormal"] and st["A"]["timeliness"] == 38 / 40
    assert (st["B"]["received"], st["B"]["upload_rate"], st["B"]["dropped"]) == (36, 0.9, 4)
    assert not st["B"]["reporting_normally"] and st["B"]["abnormal"] and st["B"]["abnormal_days"] == 1
    assert st["C"]["silent_days"] == 1 and st["C"]["timeliness"] is None and st["C"]["abnormal"]
    assert doc["overall"] == {"stations": 3, "reporting_normally": 1, "abnormal_stations": 2, "expected": 120,
                              "received": 76, "on_time": 74, "completeness": 1 / 3, "upload_rate": 76 / 120,
                              "timeliness": 74 / 76, "abnormal_rate": 2 / 3}
    assert doc["period"] == "2025-11-30" and doc["margins"]["close_calls"] == 0
    assert doc["margins"]["on_time_max_delay_s"] == 0.05 and doc["margins"]["late_min_delay_s"] == 30


def test_a_run_across_local_midnight_is_reported_over_both_days():
    from watertel.simulators.fleet_oracle import GatewayLog, oracle

    t0 = 1_764_432_000_000 - 5000  # five 1-s slots before the local midnight, five after
    samples = [t0 + k * 1000 for k in range(10)]
    log = GatewayLog([None if k >= 5 else t for k, t in enumerate(samples)], list(samples))
    doc = oracle([("g", "S", log)], t0, 1000, 10, "Asia/Shanghai", 5, 30, ["flow"], 1)
    assert doc["period"] == "2025-11-29..2025-11-30"
    s = doc["stations"][0]
    assert (s["service_days"], s["silent_days"], s["abnormal_days"], s["abnormal"]) == (2, 1, 1, True)


@pytest.mark.parametrize("change, message", [
    ({"late_by_s": 65}, r"--late-by 65 s is too close to the on-time window of 60 s: use at least 70 s so ingest delay"),
    ({"drop": 1.5}, r"--drop is a probability 0\.\.1 \(got 1\.5\)"),
    ({"broker": "mqtts://x:8883"}, r"--broker must be mqtt://HOST\[:PORT\]"),
    ({"on_time_intervals": 1}, r"--on-time-intervals must be >= 2"),
    ({"timezone": "Mars/Olympus"}, r"--timezone: unknown time zone 'Mars/Olympus'"),
])
def test_options_that_would_make_the_oracle_untrustworthy_are_refused(tmp_path, change, message):
    from watertel.simulators.fleet import FleetOptions
    from watertel.errors import OperatorError

    base = dict(gateways=2, interval_s=5, broker="mqtt://127.0.0.1:1883", duration_s=10, out=tmp_path)
    FleetOptions(**base).check()  # the defaults are fine: late-by 120 s for a 60 s window
    with pytest.raises(OperatorError, match=message):
        FleetOptions(**{**base, **change}).check()


def test_a_folder_not_written_by_the_fleet_is_never_wiped(tmp_path):
    from watertel.simulators.fleet_setup import prepare_dir
    from watertel.errors import OperatorError

    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(OperatorError, match="was not written by `watertel sim fleet`"):
        prepare_dir(tmp_path)
    assert (tmp_path / "precious.txt").read_text() == "keep me"

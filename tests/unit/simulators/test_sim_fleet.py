"""`watertel sim fleet` against the real system: the cloud's rates equal the fleet's oracle, exactly.

A real Mosquitto, the real `watertel cloud ingest` (SQLite) started with the cloud.yaml the fleet
wrote, 20 gateways every second with drop-outs, late delivery, duplicates and reordering, then
`watertel report rates` for the run's day. The oracle is the fleet's own count of what it
published (simulators/fleet_oracle.py), computed without cloud/quality.


This file holds the tests that need no server and start no process; the others are in
tests/system/test_sim_fleet.py."""

from __future__ import annotations

import pytest


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

"""`watertel sim run --profile …` as a vendor runs it: one device over TCP or on a pty, a
scenario, simulated time running faster than the wall clock, bad scenarios refused.

This file holds the tests that need a real server or run a command; the others are in
tests/unit/simulators/test_sim_cli.py."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pymodbus.client import ModbusSerialClient, ModbusTcpClient

from watertel.ports import free_port, port_open

WATERTEL = Path(sys.executable).with_name("watertel")
START = "2024-06-01T00:00:00+08:00"
T0 = 1717171200.0


def _start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, Path]:
    out = tmp_path / "sim.out"
    with open(out, "wb") as sink:  # a file, not a pipe: nobody has to keep reading it
        proc = subprocess.Popen([str(WATERTEL), "sim", "run", *args], stdout=sink, stderr=subprocess.STDOUT)
    return proc, out


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0


def _wait(condition, proc: subprocess.Popen, out: Path, what: str) -> None:
    deadline = time.monotonic() + 15
    while not condition():
        assert proc.poll() is None, f"sim exited: {out.read_text()}"
        assert time.monotonic() < deadline, f"no {what}: {out.read_text()}"
        time.sleep(0.05)


def test_speed_runs_hours_of_simulated_time_in_seconds(tmp_path):
    """At 3600× an hour passes each wall second: polls over ~3 s see three simulated hours, and
    the spike scheduled at 1 h shows up at 1 h of simulated time (checked on the served log's
    simulated timestamps, not by timing the test)."""
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"start: '{START}'\nevents:\n  - {{at: 1h, for: 20m, kind: spike, point: flow, value: 777}}\n")
    port, served, truth = free_port(), tmp_path / "served.jsonl", tmp_path / "truth.jsonl"
    proc, out = _start(tmp_path, "--profile", "emf_flow_meter", "--tcp", f"127.0.0.1:{port}", "--speed", "3600",
                       "--scenario", str(scenario), "--served-log", str(served), "--truth", str(truth), "--tick", "10")
    try:
        _wait(lambda: port_open(port), proc, out, "TCP port")
        client = ModbusTcpClient("127.0.0.1", port=port, timeout=1)
        client.connect()
        until = time.monotonic() + 3.5
        while time.monotonic() < until:
            assert not client.read_holding_registers(0, count=8, device_id=1).isError()
            time.sleep(0.02)
        client.close()
    finally:
        _stop(proc)
    flow = [(r["t_sim"] - T0, r["value"]) for r in map(json.loads, served.read_text().splitlines()) if r["point"] == "flow"]
    assert flow[-1][0] - flow[0][0] > 2.5 * 3600, "simulated time should have run ~3600× the wall clock"
    spiked = [t for t, v in flow if v == 777]
    assert spiked and 3600 <= min(spiked) and max(spiked) < 3600 + 1200
    assert all(v != 777 for t, v in flow if not 3600 <= t < 3600 + 1200)
    assert len(spiked) >= 3  # 20 simulated minutes at one read per ~72 simulated seconds
    records = [json.loads(line) for line in truth.read_text().splitlines()]
    assert [(r["phase"], r["t_sim"] - T0) for r in records] == [("scheduled", 3600), ("start", 3600), ("end", 4800)]


def test_rtu_prints_the_pty_to_connect_to(tmp_path):
    proc, out = _start(tmp_path, "--profile", "pressure_4_20ma", "--rtu", "--unit", "7", "--link", str(tmp_path / "tty0"),
                       "--start", START)
    try:
        _wait(lambda: "rtu /dev/" in out.read_text(), proc, out, "pty path")
        line = out.read_text().splitlines()[0]
        assert line.startswith("rtu /dev/pts/") and "pressure_4_20ma (unit 7)" in line, line
        device = line.split()[1]
        client = ModbusSerialClient(device, baudrate=9600, timeout=1)
        assert client.connect()
        reading = client.read_input_registers(0, count=1, device_id=7)
        client.close()
    finally:
        _stop(proc)
    assert not reading.isError(), reading
    assert 0.45 < reading.registers[0] * 0.001 < 0.55  # night pressure in MPa at 00:00, from the site physics


@pytest.mark.parametrize("text,expected", [
    ("events:\n  - {at: 1h, kind: lek, rate: 3}\n", "s.yaml:2: events.0.kind: unknown kind 'lek' (use one of leak,"),
    ("events:\n  - at: 2x\n    kind: offline\n", "s.yaml:2: events.0.at: not a duration, got '2x' (write seconds"),
    ("events:\n  - kind: leak\n    at: 1h\n    rate: -5\n", "s.yaml:4: events.0.rate: Input should be greater than 0, got -5"),
    ("events:\n  - {at: 1h, kind: offline, device: fm-9}\n",
     "s.yaml:2: events.0.device: no device 'fm-9' in this run (use one of ['emf_flow_meter'])"),
    ("events:\n  - {at: 1h, kind: spike, point: flw, value: 3}\n",
     "s.yaml:2: events.0.point: no device here has a point 'flw' (check the profile's point names)"),
    ("events:\n  - {at: 1h, kind: reset, point: flow}\n", "s.yaml:2: events.0.point: 'flow' is not a totaliser"),
    ("events:\n  - {at: 1h, kind: crc}\n", "s.yaml:2: events.0.kind: a CRC is only on RTU frames"),
    ("start: 2024-06-01T00:00:00\n", "s.yaml:1: start: needs a time zone (got 2024-06-01T00:00:00; append +08:00 or Z)"),
])
def test_bad_scenarios_are_refused_with_file_line_key_problem_fix(tmp_path, text, expected):
    (tmp_path / "s.yaml").write_text(text)
    done = subprocess.run([str(WATERTEL), "sim", "run", "--profile", "emf_flow_meter", "--tcp", f"127.0.0.1:{free_port()}",
                           "--scenario", str(tmp_path / "s.yaml")], capture_output=True, text=True, timeout=30)
    assert done.returncode == 1, done
    assert f"{tmp_path}/{expected}" in done.stderr, done.stderr

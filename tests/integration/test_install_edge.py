"""A gateway installs only `watertel[edge]`: no FastAPI, numpy or scipy, and `watertel edge` works."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.paths import ROOT


@pytest.mark.timeout(900)
def test_edge_extra_installs_and_runs_in_a_clean_venv(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    install = subprocess.run([*pip, "install", "--quiet", f"{ROOT}[edge]"], capture_output=True, text=True, timeout=840)
    assert install.returncode == 0, install.stderr[-3000:]

    installed = {line.split("==")[0].lower() for line in subprocess.run(
        [*pip, "freeze"], capture_output=True, text=True, check=True).stdout.splitlines()}
    assert {"pymodbus", "pyserial", "aiomqtt", "paho-mqtt", "cryptography", "gmssl"} <= installed
    assert not installed & {"fastapi", "uvicorn", "numpy", "scipy", "amqtt", "influxdb-client"}, installed

    watertel = str(venv / "bin" / "watertel")
    help_out = subprocess.run([watertel, "edge", "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert help_out.returncode == 0 and "run" in help_out.stdout and "check" in help_out.stdout, help_out.stderr

    # and it is a working gateway install: keys, profiles and a config check all run
    subprocess.run([watertel, "keys", "new", "--gateway", "gw-1", "--out", str(tmp_path)], check=True, capture_output=True)
    config = tmp_path / "edge.yaml"
    config.write_text(
        "gateway_id: gw-1\nkey: {private_key: gw-1.key.pem, key_id: gw-1-k1}\n"
        "uplink: {brokers: ['mqtt://127.0.0.1:1883']}\nbuffer: {path: buffer.db}\n"
        "buses: [{name: plc, transport: {kind: tcp, host: 127.0.0.1, port: 5020},"  # (a missing RS-485 port fails)
        " devices: [{name: fm, profile: emf_flow_meter, unit_id: 1, station: S1}]}]\n"
    )
    check = subprocess.run([watertel, "edge", "check", "--config", str(config)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert "gateway gw-1, 1 buses, 1 devices" in check.stdout

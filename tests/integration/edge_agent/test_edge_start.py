"""`edge run` starts only with what `edge check` passes, and says why its uplink is down.

Issue 22: the unedited example (after `keys new`) ended in a FileNotFoundError from ssl that named
no file; with the password file missing the agent polled for ever with the uplink dead, silently,
and `edge status` said "disconnected" with no reason and exit 0.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from watertel.keys import write_key_pair
from watertel.ports import free_port
from watertel.shell.processes import Child, wait_until

from tests.support.paths import ROOT

WATERTEL = Path(sys.executable).parent / "watertel"


def _watertel(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(WATERTEL), *args], capture_output=True, text=True, timeout=60)


def test_edge_run_refuses_the_unedited_example_naming_each_file(tmp_path):
    shutil.copy(ROOT / "deploy" / "edge.example.yaml", tmp_path / "edge.yaml")
    config = tmp_path / "edge.yaml"
    config.write_text(config.read_text().replace("/var/lib/watertel/buffer.db", str(tmp_path / "buffer.db")))
    assert _watertel("keys", "new", "--gateway", "gw-0001", "--out", str(tmp_path / "keys")).returncode == 0

    began = time.monotonic()
    run = _watertel("edge", "run", "--config", str(config))
    assert run.returncode == 78, run.stderr  # EX_CONFIG: the systemd unit does not restart on it
    assert time.monotonic() - began < 20 and "Traceback" not in run.stderr
    lines = run.stderr.splitlines()
    assert [line.split(" msg=")[0].split(" ", 1)[1] for line in lines] == [
        "level=error logger=watertel.edge", "level=error logger=watertel.edge",
        "level=warning logger=watertel.edge", "level=error logger=watertel.edge"]
    assert f"{config}: uplink.password_file: {tmp_path}/secrets/mqtt-password does not exist" in lines[0]
    assert f"{config}: uplink.tls.ca_file: {tmp_path}/tls/ca.pem does not exist" in lines[1]
    assert f"{config}: buses.0.transport.port: /dev/ttyUSB0 does not exist" in lines[2]
    assert f"edge agent not started: fix the problems above in {config}" in lines[3]
    assert not (tmp_path / "buffer.status.json").exists() and not (tmp_path / "buffer.db").exists(), "nothing started"

    check = _watertel("edge", "check", "--config", str(config))  # the same lines, plain, and exit 1
    assert check.returncode == 1 and len(check.stderr.splitlines()) == 3
    assert check.stderr.splitlines()[0] in lines[0]

    config.write_text(config.read_text().replace("max_latency_s: 5", "max_latency_s: -5"))  # invalid YAML values too
    run = _watertel("edge", "run", "--config", str(config))
    assert run.returncode == 78 and "Traceback" not in run.stderr
    assert f"{config}:" in run.stderr and "batching.max_latency_s" in run.stderr


def test_an_unreachable_broker_is_retried_logged_once_and_shown_by_status(tmp_path):
    write_key_pair(tmp_path / "keys", "gw-7")
    password = tmp_path / "mqtt-password"
    password.write_text("pw\n")
    password.chmod(0o600)
    broker = f"mqtt://127.0.0.1:{free_port()}"  # nothing listens there
    config = tmp_path / "edge.yaml"
    config.write_text(yaml.safe_dump({
        "gateway_id": "gw-7", "key": {"private_key": "keys/gw-7.key.pem", "key_id": "gw-7-k1"},
        "uplink": {"brokers": [broker], "username": "gw-7", "password_file": "mqtt-password"},
        "buffer": {"path": "buffer.db"},
        "buses": [{"name": "plc", "transport": {"kind": "tcp", "host": "127.0.0.1", "port": free_port()},
                   "devices": [{"name": "fm-1", "profile": "emf_flow_meter", "unit_id": 1, "station": "ST-7",
                                "poll_interval_s": 1}]}],
    }))
    agent = Child("edge", [sys.executable, "-m", "watertel", "-v", "edge", "run", "--config", str(config)], tmp_path)

    def status() -> subprocess.CompletedProcess:
        return _watertel("edge", "status", "--config", str(config))

    def failures() -> int:
        try:
            return json.loads((tmp_path / "buffer.status.json").read_text())["uplink"]["failures"]
        except (OSError, ValueError, KeyError):
            return 0

    try:
        wait_until(lambda: failures() >= 3, "three failed connection attempts in the status file", agent, timeout=30)
        shown = status()
        assert shown.returncode == 2, shown.stdout + shown.stderr  # running, but the uplink is down
        [uplink] = [line for line in shown.stdout.splitlines() if line.startswith("uplink:")]
        assert uplink.startswith("uplink: DOWN since ") and f"attempts failed): {broker}: " in uplink
        assert "Connection refused" in uplink, uplink

        password.unlink()  # the next attempt cannot read it: the reason changes and names the file
        wait_until(lambda: "mqtt-password" in status().stdout, "the missing password file in edge status", agent)
        assert agent.alive()
    finally:
        agent.stop()
    log = agent.log_path.read_text()
    assert "Traceback" not in log
    cannot = [line for line in log.splitlines() if "uplink cannot connect" in line]
    assert len(cannot) == 2, log  # once for the refused connection, once for the missing file (not every retry)
    assert f"{broker}: No such file or directory: {password}" in cannot[1]
    assert "level=warning" in cannot[0] and "Connection refused" in cannot[0]
    assert status().returncode == 1  # stopped

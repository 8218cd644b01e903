"""The command line: subcommands listed, config errors that name file/line/key, keys, Ctrl-C.

This file holds the kill -9 and whole-system tests; the others are in
tests/integration/shell/test_cli.py."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.paths import ROOT


def test_ctrl_c_stops_the_demo_cleanly_with_no_stray_process(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "watertel", "demo", "--data-dir", str(tmp_path / "demo")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            start_new_session=True)
    lines = []
    deadline = time.monotonic() + 240  # the demo replays a week of history before the console opens
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if "press Ctrl-C to stop" in line or not line:
            break
    assert any("console:  http://127.0.0.1:" in line for line in lines), "".join(lines) + proc.stderr.read()
    children = [int(p) for p in subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()]
    assert len(children) >= 5  # broker, cloud, simulators, two edge agents
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    assert '"lost": 0' in out.splitlines()[-1]
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text(), pid

"""The soak harness, short: two minutes of the real system under seeded faults (kill -9 of edge
agents and the cloud, broker restarts, hostile messages); nothing lost, nothing stored twice."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import need
from watertel.mosquitto import find_mosquitto


@pytest.mark.server
@pytest.mark.timeout(400)
def test_two_minutes_of_faults_lose_nothing(tmp_path):
    need(find_mosquitto() is not None, "mosquitto")
    done = subprocess.run([sys.executable, "-m", "watertel", "soak", "--minutes", "2", "--seed", "7",
                           "--data-dir", str(tmp_path / "soak")], capture_output=True, text=True, timeout=380)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["lost"] == 0 and result["duplicated"] == 0 and result["changed"] == 0, result
    assert result["polled"] == result["stored"] > 1000, result
    assert set(result["faults"]) == {"kill_edge", "kill_cloud", "broker_restart", "hostile"}, result
    assert {"bad_signature", "too_large"} <= set(result["refused"]), result
    assert result["recovery_p99_s"] < 60, result

"""Benchmark (not a test): `watertel sim fleet` holding 4,000 gateways at a 5-second interval.

Run: .venv/bin/python bench/bench_fleet.py [--gateways 4000] [--interval 5] [--duration 60]
     [--connections 4] [--faults 0.02] [--out DIR]

The fleet runs as its own process (`watertel sim fleet`, as an operator starts it) against a
Mosquitto on a free loopback port, with every fault at ``--faults`` probability (late-by just
clear of a 4-interval on-time window, so the run ends soon after the sampling). While it runs,
the CPU of the fleet and of Mosquitto is sampled from /proc. Figures: the target publish rate
(gateways / interval), the rate achieved over the sampling window (samples taken and envelopes
published, the latter being target × (1 − drop) plus duplicates and held-back envelopes falling
due), lag behind schedule of each publish (p50/p99/max), CPU of both processes (percent of one
core), and the time to generate the key pairs.

Progress goes to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from watertel.shell.mosquitto import Mosquitto, find_mosquitto  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gateways", type=int, default=4000)
    ap.add_argument("--interval", type=int, default=5)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--faults", type=float, default=0.02, help="probability of each fault (drop, late, duplicate, reorder)")
    ap.add_argument("--out", help="keep the fleet's folder here (its keys are reused by the next run; default: a temporary one)")
    args = ap.parse_args()
    binary = find_mosquitto()
    if binary is None:
        print("error: needs Mosquitto (Debian: apt-get install mosquitto)", file=sys.stderr)
        return 1
    work = Path(args.out).resolve() if args.out else Path(tempfile.mkdtemp(prefix="watertel-bench-fleet-"))
    broker = Mosquitto(binary, work / "mosquitto", persistence=False)
    broker.start()
    on_time_intervals = 4
    late_by = on_time_intervals * args.interval + max(10, 2 * args.interval)
    argv = [sys.executable, "-m", "watertel", "sim", "fleet", "--gateways", str(args.gateways),
            "--interval", str(args.interval), "--broker", broker.url, "--duration", str(args.duration),
            "--out", str(work / "fleet"), "--connections", str(args.connections),
            "--on-time-intervals", str(on_time_intervals), "--late-by", str(late_by), "--seed", "1",
            *(x for name in ("drop", "late", "duplicate", "reorder") for x in (f"--{name}", str(args.faults)))]
    print(f"  bench: {' '.join(argv[3:])}", file=sys.stderr, flush=True)
    samples: list[tuple[float, float, float]] = []  # (monotonic, fleet CPU s, mosquitto CPU s)
    fleet = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(1.0):
            samples.append((time.monotonic(), cpu_s(fleet.pid), cpu_s(broker.proc.pid)))

    sampler = threading.Thread(target=sample, name="cpu-sampler")
    sampler.start()
    try:
        stdout, _ = fleet.communicate(timeout=args.duration * 3 + late_by + 600)
    finally:
        stop.set()
        sampler.join()
        if fleet.poll() is None:
            fleet.kill()
            fleet.wait()
        broker.stop()
        if not args.out:
            shutil.rmtree(work, ignore_errors=True)
    if fleet.returncode != 0:
        print(f"error: the fleet exited with {fleet.returncode}", file=sys.stderr)
        return 1
    s = json.loads(stdout.strip().splitlines()[-1])
    # Mosquitto's CPU over the busiest stretch the fleet itself reports on: its sampling window
    busy = [x for x in samples if x[1] > 0]
    broker_pct = None
    if len(busy) > 2:
        (t0, _, m0), (t1, _, m1) = busy[len(busy) // 4], busy[-1]
        broker_pct = round(100 * (m1 - m0) / (t1 - t0), 1)
    result = {
        "gateways": args.gateways, "interval_s": args.interval, "duration_s": args.duration,
        "connections": args.connections, "faults": args.faults,
        "target_per_s": s["target_per_s"], "sampled_per_s": s["sampled_per_s"], "published_per_s": s["published_per_s"],
        "achieved_vs_target": round(s["sampled_per_s"] / s["target_per_s"], 3),
        "lag_ms_p50": s["lag_ms_p50"], "lag_ms_p99": s["lag_ms_p99"], "lag_ms_max": s["lag_ms_max"],
        "fleet_cpu_percent_sampling": s["cpu_percent_sampling"], "fleet_cpu_percent_whole_run": s["cpu_percent"],
        "mosquitto_cpu_percent": broker_pct,
        "sampled": s["sampled"], "published": s["published"], "acked": s["acked"], "failed": s["failed"],
        "dropped": s["dropped"], "late": s["late"], "duplicated": s["duplicated"], "reordered": s["reordered"],
        "close_calls": s["close_calls"], "keygen_s": s["keygen_s"], "new_keys": s["new_keys"], "wall_s": s["wall_s"],
        "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

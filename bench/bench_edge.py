"""Benchmark (not a test): the edge agent's throughput and memory, against a local Mosquitto.

Run: .venv/bin/python bench/bench_edge.py [--backlog 1000000] [--devices 30] [--interval 0.02] [--seconds 30]

Two measurements, each against a Mosquitto started on a free loopback port:

* ``drain``: a buffer holding ``--backlog`` readings, already sealed in envelopes of 500, is sent
  by the real uplink (QoS 1, marked sent on PUBACK); readings/s from the first publish to the last
  acknowledgement. Target (issue 5): >= 20,000 readings/s for 1,000,000 readings.
* ``pipeline``: a real `watertel edge run` process polls ``--devices`` simulated Modbus TCP
  water-quality analysers (5 points each) every ``--interval`` seconds, buffers, seals envelopes
  of 100 readings and publishes them, for ``--seconds``; readings/s recorded and published in the
  steady window (read from its status file), the agent's CPU use, and its resident memory at the
  end and its slope (MB per minute, least squares over samples every 2 s). Targets: >= 5,000
  readings/s on one core; memory <= 60 MB with 20 devices polled every second for 10 minutes and
  no growth (run `--interval 1 --seconds 600` for that).

Progress goes to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import yaml

from watertel.edge_agent.buffer import Buffer
from watertel.edge_agent.config import UplinkConfig
from watertel.edge_agent.uplink import Uplink
from watertel.crypto import SM2PrivateKey
from watertel.envelope import seal
from watertel.keys import write_key_pair
from watertel.shell.mosquitto import Mosquitto, find_mosquitto
from watertel.ports import free_port, port_open
from watertel.shell.processes import Child, wait_until
from watertel.readings import Quality, Reading


def say(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def start_mosquitto(workdir: Path) -> tuple[Mosquitto, int]:
    binary = find_mosquitto()
    if not binary:
        sys.exit("mosquitto is needed (Debian: apt-get install mosquitto; `make test` installs it)")
    broker = Mosquitto(binary, workdir / f"mosquitto-{time.monotonic_ns()}", persistence=False)
    broker.start()
    return broker, broker.port


# --- drain ---------------------------------------------------------------------------------------


def fill(buffer: Buffer, key: SM2PrivateKey, n: int, per_envelope: int) -> float:
    """Buffer and seal ``n`` readings; returns sealing readings/s (for information)."""
    t0 = 1_700_000_000_000
    for start in range(0, n, 10_000):
        buffer.add([Reading(f"ST-{i % 50:03d}", "flow", t0 + i * 1000, i * 0.01, "m3/h", Quality.OK)
                    for i in range(start, min(n, start + 10_000))])
    sealer = lambda readings, state: seal(readings, key, "gw-bench", "k1", state, int(time.time() * 1000))
    began = time.perf_counter()
    while buffer.seal_next(per_envelope, sealer):
        pass
    return n / (time.perf_counter() - began)


async def drain(buffer: Buffer, port: int, n: int) -> float:
    uplink = Uplink(UplinkConfig(brokers=[f"mqtt://127.0.0.1:{port}"], max_in_flight=32), "gw-bench", buffer)
    task = asyncio.create_task(uplink.run())
    began = time.perf_counter()
    while buffer.unsent(1):
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - began
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return n / elapsed


def bench_drain(workdir: Path, port: int, n: int) -> dict:
    key = SM2PrivateKey.generate()
    buffer = Buffer(workdir / "drain.db", "gw-bench")
    say(f"drain: buffering and sealing {n} readings in envelopes of 500 …")
    seal_rate = fill(buffer, key, n, 500)
    say(f"drain: sending {n} readings …")
    rate = asyncio.run(drain(buffer, port, n))
    buffer.close()
    return {"drain_readings": n, "drain_readings_per_s": round(rate), "seal_readings_per_s_500": round(seal_rate)}


# --- pipeline ------------------------------------------------------------------------------------


def configs(workdir: Path, port: int, devices: int, interval: float) -> tuple[Path, Path]:
    ports = [free_port() for _ in range(devices)]
    write_key_pair(workdir / "keys", "gw-bench")
    sim = {"devices": [{"name": f"wq-{i}", "profile": "wq_multiparam", "unit_id": 1, "seed": i,
                        "transport": {"kind": "tcp", "port": p}} for i, p in enumerate(ports)]}
    edge = {"gateway_id": "gw-bench", "key": {"private_key": "keys/gw-bench.key.pem", "key_id": "k1"},
            "uplink": {"brokers": [f"mqtt://127.0.0.1:{port}"]}, "buffer": {"path": "edge.db"},
            "batching": {"max_readings": 100, "max_latency_s": 1.0},
            "buses": [{"name": f"tcp-{i}", "transport": {"kind": "tcp", "host": "127.0.0.1", "port": p},
                       "devices": [{"name": f"wq-{i}", "profile": "wq_multiparam", "unit_id": 1,
                                    "station": f"ST-{i}", "poll_interval_s": interval}]}
                      for i, p in enumerate(ports)]}
    (workdir / "sim.yaml").write_text(yaml.safe_dump(sim))
    (workdir / "edge.yaml").write_text(yaml.safe_dump(edge))
    return workdir / "sim.yaml", workdir / "edge.yaml"


def proc_sample(pid: int) -> tuple[float, float]:
    """(CPU seconds used so far, resident MB) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    return cpu, rss


def slope_per_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) samples, in MB per minute."""
    n = len(samples)
    mt, mv = sum(t for t, _ in samples) / n, sum(v for _, v in samples) / n
    var = sum((t - mt) ** 2 for t, _ in samples)
    return 60 * sum((t - mt) * (v - mv) for t, v in samples) / var if var else 0.0


def status(workdir: Path) -> dict:
    path = workdir / "edge.status.json"
    return json.loads(path.read_text())["buffer"] if path.exists() else {"polled": 0, "published": 0}


def bench_pipeline(workdir: Path, port: int, devices: int, interval: float, seconds: float) -> dict:
    sim_cfg, edge_cfg = configs(workdir, port, devices, interval)
    sim = Child.watertel("sim", ["sim", "run", "--config", str(sim_cfg)], workdir / "logs")
    edge = None
    try:
        wait_until(lambda: Path(workdir / "sim.yaml").exists() and all(
            port_open(b["transport"]["port"]) for b in yaml.safe_load(edge_cfg.read_text())["buses"]), "simulators", sim)
        edge = Child.watertel("edge", ["edge", "run", "--config", str(edge_cfg)], workdir / "logs")
        say(f"pipeline: {devices} devices every {interval} s, warming up …")
        time.sleep(5)
        first, cpu0, began = status(workdir), proc_sample(edge.proc.pid)[0], time.monotonic()
        samples = []
        while time.monotonic() - began < seconds:
            time.sleep(2)
            samples.append((time.monotonic() - began, proc_sample(edge.proc.pid)[1]))
        time.sleep(5.5)  # the status file is rewritten every 5 s: the window is [first, last] writes
        last, cpu1 = status(workdir), proc_sample(edge.proc.pid)[0]
        window = time.monotonic() - began
        say(f"pipeline: {last['polled'] - first['polled']} readings recorded in {window:.0f} s")
    finally:
        if edge:
            edge.stop()
        sim.stop()
    return {
        "pipeline_devices": devices, "pipeline_interval_s": interval, "pipeline_seconds": round(window),
        "pipeline_polled_per_s": round((last["polled"] - first["polled"]) / window),
        "pipeline_published_per_s": round((last["published"] - first["published"]) / window),
        "pipeline_agent_cpu": round((cpu1 - cpu0) / window, 2),
        "pipeline_rss_mb": round(samples[-1][1], 1), "pipeline_rss_max_mb": round(max(v for _, v in samples), 1),
        "pipeline_rss_slope_mb_per_min": round(slope_per_min(samples), 3),
        # after warm-up (caches filling to their bounds): growth that stays here is a leak
        "pipeline_rss_slope_last_half_mb_per_min": round(slope_per_min(samples[len(samples) // 2:]), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=1_000_000)
    parser.add_argument("--devices", type=int, default=30)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="watertel-bench-") as tmp:
        workdir = Path(tmp)
        broker, port = start_mosquitto(workdir)
        try:
            result = bench_drain(workdir, port, args.backlog)
            result |= bench_pipeline(workdir, port, args.devices, args.interval, args.seconds)
        finally:
            broker.stop()
    result |= {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
               "seconds": round(time.perf_counter() - began)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Benchmark (not a test): the rtu-gateway's public port under issue 21's attacks.

Run: .venv/bin/python bench/bench_rtu_flood.py [--reports 100] [--every 0.05] [--framer-mb 4]

A real `watertel rtu-gateway` process (its uplink to a Mosquitto on a free loopback port) serves a
real SZY 206 RTU that logs in and sends ``--reports`` reports one by one, ``--every`` seconds
apart, timing each report to its confirmation (which the gateway sends once the readings are
committed to its buffer). The RTU is timed four times: alone, under the CRC flood (10
connections sending the issue's 14 bytes ``7E 7E`` + 9 × ``00`` + ``0F FF 02`` at full speed,
reconnecting when closed), under the slowloris (2,000 idle sockets from the RTU's own address)
and under a reconnect storm (20 loops opening a connection, sending 8 KB of the flood and
resetting it). Each attack runs in its own process (tests/support/rtu_attacks.py).

Then the framer alone (``watertel.protocols.framing.StreamFramer``): bytes per second on
``--framer-mb`` MB of the issue's bytes and of random bytes, fed in the gateway's 4,096-byte
reads, best of 3; ``ratio`` is hostile / random.

Goals (issue 21): ack p99 ≤ 200 ms under the flood; framer ratio ≥ 0.5. Progress goes to stderr;
the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_edge import say, start_mosquitto  # noqa: E402
from watertel.ports import free_port, port_open  # noqa: E402
from watertel.protocols.framing import StreamFramer  # noqa: E402
from watertel.shell.processes import Child, wait_until  # noqa: E402

from tests.support import rtu_attacks  # noqa: E402
from tests.support.rtu import SZY, write_rtu_config  # noqa: E402

ATTACKS = {"flood": 10, "slowloris": 2000, "storm": 20}  # connections, sockets, loops


def framer_rate(data: bytes, chunk: int = 4096) -> float:
    best = float("inf")
    for _ in range(3):
        framer = StreamFramer()
        started = time.perf_counter()
        for i in range(0, len(data), chunk):
            framer.feed(data[i:i + chunk])
        best = min(best, time.perf_counter() - started)
    return len(data) / best


def framer_figures(megabytes: int) -> dict:
    size = megabytes << 20
    hostile = (rtu_attacks.FAKE * (size // len(rtu_attacks.FAKE) + 1))[:size]
    rnd = random.Random(21).randbytes(size)
    random_bps, hostile_bps = framer_rate(rnd), framer_rate(hostile)
    return {"random_bytes_per_s": round(random_bps), "hostile_bytes_per_s": round(hostile_bps),
            "ratio": round(hostile_bps / random_bps, 2), "megabytes": megabytes, "read_size": 4096}


def timed(port: int, reports: int, every: float) -> dict:
    acks = asyncio.run(rtu_attacks.timed_rtu(port, SZY, reports, every))
    return {"p50_ms": round(rtu_attacks.percentile(acks, 0.5) * 1000, 1),
            "p99_ms": round(rtu_attacks.percentile(acks, 0.99) * 1000, 1),
            "max_ms": round(max(acks) * 1000, 1), "reports": len(acks)}


def under(attack: str, port: int, work: Path, reports: int, every: float) -> dict:
    seconds = reports * (every + 0.2) + 30  # longer than the RTU takes; stopped once it is done
    log = work / f"{attack}.jsonl"
    proc = rtu_attacks.start(attack, port, ATTACKS[attack], seconds, log)
    try:
        if attack == "slowloris":
            wait_until(lambda: log.exists() and "opened" in log.read_text(), "2,000 idle sockets", timeout=60)
        else:
            time.sleep(1.0)
        figures = timed(port, reports, every)
    finally:
        proc.terminate()
        proc.wait(30)
    if attack == "slowloris":
        figures["opened"] = rtu_attacks.results(log)[0]
    return figures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reports", type=int, default=100)
    ap.add_argument("--every", type=float, default=0.05)
    ap.add_argument("--framer-mb", type=int, default=4)
    args = ap.parse_args()
    out: dict = {"bench": "rtu_flood", "python": platform.python_version(), "cpus": os.cpu_count(),
                 "load_1min": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        broker, broker_port = start_mosquitto(work)
        port = free_port()
        cfg = write_rtu_config(work, broker_port, listen=f"127.0.0.1:{port}")
        gateway = Child.watertel("rtu-gateway", ["rtu-gateway", "--config", str(cfg)], work / "logs")
        try:
            wait_until(lambda: port_open(port), "the rtu-gateway's port", gateway)
            say("RTU alone ...")
            out["ack_alone"] = timed(port, args.reports, args.every)
            for attack in ATTACKS:
                say(f"RTU under the {attack} ...")
                out[f"ack_under_{attack}"] = under(attack, port, work, args.reports, args.every)
            started = time.monotonic()
            code = gateway.stop()
            out["sigterm_exit"] = {"code": code, "seconds": round(time.monotonic() - started, 2)}
        finally:
            gateway.stop()
            broker.stop()
    say("framer ...")
    out["framer"] = framer_figures(args.framer_mb)
    out["goals"] = {"ack_p99_under_flood_le_200ms": out["ack_under_flood"]["p99_ms"] <= 200,
                    "framer_ratio_ge_0.5": out["framer"]["ratio"] >= 0.5}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

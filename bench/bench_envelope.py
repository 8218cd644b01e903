"""Benchmark (not a test): envelope seal/open, SM2 sign/verify and SM3 throughput.

Run: .venv/bin/python bench/bench_envelope.py [--repeats 5] [--min-time 0.4]

Each figure is the median over ``--repeats`` runs; a run repeats the operation until at least
``--min-time`` seconds have passed. Progress goes to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Callable

from watertel.crypto import SM2PrivateKey, sm3
from watertel.envelope import ChainState, open_envelope, seal
from watertel.readings import Quality, Reading

T0 = 1_700_000_000_000
POINTS = (("flow", "m3/h"), ("pressure", "MPa"), ("ph", "pH"), ("turbidity", "NTU"))


def batch(size: int) -> list[Reading]:
    """``size`` readings of 4 points of one station, one sample per point every 10 s."""
    return [
        Reading("S1", name, T0 + (i // len(POINTS)) * 10_000, 12.5 + i / 7, unit,
                Quality.OK if i % 50 else Quality.OUT_OF_RANGE)
        for i, (name, unit) in ((i, POINTS[i % len(POINTS)]) for i in range(size))
    ]


def rate(label: str, op: Callable[[], object], repeats: int, min_time: float) -> float:
    """Median operations per second over ``repeats`` runs of at least ``min_time`` seconds."""
    op()  # warm up (imports, caches)
    rates = []
    for run in range(repeats):
        count, start = 0, time.perf_counter()
        while True:
            op()
            count += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        rates.append(count / elapsed)
        print(f"  {label}: run {run + 1}/{repeats}: {rates[-1]:.1f}/s", file=sys.stderr)
    return statistics.median(rates)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per figure; the median is reported")
    parser.add_argument("--min-time", type=float, default=0.4, help="seconds per run, at least")
    args = parser.parse_args()
    started = time.perf_counter()

    key = SM2PrivateKey.generate()
    lookup = lambda gateway_id, key_id: key.public  # noqa: E731
    result: dict[str, object] = {"bench": "envelope"}

    for size in (200, 1):
        readings = batch(size)
        data, _ = seal(readings, key, "gw-bench", "k1", ChainState(), T0)
        assert open_envelope(data, lookup).readings == tuple(readings)
        print(f"envelope of {size} readings: {len(data)} bytes", file=sys.stderr)
        result[f"seal_per_s_{size}"] = rate(
            f"seal {size}", lambda: seal(readings, key, "gw-bench", "k1", ChainState(), T0), args.repeats, args.min_time)
        result[f"open_per_s_{size}"] = rate(
            f"open {size}", lambda: open_envelope(data, lookup), args.repeats, args.min_time)
        result[f"bytes_{size}"] = len(data)

    message = bytes(range(256)) * 16  # 4 KiB, about an envelope of 200 readings
    signature = key.sign(message)
    result["sm2_sign_per_s"] = rate("sm2 sign 4 KiB", lambda: key.sign(message), args.repeats, args.min_time)
    result["sm2_verify_per_s"] = rate("sm2 verify 4 KiB", lambda: key.public.verify(signature, message),
                                      args.repeats, args.min_time)

    block = os.urandom(1 << 20)
    result["sm3_mb_per_s"] = rate("sm3 1 MiB", lambda: sm3(block), args.repeats, args.min_time) * len(block) / 1e6

    for name, value in result.items():
        if isinstance(value, float):
            result[name] = round(value, 1)
    result.update(repeats=args.repeats, min_time_s=args.min_time, python=platform.python_version(),
                  machine=platform.machine(), cpus=os.cpu_count(), seconds=round(time.perf_counter() - started, 1))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

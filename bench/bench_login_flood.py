"""Benchmark (not a test): 50 parallel logins with random user names against a running
`watertel cloud api`, each from its own loopback address (so no failure limit applies), with the
API's resident memory (VmRSS) and /healthz's time sampled throughout (issue 21, item 6).

Run: .venv/bin/python bench/bench_login_flood.py [--checks 2] [--logins 50]

``--checks``: the API's ``login_max_checks`` (2, the default; 64 stands for no cap). Prints one
JSON line: RSS before and at its peak (MB), /healthz's worst time (s), the answers by status and
the flood's duration. tests/security/test_login.py asserts the bounds with the default.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from watertel.cloud.api.auth import hash_password  # noqa: E402

from tests.support.api import PASSWORD  # noqa: E402
from tests.support.api_process import ApiProcess, From, api_process  # noqa: E402


def flood(api: ApiProcess, logins: int) -> dict:
    for _ in range(3):
        From(api, "127.0.3.251").call("GET", "/healthz")
    baseline, peak, stop = api.rss_kb(), {"rss": 0, "healthz": 0.0}, threading.Event()

    def watch() -> None:
        probe = From(api, "127.0.3.250")
        while not stop.is_set():
            peak["rss"] = max(peak["rss"], api.rss_kb())
            started = time.monotonic()
            probe.call("GET", "/healthz")
            peak["healthz"] = max(peak["healthz"], time.monotonic() - started)
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.monotonic()
    with ThreadPoolExecutor(logins) as pool:
        statuses = list(pool.map(lambda i: From(api, f"127.0.{3 + i // 250}.{i % 250 + 1}").call(
            "POST", "/api/login", {"username": secrets.token_hex(8), "password": secrets.token_hex(8)})[0],
            range(logins)))
    took = time.monotonic() - started
    stop.set()
    watcher.join()
    return {"rss_mb_before": round(baseline / 1024), "rss_mb_peak": round(max(peak["rss"], baseline) / 1024),
            "healthz_max_s": round(peak["healthz"], 3), "answers": {s: statuses.count(s) for s in sorted(set(statuses))},
            "seconds": round(took, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", type=int, default=2, help="login_max_checks of the API (64: no cap)")
    parser.add_argument("--logins", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, \
            api_process(Path(folder), hash_password(PASSWORD), login_max_checks=args.checks) as api:
        print(json.dumps({"login_max_checks": args.checks, "logins": args.logins, **flood(api, args.logins)}))


if __name__ == "__main__":
    main()

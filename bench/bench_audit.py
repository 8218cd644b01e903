"""Benchmark (not a test): what the keyed audit chain and its checkpoints cost (issue 21, item 4).

Run: .venv/bin/python bench/bench_audit.py [--rows 20000] [--every 100]

On a SQLite store in a temporary folder: rows appended per second plain (SM3, as before keys)
and keyed (HMAC-SM3, a signed checkpoint every ``--every`` rows, as the API writes them); then
`audit verify`'s walk of the keyed log with its checkpoints (rows/s), and one checkpoint's cost
(SM2 signature, fsync'd append). Progress goes to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from watertel.cloud.audit import append
from watertel.cloud.audit.config import AuditConfig
from watertel.cloud.audit.trail import AuditTrail
from watertel.cloud.store.sqlite import SqliteStore


def row(i: int) -> dict:
    return {"actor": "op", "role": "operator", "client": "10.0.0.7", "method": "POST", "path": f"/api/alarms/{i}/ack",
            "summary": f"acknowledge alarm {i}", "status": 200}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=20000)
    p.add_argument("--every", type=int, default=100)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        plain = SqliteStore(Path(tmp) / "plain.db")
        t = time.perf_counter()
        for i in range(args.rows):
            append(plain, **row(i))
        plain_s = time.perf_counter() - t
        plain.close()
        print(f"plain: {args.rows / plain_s:,.0f} rows/s", file=sys.stderr)

        store = SqliteStore(Path(tmp) / "keyed.db")
        trail = AuditTrail.open(store, AuditConfig(checkpoint_every_entries=args.every), Path(tmp) / "data", None)
        t = time.perf_counter()
        for i in range(args.rows):
            trail.append(**row(i))
        keyed_s = time.perf_counter() - t
        print(f"keyed: {args.rows / keyed_s:,.0f} rows/s", file=sys.stderr)
        t = time.perf_counter()
        for _ in range(50):
            trail.checkpoint(force=True)
        checkpoint_ms = (time.perf_counter() - t) / 50 * 1000
        t = time.perf_counter()
        verdict = trail.verify()
        verify_s = time.perf_counter() - t
        assert verdict.ok, verdict
        store.close()
    print(json.dumps({"rows": args.rows, "plain_rows_per_s": round(args.rows / plain_s),
                      "keyed_rows_per_s": round(args.rows / keyed_s), "checkpoint_ms": round(checkpoint_ms, 2),
                      "verify_rows_per_s": round(args.rows / verify_s), "verify_s": round(verify_s, 2),
                      "checkpoints": args.rows // args.every + 50}))


if __name__ == "__main__":
    main()

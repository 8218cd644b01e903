"""Benchmark (not a test): 4,000 gateways through Mosquitto into the real cloud ingest, reconciled.

Run: .venv/bin/python bench/bench_fleet_cloud.py [--gateways 4000] [--interval 5] [--duration 600]
     [--workers 1] [--duplicate 0.02] [--connections 4] [--lead 30] [--out DIR]

Issue 6: "4,000 gateways connected at once for 10 minutes at a 5-minute interval compressed in
time: nothing lost, nothing duplicated". The fleet (`watertel sim fleet`, its own process) plays
``--gateways`` gateways each sampling every ``--interval`` s (the 5-minute interval compressed)
for ``--duration`` s, publishing some envelopes twice (``--duplicate``), against a Mosquitto on
a free loopback port; ``--workers`` real `watertel cloud ingest` processes (one: its own
subscription; two: an MQTT shared subscription) store into one SQLite file, started with the
cloud.yaml the fleet wrote and waited for ("ingest subscribed") before the first sample.

When the fleet is done and ingest has caught up (or stalled for 60 s), the store is reconciled
against the fleet's oracle.json, per gateway: ``published`` is readings in envelopes the broker
acknowledged (distinct slots × 2 points), ``stored`` distinct (station, point, time) rows,
``lost`` what was published and is not stored, ``duplicated`` readings counted as stored more than
once (rows − distinct rows, plus the workers' ``watertel_readings_stored`` counters beyond the
distinct rows, which a second insert of one reading would raise). Ingest lag is envelope
received_ms − sample time (includes the fleet's own publish lag, given apart). CPU of the ingest
workers is sampled from /proc.

Progress goes to stderr; the last stdout line is one JSON object. Exit status 1 if anything was
lost or duplicated.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_fleet import cpu_s  # noqa: E402
from watertel.shell.mosquitto import Mosquitto, find_mosquitto  # noqa: E402
from watertel.ports import free_port  # noqa: E402
from watertel.shell.processes import Child, wait_until  # noqa: E402


def _percentile(values: list[int], q: float) -> int | None:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else None


def worker_configs(fleet_dir: Path, workers: int) -> list[Path]:
    """The fleet's cloud.yaml for one worker; for several, copies with own client ids and a shared group."""
    if workers == 1:
        return [fleet_dir / "cloud.yaml"]
    doc = yaml.safe_load((fleet_dir / "cloud.yaml").read_text())
    paths = []
    for j in range(workers):
        doc["mqtt"] = {**doc["mqtt"], "client_id": f"watertel-fleet-ingest-{j}", "shared_group": "ingest"}
        paths.append(fleet_dir / f"cloud-worker-{j}.yaml")
        paths[-1].write_text(yaml.safe_dump(doc))
    return paths


def stored_envelopes(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            return con.execute("SELECT count(*) FROM envelopes").fetchone()[0]
    except sqlite3.Error:
        return -1


def scrape(port: int) -> dict[str, float]:
    """The worker's counters that matter here, from its /metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out = {}
    for name, label in (("watertel_readings_stored_total", None), ("watertel_envelopes_total", "stored"),
                        ("watertel_envelopes_total", "duplicate"), ("watertel_envelopes_total", "refused")):
        pattern = rf"^{name}{{outcome=\"{label}\"}} (\S+)$" if label else rf"^{name} (\S+)$"
        m = re.search(pattern, text, re.M)
        out[f"{name}:{label}" if label else name] = float(m.group(1)) if m else 0.0
    return out


def reconcile(db: Path, oracle: dict) -> dict:
    """Per gateway: readings published (oracle) against stored; lags from the envelopes table."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        rows = dict(con.execute("SELECT station, count(*) FROM readings GROUP BY station"))
        distinct = dict(con.execute("SELECT station, count(*) FROM (SELECT DISTINCT station, point, t_ms FROM readings)"
                                    " GROUP BY station"))
        lags = [r for (r,) in con.execute("SELECT received_ms - created_ms FROM envelopes")]
        quarantined = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
    published = {s["station"]: s["received"] for s in oracle["stations"]}
    lost = {st: n - distinct.get(st, 0) for st, n in published.items() if n > distinct.get(st, 0)}
    extra = {st: n - published.get(st, 0) for st, n in distinct.items() if n > published.get(st, 0)}
    return {"published": sum(published.values()), "stored": sum(distinct.values()), "rows": sum(rows.values()),
            "lost": sum(lost.values()), "unexpected": sum(extra.values()),
            "duplicated_rows": sum(rows.values()) - sum(distinct.values()),
            "gateways_with_loss": sorted(lost)[:20], "gateways_complete": sum(1 for st in published if st not in lost),
            "envelopes": len(lags), "quarantined": quarantined,
            "ingest_lag_ms_p50": _percentile(lags, 0.5), "ingest_lag_ms_p99": _percentile(lags, 0.99),
            "ingest_lag_ms_max": max(lags, default=None)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gateways", type=int, default=4000)
    ap.add_argument("--interval", type=int, default=5, help="seconds (the 5-minute interval compressed)")
    ap.add_argument("--duration", type=float, default=600.0)
    ap.add_argument("--workers", type=int, default=1, choices=(1, 2))
    ap.add_argument("--duplicate", type=float, default=0.02, help="probability that an envelope is published twice")
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--lead", type=float, default=30.0, help="seconds for ingest to start before the first sample")
    ap.add_argument("--out", help="keep the run's folder here (default: a temporary one, removed)")
    args = ap.parse_args()
    binary = find_mosquitto()
    if binary is None:
        print("error: needs Mosquitto (Debian: apt-get install mosquitto)", file=sys.stderr)
        return 1
    work = Path(args.out).resolve() if args.out else Path(tempfile.mkdtemp(prefix="watertel-bench-fleet-cloud-"))
    fleet_dir = work / "fleet"
    broker = Mosquitto(binary, work / "mosquitto", persistence=False)
    broker.start()
    argv = [sys.executable, "-m", "watertel", "sim", "fleet", "--gateways", str(args.gateways),
            "--interval", str(args.interval), "--broker", broker.url, "--duration", str(args.duration),
            "--out", str(fleet_dir), "--connections", str(args.connections), "--lead", str(args.lead),
            "--duplicate", str(args.duplicate), "--seed", "1", "--on-time-intervals", "12"]
    print(f"  bench: {' '.join(argv[3:])}", file=sys.stderr, flush=True)
    workers: list[Child] = []
    ports = [free_port() for _ in range(args.workers)]
    samples: list[tuple[float, float]] = []  # (monotonic, ingest CPU s summed)
    stop = threading.Event()
    fleet = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)

    def sample() -> None:
        while not stop.wait(1.0):
            samples.append((time.monotonic(), sum(cpu_s(w.proc.pid) for w in workers)))

    sampler = threading.Thread(target=sample, name="cpu-sampler")
    try:
        wait_until(lambda: (fleet_dir / "cloud.yaml").exists() or fleet.poll() is not None, "the fleet's cloud.yaml",
                   timeout=600)  # key generation: ~1,700 pairs/s on first run
        first_sample = dt.datetime.fromisoformat(
            yaml.safe_load((fleet_dir / "registry.yaml").read_text())["stations"][0]["commissioned"]).timestamp()
        for j, cfg in enumerate(worker_configs(fleet_dir, args.workers)):
            workers.append(Child.watertel(f"ingest-{j}", ["cloud", "ingest", "--config", str(cfg),
                                                          "--metrics-port", str(ports[j])], work / "logs"))
        for w in workers:
            wait_until(lambda: "ingest subscribed" in w.log_tail(200), "the ingest subscription", w, timeout=args.lead)
        if time.time() >= first_sample:
            raise SystemExit("error: ingest subscribed after the first sample; raise --lead")
        print(f"  bench: {args.workers} ingest worker(s) subscribed {first_sample - time.time():.1f} s before the"
              " first sample", file=sys.stderr, flush=True)
        sampler.start()
        stdout, _ = fleet.communicate(timeout=args.duration * 3 + 900)
        if fleet.returncode != 0:
            print(f"error: the fleet exited with {fleet.returncode}", file=sys.stderr)
            return 1
        fleet_summary = json.loads(stdout.strip().splitlines()[-1])
        oracle = json.loads((fleet_dir / "oracle.json").read_text())
        expected_envelopes = sum(s["received"] for s in oracle["stations"]) // len(oracle["points"])
        db = fleet_dir / "cloud-data" / "watertel.db"
        caught_up, last, last_change = time.monotonic(), -1, time.monotonic()
        while (n := stored_envelopes(db)) < expected_envelopes and time.monotonic() - last_change < 60:
            last, last_change = n, last_change if n == last else time.monotonic()
            time.sleep(0.5)
        catch_up_s = time.monotonic() - caught_up
        counters = [scrape(p) for p in ports]
    finally:
        stop.set()
        if sampler.is_alive():
            sampler.join()
        if fleet.poll() is None:
            fleet.kill()
            fleet.wait()
        for w in workers:
            w.stop()
        broker.stop()
    figures = reconcile(db, oracle)
    stored_counter = sum(c["watertel_readings_stored_total"] for c in counters)
    duplicated = figures["duplicated_rows"] + max(0, int(stored_counter) - figures["stored"])
    busy = [s for s in samples if s[1] > 0]
    ingest_cpu = round(100 * (busy[-1][1] - busy[0][1]) / (busy[-1][0] - busy[0][0]), 1) if len(busy) > 2 else None
    result = {
        "gateways": args.gateways, "interval_s": args.interval, "duration_s": args.duration, "workers": args.workers,
        "published": figures["published"], "stored": figures["stored"], "lost": figures["lost"],
        "duplicated": duplicated, "unexpected": figures["unexpected"], "quarantined": figures["quarantined"],
        "gateways_complete": figures["gateways_complete"], "gateways_with_loss": figures["gateways_with_loss"],
        "ingest_lag_ms_p50": figures["ingest_lag_ms_p50"], "ingest_lag_ms_p99": figures["ingest_lag_ms_p99"],
        "ingest_lag_ms_max": figures["ingest_lag_ms_max"],
        "fleet_publish_lag_ms_p50": fleet_summary["lag_ms_p50"], "fleet_publish_lag_ms_p99": fleet_summary["lag_ms_p99"],
        "envelopes_published": fleet_summary["acked"], "envelopes_stored": figures["envelopes"],
        "envelopes_duplicate_dropped": int(sum(c["watertel_envelopes_total:duplicate"] for c in counters)),
        "readings_stored_counter": int(stored_counter), "catch_up_s": round(catch_up_s, 1),
        "target_per_s": fleet_summary["target_per_s"], "published_per_s": fleet_summary["published_per_s"],
        "ingest_cpu_percent": ingest_cpu, "fleet_cpu_percent": fleet_summary["cpu_percent_sampling"],
        "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
    }
    if not args.out:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))
    return 0 if result["lost"] == 0 and duplicated == 0 and result["unexpected"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

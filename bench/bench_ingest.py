"""Benchmark (not a test): end-to-end cloud ingest, Mosquitto → open → validate → store.

Run: .venv/bin/python bench/bench_ingest.py [--store sqlite|postgres|both] [--envelopes 2000]
     [--per-envelope 100] [--gateways 20] [--workers 2]

Envelopes of ``--per-envelope`` readings from ``--gateways`` gateways are sealed beforehand, then
published as fast as a QoS 1 publisher can to a Mosquitto on a free loopback port, while
``--workers`` processes of `watertel cloud ingest` share one subscription (``$share/ingest/…``)
and store into SQLite or a throw-away PostgreSQL cluster (initdb in a temporary folder, as the
tests do). Figures per store: readings/s from the first publish to the last stored envelope,
and latency from publish to stored (``received_ms`` of the envelope row) as p50/p99.
Targets (issue 6): >= 50,000 readings/s on SQLite and >= 30,000 on PostgreSQL with two workers.

Progress goes to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import yaml

from bench_edge import say, start_mosquitto
from watertel.crypto import SM2PrivateKey
from watertel.envelope import ChainState, seal
from watertel.keys import write_key_pair
from watertel.readings import Quality, Reading
from watertel.shell.postgres import Postgres, find_pg_bin
from watertel.shell.processes import Child, wait_until

T0 = (int(time.time()) // 3600 - 60 * 24) * 3_600_000  # 60 days ago: inside the ingest's sample-time window


def sealed_envelopes(workdir: Path, gateways: int, envelopes: int, per: int) -> list[tuple[str, int, bytes]]:
    """(gateway, seq, bytes) in publishing order: gateways take turns, each its own chain."""
    keys, states = {}, {}
    for g in range(gateways):
        gw = f"gw-{g:04d}"
        write_key_pair(workdir / "keys", gw)
        keys[gw] = SM2PrivateKey.from_pem((workdir / "keys" / f"{gw}.key.pem").read_text())
        states[gw] = ChainState()
    out = []
    for i in range(envelopes):
        gw = f"gw-{i % gateways:04d}"
        readings = [Reading(f"ST-{gw}", f"p{j % 5}", T0 + (i // gateways * per + j) * 1000, j * 0.5, "m3/h", Quality.OK)
                    for j in range(per)]
        seq = states[gw].seq
        data, states[gw] = seal(readings, keys[gw], gw, "k1", states[gw], T0)
        out.append((gw, seq, data))
    return out


def cloud_configs(workdir: Path, port: int, gateways: int, workers: int, store: dict) -> list[Path]:
    paths = []
    for w in range(workers):
        cfg = {"data_dir": str(workdir / "cloud-data"), "store": store,
               "mqtt": {"host": "127.0.0.1", "port": port, "client_id": f"ingest-{w}", "shared_group": "ingest"},
               "gateways": [{"id": f"gw-{g:04d}", "key_id": "k1", "public_key": f"keys/gw-{g:04d}.pub.pem",
                             "stations": [f"ST-gw-{g:04d}"]} for g in range(gateways)]}
        paths.append(workdir / f"cloud-{w}.yaml")
        paths[-1].write_text(yaml.safe_dump(cfg))
    return paths


def publish(port: int, envelopes: list[tuple[str, int, bytes]]) -> dict[tuple[str, int], float]:
    """Publish everything at QoS 1; return the publish time (ms) of each envelope."""
    sent: dict[tuple[str, int], float] = {}
    done = threading.Event()
    acked = [0]
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-publisher")
    client.max_inflight_messages_set(200)
    client.max_queued_messages_set(0)

    def on_publish(c, userdata, mid, reason, props) -> None:
        acked[0] += 1
        if acked[0] == len(envelopes):
            done.set()

    client.on_publish = on_publish
    client.connect("127.0.0.1", port)
    client.loop_start()
    for gw, seq, data in envelopes:
        sent[(gw, seq)] = time.time() * 1000
        client.publish(f"watertel/{gw}/up", data, qos=1)
    assert done.wait(300), "publisher did not get every PUBACK"
    client.disconnect()
    client.loop_stop()
    return sent


def store_rows(cfg_path: Path) -> list[tuple[str, int, int]]:
    from watertel.cloud.config import load_cloud_config
    from watertel.cloud.store import open_store

    cfg = load_cloud_config(cfg_path)
    store = open_store(cfg.store, cfg.data_dir)
    try:
        rows = store._rows("SELECT gateway_id, seq, received_ms FROM envelopes")
        return [(gw, store._from_seq(seq), received) for gw, seq, received in rows]
    finally:
        store.close()


def run(kind: str, args: argparse.Namespace, workdir: Path, port: int, envelopes: list) -> dict:
    pg = None
    if kind == "postgres":
        pg = Postgres(find_pg_bin())
        pg.start()
        store = {"kind": "postgres", "dsn": pg.new_database()}
    else:
        store = {"kind": "sqlite"}
    run_dir = workdir / kind
    (run_dir / "keys").mkdir(parents=True)
    for f in (workdir / "keys").iterdir():
        (run_dir / "keys" / f.name).write_bytes(f.read_bytes())
    configs = cloud_configs(run_dir, port, args.gateways, args.workers, store)
    workers = [Child.watertel(f"ingest-{i}", ["cloud", "ingest", "--config", str(c)], run_dir / "logs")
               for i, c in enumerate(configs)]
    try:
        for i, w in enumerate(workers):
            wait_until(lambda: "ingest subscribed" in (run_dir / "logs" / f"ingest-{i}.log").read_text(),
                       f"ingest worker {i}", w, timeout=30)
        say(f"{kind}: publishing {len(envelopes)} envelopes of {args.per_envelope} readings …")
        sent = publish(port, envelopes)
        wait_until(lambda: len(store_rows(configs[0])) >= len(envelopes), f"{kind}: every envelope stored",
                   workers[0], timeout=600)
        rows = store_rows(configs[0])
    finally:
        for w in workers:
            w.stop()
        if pg:
            pg.stop()
    latencies = sorted(received - sent[(gw, seq)] for gw, seq, received in rows)
    elapsed_s = (max(r for _, _, r in rows) - min(sent.values())) / 1000
    readings = len(rows) * args.per_envelope
    say(f"{kind}: {readings} readings in {elapsed_s:.1f} s")
    return {f"{kind}_readings_per_s": round(readings / elapsed_s), f"{kind}_seconds": round(elapsed_s, 1),
            f"{kind}_latency_p50_ms": round(statistics.median(latencies)),
            f"{kind}_latency_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--envelopes", type=int, default=2000)
    parser.add_argument("--per-envelope", type=int, default=100)
    parser.add_argument("--gateways", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    began = time.perf_counter()
    result = {"envelopes": args.envelopes, "per_envelope": args.per_envelope, "gateways": args.gateways,
              "workers": args.workers}
    with tempfile.TemporaryDirectory(prefix="watertel-bench-") as tmp:
        workdir = Path(tmp)
        say("sealing …")
        envelopes = sealed_envelopes(workdir, args.gateways, args.envelopes, args.per_envelope)
        for kind in (["sqlite", "postgres"] if args.store == "both" else [args.store]):
            broker, port = start_mosquitto(workdir)
            try:
                result |= run(kind, args, workdir, port, envelopes)
            finally:
                broker.stop()
    result |= {"python": platform.python_version(), "cpus": os.cpu_count(), "seconds": round(time.perf_counter() - began)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Benchmark (not a test): the console's API over a month of 5-minute data of 4,000 stations (issue 9).

Run: .venv/bin/python bench/bench_console.py [--stations 4000] [--days 30] [--interval 5]
     [--data-dir DIR] [--requests 100] [--subscribers 100] [--alarms 5]

Builds (or reuses, from ``--data-dir``, when it holds a store of the same shape) a SQLite store of
``--stations`` stations × ``--days`` days of ``flow`` at ``--interval`` minutes ending now (the
readings of bench/bench_rates.py: ~1 % of slots missing, 2 % late, 0.5 % flagged; 4,000 × 30 days
× 5 min = 34.5 million readings), with a registry file of the stations in 40 counties. Then starts
the real API (`watertel cloud api`, a subprocess), logs in with a bearer token and measures:

- ``GET /api/stations`` ``--requests`` times (the station list; the first call is quoted apart);
- ``GET /api/series`` of ``flow`` over the last 7 days of a random station, ``--requests`` times
  (the station page's trend: 2,016 slots, served as min/max/mean buckets);
- ``--subscribers`` concurrent ``GET /api/events`` streams, one per user (a user may hold five):
  once all are ``ready``, ``--alarms`` alarms are raised through the store one after another, and
  for each, how many streams got its ``alarm`` event and after how long (``events``: the API and
  the raising process apart over SQLite, the deployment of this run).

Then the push latency (issue 20, item 10), ``push``: raise → ``alarm`` event at every one of
``--subscribers`` streams, p50/p95 over all deliveries, for each way the store's arrival signal
reaches the API (cloud/store/changes.py), each on a fresh store with the same registry:

- ``in_process``: the API and the raising store in one process (as `watertel cloud run` has ingest
  and the API): in-process listeners, fired right after the commit;
- ``postgres``: the API (`watertel cloud api`) apart from the raising process, PostgreSQL's
  LISTEN/NOTIFY (a throw-away cluster; skipped without the Debian package);
- ``sqlite_apart``: the same apart over SQLite: the fallback short poll of the file's
  ``data_version`` (0.1 s).

Then the stations page's map in Debian's headless Chromium (1366×900, logged in through the form),
loaded ``--map-loads`` times: each load's first draw of the station layer (``#map``'s
``data-draw-ms``: markers made, canvas painted, two animation frames) with every station placed
(the registry gives each a location in the province; the map is the plain one, no tiles).

``--push-only`` measures only the push latency (no readings are built); ``--parts`` picks what to
measure (e.g. ``--parts map --days 1`` for the map alone). Targets: station list p95 ≤ 200 ms,
7-day trend p95 ≤ 200 ms, 100 subscribers served (issue 9); raise → browser p95 ≤ 200 ms with
100 subscribers where the signal is pushed (in-process, PostgreSQL), the map's station layer of
4,000 stations first drawn in ≤ 300 ms p95 (issue 20).

Progress goes to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import http.client
import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from collections.abc import Callable
from types import SimpleNamespace

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from bench_edge import say  # noqa: E402
from bench_rates import readings, stations  # noqa: E402
from watertel.cloud.api.auth import hash_password  # noqa: E402
from watertel.cloud.store.sqlite import SqliteStore  # noqa: E402
from watertel.ports import free_port, port_open  # noqa: E402
from watertel.shell.postgres import Postgres, find_pg_bin  # noqa: E402

DAY_MS = 86_400_000
PASSWORD = "bench console password"
COUNTIES = 40
CHUNK = 100  # stations generated and inserted at a time: bounded memory
# a daily cycle (288 slots of 5 min) around 20 m3/h, different per station; flagged readings have no value
INSERT = ("INSERT INTO readings VALUES (?1, 'flow', ?2, CASE WHEN ?4 = 0 THEN 20.0 + 8.0 * abs(((?2 / 300000) % 288)"
          " - 144) / 144.0 + (abs(?3) % 50) / 10.0 END, 'm3/h', ?4, 'gw-bench', 0, ?5)")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def figures(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 1), "p95_ms": round(percentile(ms, 95), 1),
            "max_ms": round(max(ms), 1)}


# --- the data ----------------------------------------------------------------------------------
def registry_doc(n: int, interval: int) -> dict:
    """One province, four cities, ``COUNTIES`` counties; the stations spread over the counties."""
    cities = [{"id": f"c{c}", "name": f"City {c}", "counties": [
        {"id": f"c{c}-{k}", "name": f"County {c}-{k}"} for k in range(COUNTIES // 4)]} for c in range(4)]
    counties = [county["id"] for city in cities for county in city["counties"]]
    return {"provinces": [{"id": "p", "name": "Province", "cities": cities}],
            "stations": [{"id": st.id, "name": f"Well {i}", "kind": "well", "region": counties[i % len(counties)],
                          "interval_minutes": interval, "points": ["flow"], "commissioned": "2024-01-01",
                          "location": location(i)}
                         for i, st in enumerate(stations(n, interval))]}


def location(i: int) -> dict:
    """A fixed place for station ``i`` in a province-sized box (27–31° N, 118–122.5° E, WGS-84)."""
    rng = random.Random(i)
    return {"lat": round(27 + 4 * rng.random(), 5), "lon": round(118 + 4.5 * rng.random(), 5)}


def build_store(folder: Path, n: int, days: int, interval: int) -> dict:
    """The store and registry in ``folder``, reused when its ``shape.json`` says they match."""
    shape = {"stations": n, "days": days, "interval_minutes": interval}
    marker = folder / "shape.json"
    folder.mkdir(parents=True, exist_ok=True)  # the registry is written each time: cheap, and a reused store gets locations
    (folder / "registry.yaml").write_text(yaml.safe_dump(registry_doc(n, interval), sort_keys=False), encoding="utf-8")
    if marker.exists() and {k: v for k, v in json.loads(marker.read_text()).items() if k in shape} == shape:
        built = json.loads(marker.read_text())
        say(f"reusing the store in {folder} ({built['readings']:,} readings, built {built['built']})")
        return built
    for stale in folder.glob("watertel.db*"):
        stale.unlink()
    SqliteStore(folder / "watertel.db").close()  # the schema, as the service makes it
    end = int(time.time() * 1000) // (interval * 60_000) * (interval * 60_000)
    period = SimpleNamespace(start_ms=end - days * DAY_MS, end_ms=end)  # all `readings` reads of a period
    db = sqlite3.connect(folder / "watertel.db", isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")
    start, total, sts = time.perf_counter(), 0, stations(n, interval)
    for i in range(0, n, CHUNK):
        db.execute("BEGIN")
        for batch in readings(sts[i:i + CHUNK], period, seed=i):
            db.executemany(INSERT, [(s, t, int(s[3:]), q, r) for s, _, t, r, q in batch])
            total += len(batch)
        db.execute("COMMIT")
        say(f"store: {i + CHUNK:,} stations, {total:,} readings, {time.perf_counter() - start:.0f} s")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    built = {**shape, "readings": total, "start_ms": period.start_ms, "end_ms": end,
             "build_s": round(time.perf_counter() - start, 1), "built": dt.datetime.now().isoformat(timespec="seconds")}
    marker.write_text(json.dumps(built))
    return built


# --- the API -----------------------------------------------------------------------------------
def write_config(folder: Path, port: int, users: int, store: dict | None = None) -> Path:
    """A cloud.yaml over the store and registry in ``folder``: ``users`` operators, one admin."""
    digest = hash_password(PASSWORD)  # one hash for all: each login still verifies it (argon2)
    config = folder / "cloud.yaml"
    config.write_text(yaml.safe_dump({
        "data_dir": str(folder), "registry_file": str(folder / "registry.yaml"), **({"store": store} if store else {}),
        "api": {"port": port, "users": [{"username": "admin", "password_hash": digest, "role": "admin"}] + [
            {"username": f"op{i:03d}", "password_hash": digest, "role": "operator"} for i in range(users)]}}))
    return config


def start_api(config: Path, port: int) -> subprocess.Popen:
    log = open(config.parent / "api.log", "wb")  # noqa: SIM115 - the child writes to it until stopped
    proc = subprocess.Popen([sys.executable, "-m", "watertel", "cloud", "api", "--config", str(config)], cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not port_open(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"the API did not start: {(config.parent / 'api.log').read_text()[-2000:]}")
        time.sleep(0.1)
    return proc


def call(conn: http.client.HTTPConnection, method: str, path: str, token: str | None = None,
         body: dict | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    response = conn.getresponse()
    return response.status, json.loads(response.read() or b"null")


def log_in(port: int, user: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    status, body = call(conn, "POST", "/api/login", body={"username": user, "password": PASSWORD, "session": "bearer"})
    conn.close()
    if status != 200:
        raise RuntimeError(f"login of {user}: {status} {body}")
    return body["access_token"]


def timed_gets(port: int, token: str, paths: list[str]) -> list[float]:
    """Each path in turn over one keep-alive connection (as a browser does): seconds per answer."""
    conn, times = http.client.HTTPConnection("127.0.0.1", port, timeout=120), []
    for path in paths:
        start = time.perf_counter()
        status, body = call(conn, "GET", path, token)
        times.append(time.perf_counter() - start)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body}")
    conn.close()
    return times


# --- live alarms -------------------------------------------------------------------------------
async def subscriber(port: int, token: str, ready: asyncio.Event, got: dict[int, float], opened: list) -> None:
    """One /api/events stream: counts itself in ``opened`` at ``ready``; notes when each alarm arrives."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /api/events HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    status = (await reader.readline()).decode()
    if " 200 " not in status:
        raise RuntimeError(f"events: {status.strip()}")
    event = ""
    try:
        while line := (await reader.readline()).decode():
            if line.startswith("event: "):
                event = line[7:].strip()
                if event == "ready":
                    opened.append(time.monotonic())
                    if len(opened) == ready.n:  # type: ignore[attr-defined]
                        ready.set()
            elif line.startswith("data: ") and event == "alarm":
                data = json.loads(line[6:])
                if data["change"] == "new":
                    got.setdefault(data["alarm"]["id"], time.time())
    finally:
        writer.close()


async def live_alarms(port: int, tokens: list[str], raise_one: Callable[[int], tuple[int, float, float]], alarms: int,
                      gap_s: float = 0.5) -> dict:
    """Open every stream, wait for all to be ready, raise ``alarms`` alarms one after another
    (``raise_one(i)``: the alarm's id, the time of the call and the time its commit returned),
    ``gap_s`` apart. ``latency`` runs from the commit (the alarm exists), ``latency_from_call``
    from the call (with the raising transaction's own commit, fsync included)."""
    ready, opened = asyncio.Event(), []
    ready.n = len(tokens)  # type: ignore[attr-defined]
    received: list[dict[int, float]] = [{} for _ in tokens]
    start = time.monotonic()
    tasks = [asyncio.create_task(subscriber(port, t, ready, got, opened)) for t, got in zip(tokens, received)]
    try:
        await asyncio.wait_for(ready.wait(), 300)
    except TimeoutError:
        pass
    ready_s = time.monotonic() - start
    say(f"events: {len(opened)} of {len(tokens)} streams ready after {ready_s:.1f} s")
    raised, called = {}, {}
    try:
        await asyncio.sleep(1.0)  # the hub's first reads after the last subscriber: not part of a raise
        for i in range(alarms):
            alarm_id, t_call, t_done = await asyncio.to_thread(raise_one, i)
            raised[alarm_id], called[alarm_id] = t_done, t_call
            await asyncio.sleep(gap_s)
        await asyncio.sleep(2.0)  # the last one's stragglers
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    latencies = [max(0.0, got[a] - t) for a, t in raised.items() for got in received if a in got]
    from_call = [got[a] - t for a, t in called.items() for got in received if a in got]
    delivered = [sum(a in got for got in received) for a in raised]
    return {"subscribers": len(tokens), "ready": len(opened), "ready_s": round(ready_s, 2), "alarms": len(raised),
            "received_per_alarm": delivered, "all_received": all(n == len(tokens) for n in delivered),
            "latency": figures(latencies) if latencies else None,
            "latency_from_call": figures(from_call) if from_call else None,
            # per alarm: its first and last stream's delay (ms): a late read delays both, a slow fan-out the last
            "first_last_ms": [[round(min(got[a] - t for got in received if a in got) * 1000, 1),
                               round(max(got[a] - t for got in received if a in got) * 1000, 1)]
                              for a, t in raised.items() if any(a in got for got in received)]}


def store_raiser(store) -> tuple[Callable[[int], tuple[int, float, float]], Callable[[], None]]:
    """Raise through ``store`` (open alarms are cleared first, so each raise is new); and the clean-up."""
    made: list[tuple[str, str, str]] = []

    def raise_one(i: int) -> tuple[int, float, float]:
        station = f"ST-{i % 1000:05d}"
        t = time.time()
        store.raise_alarm(station, "flow", "bench_live", "orange", f"bench alarm {i}", int(t * 1000))
        done = time.time()
        made.append((station, "flow", "bench_live"))
        return max(a["id"] for a in store.alarm_rows(stations=[station], types=["bench_live"])), t, done

    def clean() -> None:  # leave the store as found, so the next run raises afresh
        for key in dict.fromkeys(made):
            store.clear_alarm(*key, int(time.time() * 1000))
    return raise_one, clean


# --- push latency by deployment (issue 20, item 10) ------------------------------------------------
def serve_in_process(folder: Path, port: int) -> None:
    """The API and a raising store in one process (as `watertel cloud run`): stdin "raise <i>" →
    stdout "<alarm id> <time of the call> <time the commit returned>"; "clean" clears what was raised."""
    import threading

    import uvicorn

    from watertel.cloud.api.app import create_app
    from watertel.cloud.config import load_cloud_config
    from watertel.cloud.registry import load_registry

    cfg = load_cloud_config(folder / "cloud.yaml")
    app = create_app(SqliteStore(folder / "watertel.db"), cfg.api, registry=load_registry(folder / "registry.yaml"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    raise_one, clean = store_raiser(SqliteStore(folder / "watertel.db"))  # its own store object, as ingest has
    for line in sys.stdin:
        if line.startswith("raise"):
            alarm_id, t, done = raise_one(int(line.split()[1]))
            print(alarm_id, repr(t), repr(done), flush=True)
        elif line.startswith("clean"):
            clean()
            print("cleaned", flush=True)
    server.should_exit = True


def fresh_folder(root: Path, name: str, n: int, interval: int, users: int, port: int, store: dict | None = None) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "registry.yaml").write_text(yaml.safe_dump(registry_doc(n, interval), sort_keys=False), encoding="utf-8")
    write_config(folder, port, users, store)
    return folder


def push_latency(root: Path, args: argparse.Namespace) -> dict:
    """Raise → event p50/p95 for each deployment (the module docstring)."""
    out: dict = {}
    for deploy in args.deploy:
        port = free_port()
        pg = None
        try:
            if deploy == "in_process":
                folder = fresh_folder(root, deploy, args.stations, args.interval, args.subscribers, port)
                SqliteStore(folder / "watertel.db").close()
                proc = subprocess.Popen([sys.executable, __file__, "--serve-in-process", str(folder), "--port", str(port)],
                                        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                        stderr=open(folder / "api.log", "wb"))  # noqa: SIM115
                deadline = time.monotonic() + 60
                while not port_open(port):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError((folder / "api.log").read_text()[-2000:])
                    time.sleep(0.1)

                def raise_one(i: int, proc=proc) -> tuple[int, float, float]:
                    proc.stdin.write(f"raise {i}\n")
                    proc.stdin.flush()
                    alarm_id, t, done = proc.stdout.readline().split()
                    return int(alarm_id), float(t), float(done)
                clean = None
            else:
                if deploy == "postgres":
                    bindir = find_pg_bin()
                    if bindir is None:
                        out[deploy] = {"skipped": "no PostgreSQL server (Debian package postgresql)"}
                        continue
                    pg = Postgres(bindir)
                    pg.start()
                    dsn = pg.new_database()
                    store_cfg = {"kind": "postgres", "dsn": dsn}
                    folder = fresh_folder(root, deploy, args.stations, args.interval, args.subscribers, port, store_cfg)
                    from watertel.cloud.store.postgres import PostgresStore
                    store = PostgresStore(dsn)
                else:
                    folder = fresh_folder(root, deploy, args.stations, args.interval, args.subscribers, port)
                    store = SqliteStore(folder / "watertel.db")
                proc = start_api(folder / "cloud.yaml", port)
                raise_one, clean = store_raiser(store)
            try:
                tokens = [log_in(port, f"op{i:03d}") for i in range(args.subscribers)]
                found = asyncio.run(live_alarms(port, tokens, raise_one, args.push_alarms, args.push_gap))
            finally:
                proc.terminate()
                proc.wait(30)
                if clean is not None:
                    clean()
                    store.close()
            out[deploy] = {**found, "target_p95_ms": 200,
                           "met": bool(found["latency"] and found["all_received"] and found["latency"]["p95_ms"] <= 200)}
            say(f"push, {deploy}: {out[deploy]['latency']} all received: {found['all_received']}")
        finally:
            if pg is not None:
                pg.stop()
    return out


# --- the map in Chromium ----------------------------------------------------------------------
def map_draws(port: int, loads: int) -> dict:
    """The stations page loaded ``loads`` times in one logged-in Chromium tab: each first draw."""
    from playwright.sync_api import sync_playwright

    from tests.support.browser import CHROMIUM, CHROMIUM_ARGS

    base, draws, walls, drawn = f"http://127.0.0.1:{port}", [], [], set()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
            page.set_default_timeout(120_000)
            page.goto(f"{base}/login")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")
            for i in range(loads + 1):  # the first load warms the caches (files, the station list): not counted
                start = time.perf_counter()
                page.goto(f"{base}/stations")
                page.wait_for_selector("#map[data-draw-ms]")
                wall = time.perf_counter() - start
                if i:
                    draws.append(float(page.get_attribute("#map", "data-draw-ms")) / 1000)
                    walls.append(wall)
                    drawn.add(page.get_attribute("#map", "data-drawn"))
        finally:
            browser.close()
    return {**figures(draws), "stations_drawn": sorted(drawn), "page_load_to_drawn": figures(walls)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stations", type=int, default=4000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--interval", type=int, default=5, help="minutes")
    parser.add_argument("--data-dir", type=Path, help="keep the store here and reuse it next time (else a temp folder)")
    parser.add_argument("--requests", type=int, default=100, help="per endpoint")
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--alarms", type=int, default=5)
    parser.add_argument("--push-only", action="store_true", help="only the push latency (no readings built)")
    parser.add_argument("--push-alarms", type=int, default=20, help="alarms raised per deployment")
    parser.add_argument("--push-gap", type=float, default=0.5, help="seconds between two raises")
    parser.add_argument("--deploy", nargs="+", choices=["in_process", "postgres", "sqlite_apart"],
                        default=["in_process", "postgres", "sqlite_apart"])
    parser.add_argument("--serve-in-process", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--map-loads", type=int, default=30, help="loads of the stations page measured")
    parser.add_argument("--parts", default="api,events,map,push", help="what to measure: api, events, map, push (comma-separated)")
    args = parser.parse_args()
    if args.serve_in_process:
        serve_in_process(args.serve_in_process, args.port)
        return
    if args.push_only:
        with tempfile.TemporaryDirectory(prefix="bench-push-") as tmp:
            push = push_latency(Path(tmp), args)
        print(json.dumps({"bench": "console", "machine": platform.machine(), "cpus": os.cpu_count(),
                          "stations": args.stations, "push": push}))
        return
    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        folder = args.data_dir or Path(tmp)
        built = build_store(folder, args.stations, args.days, args.interval)
        port = free_port()
        proc = start_api(write_config(folder, port, args.subscribers), port)
        try:
            result = measure(port, folder, built, args)
        finally:
            proc.terminate()
            proc.wait(30)
        if "push" in args.parts.split(","):
            with tempfile.TemporaryDirectory(prefix="bench-push-") as push_tmp:
                result["push"] = push_latency(Path(push_tmp), args)
            pushed = [v for k, v in result["push"].items() if k != "sqlite_apart" and "skipped" not in v]  # the fallback: no target
            result["targets_met"]["push_p95"] = bool(pushed) and all(v["met"] for v in pushed)
    print(json.dumps(result))


def measure(port: int, folder: Path, built: dict, args: argparse.Namespace) -> dict:
    parts = set(args.parts.split(","))
    out: dict = {"bench": "console", "machine": platform.machine(), "cpus": os.cpu_count(), **{
        k: built[k] for k in ("stations", "days", "interval_minutes", "readings")}}
    met: dict = {}
    if "api" in parts:
        token = log_in(port, "admin")
        rng = random.Random(9)
        first = timed_gets(port, token, ["/api/stations"])[0]
        say(f"stations: first call {first * 1000:.0f} ms")
        listing = timed_gets(port, token, ["/api/stations"] * args.requests)
        say(f"stations: {figures(listing)}")
        end, week = built["end_ms"], 7 * DAY_MS
        trend = timed_gets(port, token, [f"/api/series?station=ST-{rng.randrange(args.stations):05d}&point=flow"
                                         f"&from={end - week}&to={end}" for _ in range(args.requests)])
        say(f"series (7 days): {figures(trend)}")
        stations_fig, trend_fig = figures(listing), figures(trend)
        out |= {"stations_list": {**stations_fig, "first_ms": round(first * 1000, 1), "target_p95_ms": 200},
                "series_7_days": {**trend_fig, "target_p95_ms": 200}}
        met |= {"stations_list": stations_fig["p95_ms"] <= 200, "series_7_days": trend_fig["p95_ms"] <= 200}
    if "events" in parts:
        tokens = [log_in(port, f"op{i:03d}") for i in range(args.subscribers)]
        raise_one, clean = store_raiser(SqliteStore(folder / "watertel.db"))
        live = asyncio.run(live_alarms(port, tokens, raise_one, args.alarms))
        clean()
        say(f"events: {live}")
        out["events"] = live
        met["subscribers"] = live["all_received"] and live["ready"] == args.subscribers
    if "map" in parts:
        draw = map_draws(port, args.map_loads)
        say(f"map: {draw}")
        out["map_first_draw"] = {**draw, "target_p95_ms": 300}
        met["map_first_draw"] = draw["p95_ms"] <= 300 and draw["stations_drawn"] == [str(args.stations)]
    return {**out, "targets_met": met}


if __name__ == "__main__":
    main()

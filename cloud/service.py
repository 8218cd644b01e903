"""`watertel cloud run`: ingest worker, API and console in one process; `cloud ingest` and
`cloud api` run them apart, so several ingest workers (one MQTT shared subscription) can scale out
beside one API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable

import uvicorn
from prometheus_client import start_http_server

from cloud import metrics
from cloud.alarms.engine import AlarmEngine
from cloud.api.app import create_app
from cloud.api.reports import ReportsSetup
from cloud.config import CloudConfig
from cloud.fleet import FleetStatus
from cloud.ingest.handler import Handler
from cloud.ingest.registry import Registry
from cloud.ingest.worker import run_ingest
from cloud.notify.outbox import run_alarm_handling
from cloud.quality.schedule import run_schedule
from cloud.registry import load_registry
from cloud.store import open_store

log = logging.getLogger("watertel.cloud")
PARTS = frozenset({"ingest", "api"})


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the service stops all its parts together."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


async def every(seconds: float, check: Callable[[], object], what: str) -> None:
    """Run ``check`` every ``seconds`` until cancelled; a failure is logged and tried next round."""
    while True:
        await asyncio.sleep(seconds)
        try:
            check()
        except Exception:  # a busy or unreachable database: try again next round
            log.exception("%s failed", what)


async def apply_retention(store, raw_days: float, pause_s: float = 0.05) -> int:
    """Delete raw readings older than ``raw_days`` in small batches; return how many."""
    cutoff, total = int((time.time() - raw_days * 86400) * 1000), 0
    while n := store.delete_readings_before(cutoff):
        total += n
        await asyncio.sleep(pause_s)  # let ingest in between batches
    if total:
        log.info("retention: %d readings older than %g days deleted", total, raw_days)
    return total


async def refresh_rollups(open_store: Callable[[], object], stations: list, rates, every_s: float = 60.0) -> None:
    """Keep the rates' day rollups current (cloud/quality/rollups.py): every ``every_s``, one pass
    over the marked stations in small batches, in a thread on a connection of its own, so ingest's
    loop never waits on it and its write transactions stay short."""
    from cloud.quality.rollups import refresh

    def once() -> int:
        store = open_store()
        try:
            return refresh(store, stations, rates)
        finally:
            store.close()

    while True:
        await asyncio.sleep(every_s)
        try:
            if n := await asyncio.to_thread(once):
                log.debug("rollups: %d marks refreshed", n)
        except Exception:  # a busy database: try again next round
            log.exception("rollup refresh failed")


async def _retention(store, cfg: CloudConfig) -> None:
    while True:
        try:
            await apply_retention(store, cfg.retention.raw_days)
        except Exception:  # a busy database: try again next round
            log.exception("retention failed")
        await asyncio.sleep(cfg.retention.every_s)


async def run_cloud(cfg: CloudConfig, parts: frozenset[str] = PARTS, metrics_port: int | None = None) -> None:
    """Run ``parts`` until SIGTERM/SIGINT; the store is closed only after every part stopped.

    ``metrics_port``: serve /metrics on 127.0.0.1 for a process without the API (an ingest worker).
    """
    if metrics_port:
        start_http_server(metrics_port, addr="127.0.0.1", registry=metrics.REGISTRY)
    stations = load_registry(cfg.registry_file) if cfg.registry_file else None  # data_stopped needs the intervals
    store = open_store(cfg)
    metrics.watch_store(store)
    handler = Handler(store, Registry(cfg.gateways), AlarmEngine(store, cfg.alarms, stations, cfg.quality.tz,
                                                                     lifecycle=cfg.lifecycle),
                      FleetStatus(cfg.data_dir / "fleet"))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    background = []  # cancelled at stop
    if "ingest" in parts:
        background += [asyncio.create_task(run_ingest(cfg.mqtt, handler)),
                       asyncio.create_task(every(min(30.0, cfg.chain_gap_after_s / 4),
                                                 lambda: handler.alarms.check_chain_gaps(cfg.chain_gap_after_s),
                                                 "chain gap check"))]
        if stations is not None:
            background.append(asyncio.create_task(every(cfg.alarms.check_every_s, handler.alarms.check_data_stopped,
                                                        "data stopped check")))
            if stations.permits:
                background.append(asyncio.create_task(every(cfg.alarms.permits_every_s, handler.alarms.check_permits,
                                                            "permit check (reads the permit years' counters)")))
            background.append(asyncio.create_task(refresh_rollups(lambda: open_store(cfg), stations.stations,
                                                                  cfg.quality)))
        if cfg.retention.raw_days:
            background.append(asyncio.create_task(_retention(store, cfg)))
    server = serving = None
    if "api" in parts:  # asked to exit at stop, so open requests finish
        reports = ReportsSetup(stations, cfg.quality, cfg.data_dir / "reports", cfg.alarms)
        if reports.registry is not None and cfg.reports.scheduled:
            background.append(asyncio.create_task(run_schedule(reports.root, lambda: open_store(cfg), reports.registry,
                                                               cfg.quality, cfg.reports, cfg.alarms)))
        ancestry = {st.id: stations.ancestry(st.region) for st in stations.stations} if stations else {}
        background.append(asyncio.create_task(run_alarm_handling(  # escalation, work orders, notifications
            lambda: open_store(cfg), cfg.lifecycle, cfg.notifications, ancestry.get, cfg.quality.tz)))
        app = create_app(store, cfg.api, reports, lifecycle=cfg.lifecycle)
        server = _Server(uvicorn.Config(app, host=cfg.api.host, port=cfg.api.port,
                                        log_level="warning", access_log=False))
        serving = asyncio.create_task(server.serve())
        log.info("cloud service: API on http://%s:%d", cfg.api.host, cfg.api.port)
    stopping = asyncio.create_task(stop.wait())
    try:  # until a signal, or the API ends by itself (its port taken: uvicorn exits)
        await asyncio.wait([stopping, *([serving] if serving else [])], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        if server:
            server.config.app.state.events.close()  # open event streams end now, not when clients leave
            server.should_exit = True
            await asyncio.wait([serving])
        for task in background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        store.close()
        log.info("cloud service stopped: %s", dict(handler.counts))
    if serving and serving.done() and not stop.is_set():
        serving.result()  # re-raise why the API stopped (e.g. SystemExit after a bind error)

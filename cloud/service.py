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

from watertel.cloud import metrics
from watertel.cloud.alarms.engine import AlarmEngine
from watertel.cloud.api import scope
from watertel.cloud.api.app import create_app
from watertel.cloud.api.gateway_status import FleetSetup
from watertel.cloud.api.reports import ReportsSetup
from watertel.cloud.audit.trail import AuditTrail
from watertel.cloud.config import ApiConfig, CloudConfig
from watertel.cloud.gateway_status import GatewayStatus
from watertel.cloud.ingest.gateway_keys import RELOAD_CHECK_S, GatewayKeys, GatewaysWatcher
from watertel.cloud.ingest.handler import Handler
from watertel.cloud.ingest.worker import run_ingest
from watertel.cloud.notify.outbox import run_alarm_handling
from watertel.cloud.notify.reload import NotificationsWatcher
from watertel.cloud.quality.rollups import refresh
from watertel.cloud.quality.schedule import run_schedule
from watertel.cloud.registry import load_registry
from watertel.cloud.resend import ResendRequester, request_resends
from watertel.cloud.store import open_store
from watertel.cloud.store.influx_mirror import InfluxMirror
from watertel.crypto import SM2PrivateKey

log = logging.getLogger("watertel.cloud")
PARTS = frozenset({"ingest", "api"})


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the service stops all its parts together."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


def server_config(app: object, api: ApiConfig) -> uvicorn.Config:
    """uvicorn for the API: ``X-Forwarded-For`` believed only from ``api.forwarded_allow_ips``.

    Why not uvicorn's default: it believes the header from 127.0.0.1, so behind a proxy that does
    not set it (or with no proxy at all, for a local client) anyone picks the address the login
    limits count and the audit log records. With no proxies given, the peer's own address counts.
    """
    proxies = list(api.forwarded_allow_ips)
    return uvicorn.Config(app, host=api.host, port=api.port, log_level="warning", access_log=False,
                          proxy_headers=bool(proxies), forwarded_allow_ips=proxies)


async def every(seconds: float, check: Callable[[], object], what: str) -> None:
    """Run ``check`` every ``seconds`` until cancelled; a failure is logged and tried next round."""
    while True:
        await asyncio.sleep(seconds)
        try:
            check()
        except Exception:  # a busy or unreachable database: try again next round
            log.exception("%s failed", what)


async def _resends(store, cfg: CloudConfig) -> None:
    """Ask gateways for the envelopes missing from their chains (cloud/resend.py) until cancelled."""
    requester = ResendRequester(store, cfg.resend, SM2PrivateKey.from_pem(cfg.command_key.read_text()),
                                {g.id for g in cfg.gateways})
    while True:
        await asyncio.sleep(min(10.0, cfg.resend.after_s / 2))
        try:
            await request_resends(requester, cfg.mqtt)
        except Exception as err:  # the broker away: ask for every open hole again next round
            requester.asked.clear()
            log.warning("resend request failed: %s", err)


def retention_cutoff(days: float, now_ms: int) -> int:
    """``days`` before ``now_ms``, down to a whole hour: an hour's raw readings go together, so its
    rollup (cloud/quality/hourly.py) is never recomputed from part of them."""
    t = now_ms - int(days * 86_400_000)
    return t - t % 3_600_000


async def _in_batches(delete: Callable[[], int], pause_s: float) -> int:
    total = 0
    while n := delete():
        total += n
        await asyncio.sleep(pause_s)  # let ingest in between batches
    return total


async def apply_retention(store, raw_days: float | None = None, pause_s: float = 0.05,
                          by_point: dict[str, float] | None = None, hourly_days: float | None = None,
                          now_ms: int | None = None) -> int:
    """Delete raw readings older than ``raw_days`` (points in ``by_point`` after their own days) and
    hour rollups older than ``hourly_days``, in small batches; return how many raw readings went.

    Points with their own retention go first: a PostgreSQL month past ``raw_days`` is then dropped
    whole unless it still holds readings of a point kept longer.
    """
    now, by_point = int(time.time() * 1000) if now_ms is None else now_ms, by_point or {}
    passes = [(retention_cutoff(days, now), point, ()) for point, days in sorted(by_point.items())]
    if raw_days:
        passes.append((retention_cutoff(raw_days, now), None, tuple(sorted(by_point))))
    total = 0
    for cutoff, point, others in passes:
        total += await _in_batches(lambda: store.delete_readings_before(cutoff, point=point, except_points=others),
                                   pause_s)
    hours = await _in_batches(lambda: store.delete_hours_before(retention_cutoff(hourly_days, now)),
                              pause_s) if hourly_days else 0
    if total or hours:
        log.info("retention: %d raw readings (older than %s days; by point: %s) and %d hour rollups (older than %s"
                 " days) deleted", total, raw_days, by_point or "none", hours, hourly_days)
    return total


async def refresh_rollups(open_store: Callable[[], object], stations: list, rates, every_s: float = 60.0,
                          meters: dict | None = None) -> None:
    """Keep the rates' day rollups and the hour rollups current (cloud/quality/rollups.py, hourly.py;
    ``meters``: permit meters by (station, point), for rollover values): every ``every_s``, one pass
    over the marked stations in small batches, in a thread on a connection of its own, so ingest's
    loop never waits on it and its write transactions stay short."""
    def once() -> int:
        store = open_store()
        try:
            return refresh(store, stations, rates, meters=meters)
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
            kept = cfg.retention
            await apply_retention(store, kept.raw_days, by_point=kept.raw_days_by_point, hourly_days=kept.hourly_days)
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
    store = open_store(cfg.store, cfg.data_dir)
    metrics.watch_store(store)
    mirror = None
    if cfg.influx.enabled and "ingest" in parts:
        mirror = InfluxMirror(cfg.influx)
    handler = Handler(store, GatewayKeys(cfg.gateways), AlarmEngine(store, cfg.alarms, stations, cfg.quality.tz,
                                                                        lifecycle=cfg.lifecycle),
                      GatewayStatus(cfg.data_dir / "fleet"), mirror, settings=cfg.ingest,
                      notice_key=SM2PrivateKey.from_pem(cfg.command_key.read_text()) if cfg.command_key else None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    background = []  # cancelled at stop
    if "ingest" in parts:
        if cfg.gateways_file is not None:  # keys changed through the API apply without a restart
            watcher = GatewaysWatcher(handler.gateway_keys, cfg.gateways_file)
            background.append(asyncio.create_task(every(RELOAD_CHECK_S, watcher.check, "gateway key reload")))
        background += [asyncio.create_task(run_ingest(cfg.mqtt, handler)),
                       asyncio.create_task(every(cfg.ingest.refusal_log_every_s, handler.refusals.flush, "refusal log")),
                       asyncio.create_task(every(cfg.ingest.quarantine.prune_every_s, handler.prune, "quarantine pruning")),
                       asyncio.create_task(every(min(30.0, cfg.chain_gap_after_s / 4),
                                                 lambda: handler.alarms.check_chain_gaps(cfg.chain_gap_after_s),
                                                 "chain gap check"))]
        if cfg.command_key is not None:
            background.append(asyncio.create_task(_resends(store, cfg)))
        if stations is not None:
            background.append(asyncio.create_task(every(cfg.alarms.check_every_s, handler.alarms.check_data_stopped,
                                                        "data stopped check")))
            if stations.permits:
                background.append(asyncio.create_task(every(cfg.alarms.permits_every_s, handler.alarms.check_permits,
                                                            "permit check (reads the permit years' counters)")))
            meters = {m.key: m for permit in stations.permits for m in permit.meters}  # rollover values
            background.append(asyncio.create_task(refresh_rollups(lambda: open_store(cfg.store, cfg.data_dir), stations.stations,
                                                                  cfg.quality, meters=meters)))
        if cfg.retention.raw_days or cfg.retention.raw_days_by_point or cfg.retention.hourly_days:
            background.append(asyncio.create_task(_retention(store, cfg)))
    server = serving = trail = None
    if "api" in parts:  # asked to exit at stop, so open requests finish
        trail = AuditTrail.open(store, cfg.audit, cfg.data_dir, cfg.command_key, announce=True)  # keys made at first
        trail.checkpoint()  # the head as this start found it
        background.append(asyncio.create_task(every(cfg.audit.checkpoint_every_minutes * 60, trail.checkpoint,
                                                    "audit checkpoint")))
        reports = ReportsSetup(stations, cfg.quality, cfg.data_dir / "reports", cfg.alarms)
        if reports.registry is not None and cfg.reports.scheduled:
            background.append(asyncio.create_task(run_schedule(reports.root, lambda: open_store(cfg.store, cfg.data_dir), reports.registry,
                                                               cfg.quality, cfg.reports, cfg.alarms)))
        ancestry = scope.subjects(stations, cfg.gateways)  # a gateway's alarms reach its stations' regions' routes
        reload = NotificationsWatcher(cfg.notifications_file, cfg.notifications, cfg.registry_file).check \
            if cfg.notifications_file is not None else None  # routes changed through the API apply at the next round
        background.append(asyncio.create_task(run_alarm_handling(  # escalation, work orders, notifications
            lambda: open_store(cfg.store, cfg.data_dir), cfg.lifecycle, cfg.notifications, ancestry.get, cfg.quality.tz, reload)))
        app = create_app(store, cfg.api, reports, lifecycle=cfg.lifecycle, fleet=FleetSetup.of(cfg),
                         registry_file=cfg.registry_file, gateways=cfg.gateways,
                         gateways_file=cfg.gateways_file, notifications=cfg.notifications,
                         notifications_file=cfg.notifications_file, audit_trail=trail)
        server = _Server(server_config(app, cfg.api))
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
        handler.refusals.flush(force=True)  # the counts of the last period
        if trail is not None:  # the head as the API left it, signed
            try:
                trail.checkpoint()
            except Exception:  # the database gone: the last periodic checkpoint stands
                log.exception("audit checkpoint at shutdown failed")
        store.close()
        if mirror is not None:
            await asyncio.to_thread(mirror.close)
        log.info("cloud service stopped: %s", dict(handler.counts))
    if serving and serving.done() and not stop.is_set():
        serving.result()  # re-raise why the API stopped (e.g. SystemExit after a bind error)

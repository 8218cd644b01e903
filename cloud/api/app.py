"""The FastAPI application: login, live values, alarms, work orders, totals, the registry, the
admin pages' routes, the audit log and the console.

Every route names the roles it admits (cloud/api/deps.py); every write through ``/api/`` is
recorded in the audit log (cloud/api/audit_log.py) before its answer leaves, whatever that answer
is. Routers are module-level objects that read what they need from ``app.state`` (filled here)
through the dependencies in deps.py; request and response bodies are in cloud/api/schemas.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from watertel import __version__
from watertel.cloud.alarms.lifecycle import LifecycleConfig
from watertel.cloud.audit.trail import AuditTrail
from watertel.cloud.api import (admin, admin_features, admin_gateways, admin_notifications, alarms, audit_log, docs,
                                errors, events, health, pages, permits, series, session, stations, workorder_photos,
                                workorders)
from watertel.cloud.api import gateway_status, hygiene, map as map_api, rates_drill, registry as registry_api, reports as reports_api
from watertel.cloud.api import scope
from watertel.cloud.api.auth import Sessions, hash_password
from watertel.cloud.api.login_limits import Limits, LoginLimiter, PasswordChecks
from watertel.cloud.api.deps import EditedFile, EditedFiles, LoginGuard, ShownNotifications
from watertel.cloud.api.events import EventHub
from watertel.cloud.api.gateway_status import FleetSetup
from watertel.cloud.api.reports import ReportsSetup
from watertel.cloud.api.series import LatestCache, status_rule
from watertel.cloud.config import ApiConfig
from watertel.cloud.console_map import load_regions
from watertel.cloud.gateways import GatewayEntry
from watertel.cloud.gateways_file import load_gateways_file
from watertel.cloud.notify.config import NotificationsConfig
from watertel.cloud.quality.config import RatesConfig
from watertel.cloud.registry import Registry, load_registry
from watertel.cloud.store import SqlStore
from watertel.cloud.users_file import load_users_file

ROUTERS = (health.router, session.router, stations.router, series.router, events.router, alarms.router,
           workorders.router, workorder_photos.router, permits.router, registry_api.router, admin.router,
           admin_features.router, admin_notifications.router, admin_gateways.router, audit_log.router, map_api.router)


def create_app(store: SqlStore, cfg: ApiConfig, reports: ReportsSetup | None = None, *,
               registry: Registry | None = None, lifecycle: LifecycleConfig | None = None,
               fleet: FleetSetup | None = None, registry_file: Path | None = None,
               gateways: list[GatewayEntry] | None = None, gateways_file: Path | None = None,
               notifications: NotificationsConfig | None = None, notifications_file: Path | None = None,
               audit_trail: AuditTrail | None = None) -> FastAPI:
    """The API over ``store``; ``reports``: the rates and reports routes (cloud/api/reports.py);
    ``fleet``: the gateways and their status files, for /api/fleet (cloud/api/gateway_status.py).

    The station registry (``registry``, else that of ``reports``, else ``registry_file``'s)
    places stations in regions for region-scoped users; without one, such users see no station.
    ``*_file``: where admins' writes go (users: ``cfg.users_file``); without one, those writes
    answer 409 naming the setting. ``audit_trail``: the keyed, checkpointed audit log the
    service opens (cloud/audit/trail.py); without one, rows are plain SM3 (a bare app in tests).
    """
    registry = registry if registry is not None else (reports.registry if reports else None)
    if registry is None and registry_file is not None:  # /api/registry edits it: load it here
        registry = load_registry(registry_file)
    rates = reports.rates if reports else RatesConfig()
    gateway_list = list(gateways if gateways is not None else load_gateways_file(gateways_file) if gateways_file else [])
    ancestry = scope.subjects(registry, gateway_list)  # stations, and gateways through their stations
    latest = LatestCache(store)  # read once per new envelope for /api/latest, the station list and live events
    app = FastAPI(title="watertel", version=__version__, docs_url=None, redoc_url=None)  # /docs: docs.py, if enabled
    errors.install(app)  # every error answer with a code beside its detail, for the console's languages
    trail = audit_trail or AuditTrail(store, None)
    app.add_middleware(audit_log.AuditMiddleware, trail=trail)
    photos_kb = (lifecycle or LifecycleConfig()).work_orders.photos.max_kb
    app.add_middleware(hygiene.BodyLimit, max_bytes=cfg.max_body_kb * 1024,  # the photo route answers its own 413
                       larger=[(r"/api/workorders/[^/]+/photos", (photos_kb + 1) * 1024)])
    app.add_middleware(hygiene.SecurityHeaders, headers=hygiene.headers_for(cfg.map, tls=cfg.secure_cookies))
    hygiene.document_body_limit(app)
    s = app.state
    s.audit = trail
    s.store, s.registry, s.ancestry, s.rates, s.latest, s.reports, s.fleet = \
        store, registry, ancestry, rates, latest, reports, fleet
    s.sessions = Sessions(cfg.session_hours * 3600)
    s.users = {u.username: u for u in (load_users_file(cfg.users_file) if cfg.users_file else cfg.users)}
    s.login_guard = LoginGuard(LoginLimiter(Limits(cfg.login_max_failures, cfg.login_max_failures_per_client,
                                                   cfg.login_max_failures_per_account, cfg.login_max_failures_total,
                                                   cfg.login_window_s)),
                               PasswordChecks(cfg.login_max_checks), hash_password("not a password of anyone"), cfg)
    s.station_status = status_rule(registry, rates.stopped_after_intervals)
    s.stations_at_start = {st.id: st for st in registry.stations} if registry else {}
    s.events = EventHub(store, ancestry.get, s.station_status, latest=latest)
    s.work_orders = (lifecycle or LifecycleConfig()).work_orders
    s.gateways = gateway_list
    s.notifications = ShownNotifications(notifications or NotificationsConfig())
    s.map = cfg.map  # the station map's base layer; its boundaries read once (the config load checked them)
    s.map_regions = load_regions(cfg.map.regions_geojson) if cfg.map.regions_geojson else None
    s.files = EditedFiles(users=EditedFile(cfg.users_file), registry=EditedFile(registry_file),
                          gateways=EditedFile(gateways_file), notifications=EditedFile(notifications_file))
    for router in ROUTERS:
        app.include_router(router)
    if reports is not None:
        app.include_router(rates_drill.router)  # /api/rates/trend, /api/rates/slots: before /api/rates' own
        app.include_router(reports_api.router)
    if fleet is not None:
        app.include_router(gateway_status.router)
    if cfg.docs:
        app.include_router(docs.router)
    app.include_router(pages.router)  # the console's pages and static files
    return app

"""The FastAPI application: login, live values, alarms, totals, the audit log and the console pages.

Every endpoint names the roles it admits (cloud/api/deps.py); every write through ``/api/`` is
recorded in the audit log (cloud/audit.py) before its answer leaves, whatever that answer is.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import Cookie, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from pydantic import BaseModel, Field

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from watertel.cloud import audit, metrics
from watertel.cloud.api.auth import LoginLimiter, Sessions, check_password, hash_password
from watertel.cloud.api.deps import (COOKIE, CSRF_COOKIE, MAX_ROW_ID, READERS, SAFE_METHODS, WRITERS, Admin, Principal, Reader,
                            client_address, principal_of, role_check)
from watertel.cloud.alarms.lifecycle import LifecycleConfig
from watertel.cloud.config import ApiConfig
from watertel.cloud.gateways import GatewayEntry
from watertel.cloud.gateways_file import load_gateways_file
from watertel.cloud.notify.config import NotificationsConfig
from watertel.cloud.users_file import load_users_file
from watertel.cloud.registry import Registry, load_registry
from watertel.cloud.store import SqlStore

if TYPE_CHECKING:
    from watertel.cloud.api.gateway_status import FleetSetup
    from watertel.cloud.api.reports import ReportsSetup

log = logging.getLogger("watertel.api")
STATIC = Path(__file__).parent / "static"
PAGES = {"/": "console.html", "/alarms": "alarms.html", "/stations": "stations.html", "/station": "station.html",
         "/quality": "quality.html", "/crew": "crew.html", "/permits": "permits.html", "/fleet": "fleet.html",
         "/admin": "admin.html"}


class Login(BaseModel):
    username: str = Field(max_length=128)
    password: str = Field(max_length=1024)
    session: Literal["cookie", "bearer"] = "cookie"  # bearer: a token for scripts, no cookie


class LoginPublic(BaseModel):
    user: str
    role: str
    regions: list[str]
    expires_ms: int
    csrf_token: str | None = None  # cookie sessions: send it back in X-CSRF-Token
    access_token: str | None = None  # bearer sessions: send it in Authorization: Bearer …
    token_type: str | None = None


class AuditMiddleware:
    """Append an audit row for each unsafe request under /api/ as its answer starts."""

    def __init__(self, app, store: SqlStore) -> None:
        self.app, self.store = app, store

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        written = False

        def record(status: int) -> None:
            nonlocal written
            written = True
            try:
                audit.append(self.store, actor=state.get("audit_actor", ""), role=state.get("audit_role", ""),
                             client=(scope.get("client") or ("",))[0], method=scope["method"], path=scope["path"],
                             summary=state.get("audit_summary", ""), status=status)
            except Exception:  # the write itself is done; say loudly that its record is missing
                log.exception("audit: could not record %s %s", scope["method"], scope["path"])

        async def send_recorded(message) -> None:
            if message["type"] == "http.response.start" and not written:
                record(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_recorded)
        except Exception:
            if not written:
                record(500)
            raise


def create_app(store: SqlStore, cfg: ApiConfig, reports: ReportsSetup | None = None, *,
               registry: Registry | None = None, lifecycle: LifecycleConfig | None = None,
               fleet: FleetSetup | None = None, registry_file: Path | None = None,
               gateways: list[GatewayEntry] | None = None, gateways_file: Path | None = None,
               notifications: NotificationsConfig | None = None, notifications_file: Path | None = None) -> FastAPI:
    """The API over ``store``; ``reports``: the rates and reports routes (cloud/api/reports.py);
    ``fleet``: the gateways and their status files, for /api/fleet (cloud/api/fleet.py).

    The station registry (``registry``, else that of ``reports``) places stations in regions for
    region-scoped users; without one, such users see no station.
    """
    registry = registry if registry is not None else (reports.registry if reports else None)
    if registry is None and registry_file is not None:  # /api/registry edits it: load it here
        registry = load_registry(registry_file)
    app = FastAPI(title="watertel", version="0.1.0")
    app.add_middleware(AuditMiddleware, store=store)
    app.state.sessions = sessions = Sessions(cfg.session_hours * 3600)
    app.state.users = users = {u.username: u for u in (load_users_file(cfg.users_file) if cfg.users_file else cfg.users)}
    limiter = LoginLimiter(cfg.login_max_failures, cfg.login_window_s)
    decoy = hash_password("not a password of anyone")  # unknown users cost as much time as known ones
    ancestry = {s.id: registry.ancestry(s.region) for s in registry.stations} if registry else {}

    def in_scope(user: Principal, rows: list[dict]) -> list[dict]:
        return rows if not user.regions else [r for r in rows if user.sees(ancestry.get(r["station"]))]

    @app.get("/healthz")
    def healthz() -> dict:
        """The process answers (liveness)."""
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        """Prometheus text format; no login (bind the API to a private address, as deployed)."""
        return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)

    @app.get("/readyz")
    def readyz(response: Response) -> dict:
        """The store answers too (readiness): a load balancer sends no one here before that."""
        try:
            store.ping()
        except Exception as err:  # any database failure means "not ready", with the reason
            response.status_code = 503
            return {"status": "unavailable", "store": type(err).__name__}
        return {"status": "ok"}

    @app.post("/api/login", responses={401: {}, 429: {}})
    def login(body: Login, request: Request, response: Response) -> LoginPublic:
        """Log in: a cookie session (with its CSRF token) or, with ``session: bearer``, a token.
        Too many failures for a username from one address: 429 with Retry-After."""
        client = client_address(request)
        request.state.audit_actor = body.username
        request.state.audit_summary = f"login ({body.session})"
        if wait := limiter.attempt(body.username, client):
            request.state.audit_summary += ": too many failures"
            raise HTTPException(429, "too many failed logins: try again later", headers={"Retry-After": str(wait)})
        user = users.get(body.username)
        if not check_password(body.password, user.password_hash if user else decoy) or user is None:
            request.state.audit_summary += ": wrong username or password"
            raise HTTPException(401, "wrong username or password")
        limiter.succeeded(body.username, client)
        request.state.audit_role = user.role.value
        token, session = sessions.open(user.username, body.session)
        public = LoginPublic(user=user.username, role=user.role.value, regions=user.regions,
                             expires_ms=int(session.expires * 1000))
        if body.session == "bearer":
            return public.model_copy(update={"access_token": token, "token_type": "bearer"})
        for name, value, httponly in ((COOKIE, token, True), (CSRF_COOKIE, session.csrf, False)):
            response.set_cookie(name, value, httponly=httponly, samesite="strict", secure=cfg.secure_cookies,
                                max_age=int(cfg.session_hours * 3600))
        return public.model_copy(update={"csrf_token": session.csrf})

    @app.post("/api/logout", responses={403: {}})
    def logout(request: Request, response: Response) -> dict:
        """End this session (cookie sessions: with the CSRF header); without one, nothing to do."""
        request.state.audit_summary = "logout"
        try:
            sessions.close(principal_of(request).token)
        except HTTPException as err:
            if err.status_code != 401:
                raise
            request.state.audit_summary = "logout: no session"
        response.delete_cookie(COOKIE)
        response.delete_cookie(CSRF_COOKIE)
        return {"ok": True}

    @app.get("/api/me")
    def me(user: Reader) -> dict:
        """Who is logged in, with which role and regions."""
        return {"user": user.username, "role": user.role.value, "regions": sorted(user.regions), "via": user.via}

    from watertel.cloud.api.series import LatestCache

    latest_values = LatestCache(store)  # read once per new envelope for /api/latest, the station list and live events

    @app.get("/api/latest")
    def latest(user: Reader) -> list[dict]:
        return in_scope(user, list(latest_values.rows()))

    @app.get("/api/summary")
    def summary(user: Reader) -> dict:
        return {**store.counts(), "user": user.username}

    @app.get("/api/audit")
    def audit_log(user: Admin, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                  before_id: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None) -> list[dict]:
        """The latest audit rows, newest first (admins only); ``before_id`` pages back."""
        return [e.public() for e in audit.recent(store, limit, before_id)]

    @app.get("/api/audit/verify")
    def audit_verify(user: Admin) -> dict:
        """The chain checked from its first row (as `watertel audit verify`): intact, or where it breaks."""
        verdict = audit.verify(store)
        return {"ok": verdict.ok, "rows": verdict.entries, "bad_row": verdict.broken_id, "reason": verdict.problem}

    if reports is not None:
        from watertel.cloud.api.reports import reports_router

        app.include_router(reports_router(store, reports, role_check(*READERS)))

    from watertel.cloud.api.alarms import alarms_router
    from watertel.cloud.api.workorders import workorders_router

    app.include_router(alarms_router(store, users, ancestry.get))  # alarms, their handling, notifications
    app.include_router(workorders_router(store, users, ancestry.get, (lifecycle or LifecycleConfig()).work_orders))

    from watertel.cloud.api.events import EventHub, events_router
    from watertel.cloud.api.series import series_router, status_rule

    status = status_rule(registry, reports.rates.stopped_after_intervals if reports else 3)
    app.state.events = EventHub(store, ancestry.get, status, latest=latest_values)
    app.include_router(series_router(store, registry, ancestry.get, status, role_check(*READERS),
                                     tz=reports.rates.tz if reports else None, cache=latest_values))
    app.include_router(events_router(app.state.events, role_check(*READERS)))

    from watertel.cloud.api.permits import permits_router

    app.include_router(permits_router(store, registry, reports, ancestry.get, role_check(*READERS)))
    if fleet is not None:
        from watertel.cloud.api.gateway_status import fleet_router

        app.include_router(fleet_router(fleet, ancestry.get, role_check(*WRITERS)))

    from watertel.cloud.api.registry import registry_router  # ``registry_file``: writes go there (admins)

    gateways = list(gateways if gateways is not None else load_gateways_file(gateways_file) if gateways_file else [])
    app.include_router(registry_router(registry, registry_file, ancestry, gateways))  # the admin routes update this list

    from watertel.cloud.api.admin import admin_router  # users, notification routes; gateway keys (admins)
    from watertel.cloud.api.admin_gateways import gateways_router

    app.include_router(admin_router(users, sessions, cfg.users_file, registry, notifications, notifications_file))
    app.include_router(gateways_router(gateways, gateways_file, registry))

    def page(name: str):
        def serve_page(watertel_session: Annotated[str | None, Cookie()] = None):
            if sessions.user(watertel_session) is None:
                return RedirectResponse("/login", status_code=303)
            return FileResponse(STATIC / name, headers={"Cache-Control": "no-store"})
        return serve_page

    for path, name in PAGES.items():  # the console's pages, for logged-in users
        app.add_api_route(path, page(name), methods=["GET"], include_in_schema=False)

    @app.get("/login", include_in_schema=False)
    def login_page() -> FileResponse:
        return FileResponse(STATIC / "login.html")

    @app.get("/static/{name}", include_in_schema=False)
    def asset(name: str) -> FileResponse:
        path = STATIC / name
        if name not in {p.name for p in STATIC.iterdir()}:
            raise HTTPException(404)
        return FileResponse(path)

    return app

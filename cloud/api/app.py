"""The FastAPI application: login, live values, alarms, totals, and the console pages."""

import math
from pathlib import Path
from typing import Annotated

from fastapi import Cookie, Depends, FastAPI, HTTPException, Response
from fastapi.responses import FileResponse, RedirectResponse
from pydantic import BaseModel

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from cloud import metrics
from cloud.api.auth import Sessions, check_password
from cloud.config import ApiConfig
from cloud.store import SqlStore

STATIC = Path(__file__).parent / "static"
COOKIE = "watertel_session"


class Login(BaseModel):
    username: str
    password: str


def create_app(store: SqlStore, cfg: ApiConfig) -> FastAPI:
    app = FastAPI(title="watertel", version="0.1.0")
    sessions = Sessions(cfg.session_hours * 3600)
    users = {u.username: u.password_hash for u in cfg.users}

    def current_user(watertel_session: Annotated[str | None, Cookie()] = None) -> str:
        user = sessions.user(watertel_session)
        if user is None:
            raise HTTPException(401, "log in first")
        return user

    CurrentUser = Annotated[str, Depends(current_user)]

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

    @app.post("/api/login")
    def login(body: Login, response: Response) -> dict:
        stored = users.get(body.username)
        if stored is None or not check_password(body.password, stored):
            raise HTTPException(401, "wrong username or password")
        response.set_cookie(COOKIE, sessions.open(body.username), httponly=True, samesite="strict",
                            max_age=int(cfg.session_hours * 3600))
        return {"user": body.username}

    @app.post("/api/logout")
    def logout(response: Response, watertel_session: Annotated[str | None, Cookie()] = None) -> dict:
        sessions.close(watertel_session)
        response.delete_cookie(COOKIE)
        return {"ok": True}

    @app.get("/api/latest")
    def latest(user: CurrentUser) -> list[dict]:
        return [{**row, "value": None if row["value"] is None or math.isnan(row["value"]) else row["value"]}
                for row in store.latest()]

    @app.get("/api/alarms")
    def alarms(user: CurrentUser, open_only: bool = True) -> list[dict]:
        return store.alarms(open_only=open_only)

    @app.get("/api/summary")
    def summary(user: CurrentUser) -> dict:
        return {**store.counts(), "user": user}

    @app.get("/", include_in_schema=False)
    def console(watertel_session: Annotated[str | None, Cookie()] = None):
        if sessions.user(watertel_session) is None:
            return RedirectResponse("/login", status_code=303)
        return FileResponse(STATIC / "console.html", headers={"Cache-Control": "no-store"})

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

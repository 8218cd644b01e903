"""The console: its pages (for logged-in users; others go to /login), the login page and the
static files (cloud/api/static). None of them is part of the API's schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Cookie, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse

from watertel.cloud.api.deps import SessionsDep

STATIC = Path(__file__).parent / "static"
PAGES = {"/": "console.html", "/alarms": "alarms.html", "/stations": "stations.html", "/station": "station.html",
         "/quality": "quality.html", "/crew": "crew.html", "/permits": "permits.html", "/fleet": "fleet.html",
         "/admin": "admin.html"}

router = APIRouter(include_in_schema=False)


def page(request: Request, sessions: SessionsDep,
         watertel_session: Annotated[str | None, Cookie()] = None) -> FileResponse | RedirectResponse:
    """The page of this route's path (``PAGES``) for a live cookie session, else a redirect to /login."""
    if sessions.user(watertel_session) is None:
        return RedirectResponse("/login", status_code=303)
    return FileResponse(STATIC / PAGES[request.scope["route"].path], headers={"Cache-Control": "no-store"})


for _path in PAGES:
    router.add_api_route(_path, page, methods=["GET"], response_model=None)


@router.get("/login")
def login_page() -> FileResponse:
    return FileResponse(STATIC / "login.html")


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    """The tab icon browsers ask for on every page: answered, so no page logs a 404 for it."""
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


@router.get("/static/{name}")
def asset(name: str) -> FileResponse:
    """A file of cloud/api/static by its bare name (nothing below it, nothing outside it)."""
    path = STATIC / name
    if name not in {p.name for p in STATIC.iterdir()}:
        raise HTTPException(404)
    return FileResponse(path)

"""The console: its pages (for logged-in users; others go to /login), the login page and the
static files (cloud/api/static, and the vendored front-end libraries in its ``vendor/`` folder:
ECharts and Leaflet, served from here because consoles run on intranets without a CDN). None of
them is part of the API's schema.

The crew page's service worker (``/crew-sw.js``) is served from the root, so it may take charge of
/crew: it keeps the page's files so that a phone can reload the page without a network (its
reports wait in the phone's IndexedDB meanwhile; crew.js, crew-outbox.js)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Cookie, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse

from watertel.cloud.api.deps import SessionsDep

STATIC = Path(__file__).parent / "static"
VENDOR = STATIC / "vendor"
IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}  # vendored files carry their version in the name
PAGES = {"/": "console.html", "/alarms": "alarms.html", "/stations": "stations.html", "/station": "station.html",
         "/quality": "quality.html", "/crew": "crew.html", "/permits": "permits.html", "/fleet": "fleet.html",
         "/admin": "admin.html", "/alarm": "alarm.html", "/workorders": "workorders.html"}

router = APIRouter(include_in_schema=False)


def page(request: Request, sessions: SessionsDep,
         watertel_session: Annotated[str | None, Cookie()] = None) -> FileResponse | RedirectResponse:
    """The page of this route's path (``PAGES``) for a live cookie session, else a redirect to /login."""
    if sessions.user(watertel_session) is None:
        return RedirectResponse("/login", status_code=303)
    return FileResponse(STATIC / PAGES[request.scope["route"].path], headers={"Cache-Control": "no-store"})


for _path in PAGES:
    router.add_api_route(_path, page, methods=["GET"], response_model=None)


@router.get("/crew-sw.js")
def crew_service_worker() -> FileResponse:
    """Revalidated on every load (no-cache), so a new version of the console reaches phones."""
    return FileResponse(STATIC / "crew-sw.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"})


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
    if name not in {p.name for p in STATIC.iterdir() if p.is_file()}:  # not the vendor folder itself
        raise HTTPException(404)
    return FileResponse(path)


@router.get("/static/vendor/{name}")
def vendored(name: str) -> FileResponse:
    """A vendored library file by its bare name (cloud/api/static/vendor; nothing below or outside it)."""
    if name not in {p.name for p in VENDOR.iterdir()}:
        raise HTTPException(404)
    return FileResponse(VENDOR / name, headers=IMMUTABLE)

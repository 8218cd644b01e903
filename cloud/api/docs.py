"""``/docs``: Swagger UI over ``/openapi.json``, only with ``api.docs: true`` (off by default: an
interactive client for every route is for developers, not for a bureau's network).

Served from the vendored files (cloud/api/static/vendor, swagger-ui-dist) and a page with no
inline script, so it works on an intranet and under the console's Content-Security-Policy.
ReDoc (``/redoc``) is not offered: one documentation page is enough, and one less library to vendor.
``/openapi.json`` stays public: it describes what the open source already shows, and clients
and tests (schemathesis) read it; every route it names checks its caller itself.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from watertel.cloud.api.pages import STATIC

DOCS = STATIC / "docs"
router = APIRouter(include_in_schema=False)


@router.get("/docs")
def docs() -> FileResponse:
    return FileResponse(DOCS / "docs.html", headers={"Cache-Control": "no-cache"})


@router.get("/docs/docs.js")
def docs_script() -> FileResponse:
    return FileResponse(DOCS / "docs.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"})

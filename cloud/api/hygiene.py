"""What every answer and every request of the API gets, whatever the route: a bound on the request
body, and the browser security headers.

Bodies: at most ``api.max_body_kb`` (64 KB: every JSON body of the API is far smaller), except
the routes that take more (``larger``: the work-order photo upload, its own ``max_kb``). A body
is refused with 413 before the route runs when ``Content-Length`` says it is too long, and as soon
as the bytes read pass the bound when it does not (chunked), so a 300 MB login costs a few
buffers, not 1.4 GB. The refusal names the bound, never the body.

Headers, on every answer (pages, static files, API answers, errors): a Content-Security-Policy
fitted to the console (its own scripts and the vendored ECharts and Leaflet; styles may be inline
since both libraries set style attributes; images from the configured map tile servers), no
framing (``frame-ancestors 'none'``, ``X-Frame-Options: DENY``), ``nosniff``, a Referrer-Policy
that sends no path elsewhere, and HSTS when the console is served over TLS (``secure_cookies``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from watertel.cloud.api.errors import Problem
from watertel.cloud.api.schemas import WHY
from watertel.cloud.console_map import MapConfig

HSTS = "max-age=31536000"  # one year; no includeSubDomains: the console may share a domain with other hosts


class TooLarge(Problem):
    """The body passed its bound while a route read it: an HTTPException, so FastAPI passes it on
    (not "error parsing the body") and the app's handler answers 413 (errors.py)."""

    def __init__(self, bound: int) -> None:
        super().__init__(413, "body.too_large", f"the request body may be at most {bound // 1024} kB",
                         headers={"Connection": "close"}, max_kb=bound // 1024)


class BodyLimit:
    """Refuse request bodies longer than ``max_bytes`` (``larger``: (path pattern, bound) pairs)."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: Iterable[tuple[str, int]] = ()) -> None:
        self.app, self.max_bytes = app, max_bytes
        self.larger = [(re.compile(pattern), size) for pattern, size in larger]

    def bound(self, path: str) -> int:
        return next((size for pattern, size in self.larger if pattern.fullmatch(path)), self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"")
        if declared in (b"", b"0") and b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body: uvicorn's own receive, which the live events'
            return  # stream looks at to see the server draining (cloud/api/events.py _draining)
        bound = self.bound(scope["path"])
        if declared.isdigit() and int(declared) > bound:
            await refuse(send, bound)
            return
        started, seen = False, 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > bound:
                raise TooLarge(bound)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except TooLarge:
            if started:
                raise
            await refuse(send, bound)


async def refuse(send: Send, bound: int) -> None:
    """413 naming the bound (the connection closes: the rest of the body is not read)."""
    body = json.dumps({"detail": f"the request body may be at most {bound // 1024} kB", "code": "body.too_large",
                       "params": {"max_kb": bound // 1024}}).encode()
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def document_body_limit(app: FastAPI) -> None:
    """Say in the OpenAPI schema that every operation taking a body may answer 413 (``BodyLimit``
    answers it before the route runs, so no route declares it)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = build()
            for operations in spec["paths"].values():
                for operation in operations.values():
                    if "requestBody" in operation:
                        operation["responses"].setdefault("413", {"description": WHY[413], "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Message"}}}})
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def tile_sources(cfg: MapConfig) -> list[str]:
    """The CSP sources of the configured tile servers (``{s}`` in a host: every subdomain there)."""
    sources = []
    for url in (cfg.tiles, cfg.overlay):
        if not url or url.startswith("/"):
            continue
        parts = urlsplit(url.replace("{s}", "SUBDOMAIN"))
        host = parts.netloc
        if "SUBDOMAIN" in host:
            host = "*." + host.split(".", 1)[1]
        sources.append(f"{parts.scheme}://{host}")
    return sorted(set(sources))


def content_security_policy(cfg: MapConfig) -> str:
    images = " ".join(["'self'", "data:", "blob:", *tile_sources(cfg)])
    return ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            f"img-src {images}; connect-src 'self'; worker-src 'self'; font-src 'self' data:; object-src 'none'; "
            "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def headers_for(cfg: MapConfig, tls: bool) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-security-policy", content_security_policy(cfg).encode()),
               (b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
               (b"referrer-policy", b"same-origin"), (b"cross-origin-opener-policy", b"same-origin")]
    return headers + ([(b"strict-transport-security", HSTS.encode())] if tls else [])


class SecurityHeaders:
    """Add ``headers`` to every HTTP answer (a route's own value of one of them wins)."""

    def __init__(self, app: ASGIApp, headers: list[tuple[bytes, bytes]]) -> None:
        self.app, self.headers = app, headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in self.headers if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, with_headers)

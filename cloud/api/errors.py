"""Errors the API answers with: a machine-readable code and its parameters beside the sentence.

Why: the console shows errors in its user's language (Chinese first), which it cannot do with an
English sentence; API clients and logs keep that sentence. Every error body is::

    {"detail": "no user 'ops'", "code": "user.unknown", "params": {"name": "ops"}}

``detail`` is what it always was (a sentence, or a list of problems); ``code`` names the error in
the console's catalogue (``err.<code>`` in cloud/api/static/i18n.js, or ``feature.read_only`` /
``feature.off`` for a part the configuration does not enable: params ``feature`` and
``setting``, the key that enables it); ``params`` are the values the message shows. An error
raised without a code (FastAPI's own, a plain HTTPException) gets ``http.<status>``; a request
that does not fit the schema gets ``request.invalid`` with the fields concerned (what was sent is
never echoed back).

    raise Problem(404, "user.unknown", f"no user {name!r}", name=name)
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

NO_BODY = frozenset({204, 304})


class Problem(HTTPException):
    """An HTTPException with its code (see the module docstring) and the values its message shows."""

    def __init__(self, status_code: int, code: str, detail: str | list[str], *, headers: dict[str, str] | None = None,
                 **params: Any) -> None:
        super().__init__(status_code, detail, headers)
        self.code, self.params = code, params


def not_enabled(feature: str, setting: str, detail: str, *, read_only: bool = True) -> Problem:
    """409 for a part the configuration does not enable: ``feature.read_only`` (kept in cloud.yaml,
    so not editable here) or ``feature.off`` (not there at all); ``setting`` is what enables it."""
    return Problem(409, "feature.read_only" if read_only else "feature.off", detail, feature=feature, setting=setting)


def body_of(detail: Any, code: str, params: dict[str, Any]) -> dict[str, Any]:
    return jsonable_encoder({"detail": detail, "code": code, "params": params})


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if exc.status_code in NO_BODY:
        return Response(status_code=exc.status_code, headers=exc.headers)
    code = getattr(exc, "code", None) or f"http.{exc.status_code}"
    return JSONResponse(body_of(exc.detail, code, getattr(exc, "params", {})),
                        status_code=exc.status_code, headers=exc.headers)


def without_input(problem: dict[str, Any]) -> dict[str, Any]:
    """A validation problem without what was sent (``input``, and ``ctx``, which may quote it):
    an answer never echoes the request, so a reflected page or a log line cannot be forged and a
    300 kB field is not sent back."""
    return {key: problem[key] for key in ("type", "loc", "msg") if key in problem}


async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
    problems = [without_input(p) for p in exc.errors()]
    fields = [".".join(str(part) for part in p.get("loc", ()) if part != "body") or "body" for p in problems]
    return JSONResponse(body_of(problems, "request.invalid", {"fields": list(dict.fromkeys(fields))}),
                        status_code=422)


def install(app: FastAPI) -> None:
    """Answer every HTTP error of ``app`` with a code (this module's docstring)."""
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, invalid_request)  # type: ignore[arg-type]

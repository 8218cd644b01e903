"""Refusals a console shows in its user's language: the sentence in ``detail`` (English, for
scripts and logs) plus a stable ``code`` and its ``params``, which the console turns into Chinese
or English through its one catalogue (cloud/api/static/i18n.js, ``err.<code>``)::

    422 {"detail": "'bob' is a viewer user: only a crew user can be assigned this", "code": "assignee.role",
         "params": {"name": "bob", "role": "viewer", "roles": ["crew"]}}

Raise ``Refusal`` where an ``HTTPException`` would do; ``install`` registers the answer's shape.
The store's own refusals (an alarm or work order not in a state for a step) are translated here
too (``handling``), so every lifecycle route refuses alike.
"""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from watertel.cloud.store.handling import HandlingError


class Refusal(HTTPException):
    """An HTTP refusal with a catalogue code and the values its message names."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None,
                 **params: object) -> None:
        super().__init__(status, detail, headers)
        self.code = code
        self.params = {k: [str(x) for x in v] if isinstance(v, (list, tuple)) else str(v) for k, v in params.items()}


def handling(err: HandlingError) -> Refusal:
    """404 for an alarm or work order that is not there, 409 for a step its state does not allow."""
    if err.missing:
        return Refusal(404, "handling.missing", str(err), what=err.what.replace(" ", "_"), id=err.id)
    return Refusal(409, "handling.state", str(err), what=err.what.replace(" ", "_"), id=err.id,
                   state=str(err.state).replace(" ", "_"), action=err.action.replace(" ", "_"))


async def _answer(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refusal)
    return JSONResponse({"detail": exc.detail, "code": exc.code, "params": exc.params}, exc.status_code,
                        headers=exc.headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(Refusal, _answer)

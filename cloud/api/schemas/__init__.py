"""The API's request and response bodies as pydantic models, one module per resource, so the
OpenAPI schema (``/openapi.json``) says what each route takes and answers.

Response models describe the JSON exactly as the console (cloud/api/static/*.js) reads it: field
names, types and nullability are the wire format, not a refactoring choice. Variants follow the
FastAPI template: ``…Create``/``…Update`` for bodies that create or change a thing, ``…Public``
for what comes back. Errors are ``{"detail": …, "code": …, "params": {…}}`` (``Message``; the
code and parameters let the console say it in its user's language: cloud/api/errors.py); a
refused request body is 422 with FastAPI's list of problems, or our own sentence or list
(``Invalid``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


CODE_HELP = ("what went wrong, for programs and the console's catalogue (cloud/api/errors.py): e.g. user.unknown,"
             " feature.read_only, request.invalid, http.404")
PARAMS_HELP = "the values the code's message shows (names, ids, settings)"


class Message(BaseModel):
    """Why a request was refused: a sentence, or the problems found in a file or a body; with its code."""

    detail: str | list[str]
    code: str = Field(description=CODE_HELP)
    params: dict[str, Any] = Field(default_factory=dict, description=PARAMS_HELP)


class FieldProblem(BaseModel):
    """One problem FastAPI found validating a request (path, query or body)."""

    model_config = ConfigDict(extra="allow")  # input, ctx, url: as FastAPI gives them

    loc: list[str | int]
    msg: str
    type: str


class Invalid(BaseModel):
    """422: the request does not fit the schema (FastAPI's problems), or a check of ours refused it."""

    detail: str | list[str] | list[FieldProblem]
    code: str = Field(description=CODE_HELP)
    params: dict[str, Any] = Field(default_factory=dict, description=PARAMS_HELP)


WHY = {
    400: "The body could not be read (not UTF-8 text)",
    401: "Not logged in (no live session), or a wrong username or password",
    403: "Logged in, but the role, the regions or the CSRF header do not allow it",
    404: "No such thing (or not within your regions)",
    409: "Not in a state that allows it, or not editable here (the message names the fix)",
    422: "The request does not fit the schema, or a check refused it",
    429: "Too many at once, or too many failures: try again after Retry-After seconds",
    503: "Not ready, or shutting down: try again after Retry-After seconds",
}
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}


def refusals(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for these error statuses, each with its body model."""
    return {code: {"model": Invalid if code == 422 else Message, "description": WHY[code],
                   **({"headers": RETRY_AFTER} if code in (429, 503) else {})} for code in codes}


class Deleted(BaseModel):
    deleted: str = Field(description="the id or name of what was removed")

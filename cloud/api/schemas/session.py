"""Logging in and out, who is logged in, and the health checks a load balancer reads."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from watertel.cloud.users import Role


class Login(BaseModel):
    username: str = Field(max_length=128)
    password: str = Field(max_length=1024)
    session: Literal["cookie", "bearer"] = "cookie"  # bearer: a token for scripts, no cookie


class LoginPublic(BaseModel):
    user: str
    role: Role
    regions: list[str]
    expires_ms: int
    csrf_token: str | None = None  # cookie sessions: send it back in X-CSRF-Token
    access_token: str | None = None  # bearer sessions: send it in Authorization: Bearer …
    token_type: str | None = None


class LoggedOut(BaseModel):
    ok: bool


class Me(BaseModel):
    user: str
    role: Role
    regions: list[str] = Field(description="sorted; empty: every region")
    via: Literal["cookie", "bearer"]


class Summary(BaseModel):
    """Totals for the console header: envelopes and readings stored, refusals and alarms by kind."""

    envelopes: int
    readings_in_envelopes: int
    readings: int
    refused: dict[str, int] = Field(description="quarantined envelopes by reason")
    alarms: dict[str, int] = Field(description="alarms ever raised, by type")
    user: str


class Health(BaseModel):
    status: Literal["ok"]


class NotReady(BaseModel):
    status: Literal["unavailable"]
    store: str = Field(description="the kind of error the store answered with")

"""Logging in and out, and who is logged in: ``/api/login``, ``/api/logout``, ``/api/me``.

A login opens a cookie session (HttpOnly cookie, and a CSRF token the console sends back in
``X-CSRF-Token``) or, with ``session: bearer``, returns a token for scripts. Failures are limited
per username and client address (429 with Retry-After past the limit, even with the right
password); an unknown username costs as much time as a known one.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from watertel.cloud.api.auth import check_password
from watertel.cloud.api.deps import (COOKIE, CSRF_COOKIE, LoginGuardDep, Reader, SessionsDep, UsersDep, client_address,
                                     principal_of)
from watertel.cloud.api.errors import Problem
from watertel.cloud.api.schemas import refusals
from watertel.cloud.api.schemas.session import LoggedOut, Login, LoginPublic, Me

router = APIRouter(prefix="/api", tags=["session"])


@router.post("/login", responses=refusals(400, 401, 429))
def login(body: Login, request: Request, response: Response, users: UsersDep, sessions: SessionsDep,
          guard: LoginGuardDep) -> LoginPublic:
    """Log in: a cookie session (with its CSRF token) or, with ``session: bearer``, a token.
    Too many failures for a username from one address: 429 with Retry-After."""
    client = client_address(request)
    request.state.audit_actor = body.username
    request.state.audit_summary = f"login ({body.session})"
    if wait := guard.limiter.attempt(body.username, client):
        request.state.audit_summary += ": too many failures"
        raise Problem(429, "auth.too_many", "too many failed logins: try again later", headers={"Retry-After": str(wait)},
                      wait_s=wait)
    user = users.get(body.username)
    if not check_password(body.password, user.password_hash if user else guard.decoy_hash) or user is None:
        request.state.audit_summary += ": wrong username or password"
        raise Problem(401, "auth.failed", "wrong username or password")
    guard.limiter.succeeded(body.username, client)
    request.state.audit_role = user.role.value
    token, session = sessions.open(user.username, body.session)
    public = LoginPublic(user=user.username, role=user.role, regions=user.regions, expires_ms=int(session.expires * 1000))
    if body.session == "bearer":
        return public.model_copy(update={"access_token": token, "token_type": "bearer"})
    for name, value, httponly in ((COOKIE, token, True), (CSRF_COOKIE, session.csrf, False)):
        response.set_cookie(name, value, httponly=httponly, samesite="strict", secure=guard.cfg.secure_cookies,
                            max_age=int(guard.cfg.session_hours * 3600))
    return public.model_copy(update={"csrf_token": session.csrf})


@router.post("/logout", responses=refusals(403))
def logout(request: Request, response: Response, sessions: SessionsDep) -> LoggedOut:
    """End this session (cookie sessions: with the CSRF header); without one, nothing to do.

    The session is looked up here rather than by a dependency, so the audit row says "logout"
    whatever the answer."""
    request.state.audit_summary = "logout"
    try:
        sessions.close(principal_of(request).token)
    except HTTPException as err:
        if err.status_code != 401:
            raise
        request.state.audit_summary = "logout: no session"
    response.delete_cookie(COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    return LoggedOut(ok=True)


@router.get("/me", responses=refusals(401))
def me(user: Reader) -> Me:
    """Who is logged in, with which role and regions."""
    return Me(user=user.username, role=user.role, regions=sorted(user.regions), via=user.via)  # type: ignore[arg-type]

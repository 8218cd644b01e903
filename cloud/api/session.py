"""Logging in and out, and who is logged in: ``/api/login``, ``/api/logout``, ``/api/me``.

A login opens a cookie session (HttpOnly cookie, and a CSRF token the console sends back in
``X-CSRF-Token``) or, with ``session: bearer``, returns a token for scripts. Failures are limited
per username and client address, per address, per username and in total (login_limits.py: 429
with Retry-After past a limit, even with the right password); at most ``login_max_checks``
passwords are checked at once; an unknown username costs as much time as a known one.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from watertel.cloud.api.auth import check_password
from watertel.cloud.api.deps import (COOKIE, CSRF_COOKIE, LoginGuard, LoginGuardDep, Reader, SessionsDep, UsersDep,
                                     client_address, principal_of)
from watertel.cloud.api.errors import Problem
from watertel.cloud.api.schemas import refusals
from watertel.cloud.api.schemas.session import LoggedOut, Login, LoginPublic, Me

router = APIRouter(prefix="/api", tags=["session"])


@router.post("/login", responses=refusals(400, 401, 429))
async def login(body: Login, request: Request, response: Response, users: UsersDep, sessions: SessionsDep,
                guard: LoginGuardDep) -> LoginPublic:
    """Log in: a cookie session (with its CSRF token) or, with ``session: bearer``, a token.
    Too many failures (login_limits.py) or too many password checks at once: 429 with Retry-After.

    ``async``: the limits and the wait for a check slot hold no thread; only the check itself runs
    in the thread pool, so a flood of logins leaves threads for every other request."""
    client = client_address(request)
    request.state.audit_actor = body.username
    request.state.audit_summary = f"login ({body.session})"
    if wait := guard.limiter.attempt(body.username, client):
        request.state.audit_summary += ": too many failures"
        raise Problem(429, "auth.too_many", "too many failed logins: try again later", headers={"Retry-After": str(wait)},
                      wait_s=wait)
    user = users.get(body.username)
    right = await checked(guard, body.username, client, body.password, user.password_hash if user else guard.decoy_hash)
    if not right or user is None:
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


async def checked(guard: LoginGuard, username: str, client: str, password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored``, checked in a slot of ``guard.checks`` (429 when
    none frees up soon: the attempt is then not counted as a failure)."""
    if not await guard.checks.acquire():
        guard.limiter.abandoned(username, client)
        raise Problem(429, "auth.busy", "too many logins at once: try again in a moment", headers={"Retry-After": "1"},
                      wait_s=1)
    try:
        return await run_in_threadpool(check_password, password, stored)
    finally:
        guard.checks.release()


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

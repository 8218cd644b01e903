"""Who is asking, and may they: the ``require(role, …)`` dependency and the region scope.

Credentials: ``Authorization: Bearer <token>`` (a bearer session), else the session cookie. A
cookie session must send its CSRF token in ``X-CSRF-Token`` with every unsafe method (POST, PUT,
PATCH, DELETE); a bearer session need not. Then the user's role must be one of those the endpoint
names: 401 without a live session, 403 with the wrong role or CSRF token.

    @app.get("/api/alarms")
    def alarms(user: Reader) -> list[dict]: ...

    @app.post("/api/alarms/{id}/ack")
    def ack(user: Annotated[Principal, require(Role.OPERATOR, Role.ADMIN)]) -> dict: ...
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from watertel.cloud.api.auth import Sessions
from watertel.cloud.users import Role, UserEntry

COOKIE = "watertel_session"
CSRF_COOKIE = "watertel_csrf"  # readable by the console's script: it copies it into X-CSRF-Token
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
READERS = (Role.ADMIN, Role.OPERATOR, Role.CREW, Role.VIEWER)
WRITERS = (Role.ADMIN, Role.OPERATOR)
MAX_ROW_ID = 2**63 - 1  # ids (alarms, work orders, audit rows) are 64-bit: larger ones do not exist


@dataclass(frozen=True)
class Principal:
    username: str
    role: Role
    regions: frozenset[str]  # empty: every region
    via: str  # "cookie" | "bearer"
    token: str

    def sees(self, region_ancestry: list[str] | None) -> bool:
        """Whether a station in a region with this ancestry (county, city, province) is in scope;
        ``None``: a station the registry does not know, in scope of unscoped users only."""
        if not self.regions:
            return True
        return region_ancestry is not None and not self.regions.isdisjoint(region_ancestry)


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def principal_of(request: Request) -> Principal:
    """The logged-in user of this request, whatever their role (401 without; 403 on a bad CSRF header)."""
    sessions: Sessions = request.app.state.sessions
    users: dict[str, UserEntry] = request.app.state.users
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        token, via = bearer.strip(), "bearer"
    else:
        token, via = request.cookies.get(COOKIE, ""), "cookie"
    session = sessions.get(token, via)  # type: ignore[arg-type]
    user = users.get(session.username) if session else None
    if session is None or user is None:
        raise HTTPException(401, "log in first", headers={"WWW-Authenticate": "Bearer"})
    principal = Principal(user.username, user.role, frozenset(user.regions), via, token)
    request.state.audit_actor, request.state.audit_role = principal.username, principal.role.value
    if via == "cookie" and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
            raise HTTPException(403, f"missing or wrong {CSRF_HEADER} header (the value returned at login)")
    return principal


def role_check(*roles: Role) -> Callable[[Request], Principal]:
    """The check behind ``require``, for ``APIRouter(dependencies=[Depends(...)])``."""
    allowed = frozenset(roles)

    def dependency(request: Request) -> Principal:
        principal = principal_of(request)
        if principal.role not in allowed:
            raise HTTPException(403, f"the {principal.role.value} role may not do this"
                                     f" (needs {' or '.join(sorted(r.value for r in allowed))})")
        return principal

    return dependency


def require(*roles: Role) -> Any:
    """A dependency: the logged-in user, if their role is one of ``roles`` (else 401/403)."""
    return Depends(role_check(*roles))


Reader = Annotated[Principal, require(*READERS)]
Writer = Annotated[Principal, require(*WRITERS)]
Admin = Annotated[Principal, require(Role.ADMIN)]

"""What a route needs, as ``Annotated`` dependencies: who is asking (and may they), and the app's
state (``app.state``, filled by ``create_app``), so routers are plain module-level objects.

Credentials: ``Authorization: Bearer <token>`` (a bearer session), else the session cookie. A
cookie session must send its CSRF token in ``X-CSRF-Token`` with every unsafe method (POST, PUT,
PATCH, DELETE); a bearer session need not. Then the user's role must be one of those the endpoint
names: 401 without a live session, 403 with the wrong role or CSRF token.

    @router.get("/alarms")
    def alarms(user: Reader, store: StoreDep) -> list[AlarmPublic]: ...

    @router.post("/alarms/{id}/ack")
    def ack(user: Annotated[Principal, require(Role.OPERATOR, Role.ADMIN)]) -> AlarmPublic: ...

State is read per request from ``request.app.state`` (``async`` getters: reading an attribute
needs no trip through the thread pool); objects a write changes (the users, the registry, the
gateway list, the station → regions map) are changed in place, so every reader of the same app
sees the change at once.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request

from watertel.cloud.alarms.lifecycle import WorkOrdersConfig
from watertel.cloud.api.auth import Sessions
from watertel.cloud.api.login_limits import LoginLimiter, PasswordChecks
from watertel.cloud.api.errors import Problem
from watertel.cloud.config import ApiConfig
from watertel.cloud.gateways import GatewayEntry
from watertel.cloud.notify.config import NotificationsConfig
from watertel.cloud.quality.config import RatesConfig
from watertel.cloud.registry import Registry
from watertel.cloud.store import SqlStore
from watertel.cloud.users import Role, UserEntry

COOKIE = "watertel_session"
CSRF_COOKIE = "watertel_csrf"  # readable by the console's script: it copies it into X-CSRF-Token
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
READERS = (Role.ADMIN, Role.OPERATOR, Role.CREW, Role.VIEWER)
WRITERS = (Role.ADMIN, Role.OPERATOR)
MAX_ROW_ID = 2**63 - 1  # ids (alarms, work orders, audit rows) are 64-bit: larger ones do not exist

AncestryMap = dict[str, list[str]]  # station -> [county, city, province]; a station the registry lacks: absent


# --- who is asking -------------------------------------------------------------------------------
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
    """The client's address: the TCP peer's, or what a trusted proxy says (``forwarded_allow_ips``)."""
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
        raise Problem(401, "auth.required", "log in first", headers={"WWW-Authenticate": "Bearer"})
    principal = Principal(user.username, user.role, frozenset(user.regions), via, token)
    request.state.audit_actor, request.state.audit_role = principal.username, principal.role.value
    if via == "cookie" and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
            raise Problem(403, "auth.csrf", f"missing or wrong {CSRF_HEADER} header (the value returned at login)")
    return principal


def role_check(*roles: Role) -> Callable[[Request], Principal]:
    """The check behind ``require``, for ``APIRouter(dependencies=[Depends(...)])``."""
    allowed = frozenset(roles)

    def dependency(request: Request) -> Principal:
        principal = principal_of(request)
        if principal.role not in allowed:
            needs = sorted(r.value for r in allowed)
            raise Problem(403, "auth.role", f"the {principal.role.value} role may not do this (needs {' or '.join(needs)})",
                          role=principal.role.value, roles=needs)
        return principal

    return dependency


def require(*roles: Role) -> Any:
    """A dependency: the logged-in user, if their role is one of ``roles`` (else 401/403)."""
    return Depends(role_check(*roles))


Reader = Annotated[Principal, require(*READERS)]
Writer = Annotated[Principal, require(*WRITERS)]
Admin = Annotated[Principal, require(Role.ADMIN)]
Crew = Annotated[Principal, require(Role.CREW)]


# --- the app's state -----------------------------------------------------------------------------
@dataclass(eq=False)
class EditedFile:
    """A YAML file the API writes (users, station registry, gateways, notifications); ``path`` is
    None when that part is kept in the cloud config instead (writes answer 409 naming the fix).
    Each write holds ``lock`` while it reads the file as it is on disk, changes and writes it."""

    path: Path | None
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(eq=False)
class EditedFiles:
    users: EditedFile
    registry: EditedFile
    gateways: EditedFile
    notifications: EditedFile


@dataclass(eq=False)
class LoginGuard:
    """What a login checks against beyond the users: the failure limits, the cap on password checks
    at once, and a hash to verify an unknown user's password against (so unknown users cost as
    much time as known ones, inside the same cap)."""

    limiter: LoginLimiter
    checks: PasswordChecks
    decoy_hash: str
    cfg: ApiConfig  # session length, secure cookies


@dataclass(eq=False)
class ShownNotifications:
    """The notification routes and contacts as last read: a broken file keeps the last valid ones."""

    cfg: NotificationsConfig


async def get_store(request: Request) -> SqlStore:
    return request.app.state.store


async def get_users(request: Request) -> dict[str, UserEntry]:
    """The username → user map every session check reads; admin writes replace its content in place."""
    return request.app.state.users


async def get_sessions(request: Request) -> Sessions:
    return request.app.state.sessions


async def get_login_guard(request: Request) -> LoginGuard:
    return request.app.state.login_guard


async def get_registry(request: Request) -> Registry | None:
    """The station registry (None: none configured); registry writes update this object in place."""
    return request.app.state.registry


async def get_ancestry(request: Request) -> AncestryMap:
    return request.app.state.ancestry


async def get_rates(request: Request) -> RatesConfig:
    """The rates settings: the statistics calendar (``tz``) and when a station counts as stopped."""
    return request.app.state.rates


async def get_work_orders(request: Request) -> WorkOrdersConfig:
    return request.app.state.work_orders


async def get_gateways(request: Request) -> list[GatewayEntry]:
    """The registered gateways; gateway-key writes replace the list's content in place."""
    return request.app.state.gateways


async def get_files(request: Request) -> EditedFiles:
    return request.app.state.files


async def get_notifications(request: Request) -> ShownNotifications:
    return request.app.state.notifications


StoreDep = Annotated[SqlStore, Depends(get_store)]
UsersDep = Annotated[dict[str, UserEntry], Depends(get_users)]
SessionsDep = Annotated[Sessions, Depends(get_sessions)]
LoginGuardDep = Annotated[LoginGuard, Depends(get_login_guard)]
RegistryDep = Annotated[Registry | None, Depends(get_registry)]
AncestryDep = Annotated[AncestryMap, Depends(get_ancestry)]
RatesDep = Annotated[RatesConfig, Depends(get_rates)]
WorkOrdersDep = Annotated[WorkOrdersConfig, Depends(get_work_orders)]
GatewaysDep = Annotated[list[GatewayEntry], Depends(get_gateways)]
FilesDep = Annotated[EditedFiles, Depends(get_files)]
NotificationsDep = Annotated[ShownNotifications, Depends(get_notifications)]

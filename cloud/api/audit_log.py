"""The audit log over HTTP: the middleware that writes a row for every write through ``/api/``
(whatever its answer) and the admins' routes that read and check it (cloud/audit keeps it). An
admin scoped to regions reads the rows of the users they manage (users within their regions) and
their own; failed logins under unknown names, commands and unscoped users' rows are not theirs.

Routes name what a row says in ``request.state.audit_summary`` (and who asked, through the
session check, in ``audit_actor``/``audit_role``); the row is written as the answer starts, so it
is there before the client has its answer.
"""

from __future__ import annotations

import logging
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Depends, Query, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from watertel.cloud import audit
from watertel.cloud.api.admin import within
from watertel.cloud.api.deps import MAX_ROW_ID, SAFE_METHODS, Admin, Principal, RegistryDep, StoreDep, UsersDep
from watertel.cloud.api.schemas import refusals
from watertel.cloud.api.schemas.audit import AuditEntry, AuditVerdict
from watertel.cloud.audit.trail import AuditTrail
from watertel.cloud.audit.verify import describe
from watertel.cloud.registry import Registry
from watertel.cloud.users import UserEntry

log = logging.getLogger("watertel.api")
router = APIRouter(prefix="/api/audit", tags=["audit"], responses=refusals(401, 403))


class AuditMiddleware:
    """Append an audit row for each unsafe request under /api/ as its answer starts."""

    def __init__(self, app: ASGIApp, trail: AuditTrail) -> None:
        self.app, self.trail = app, trail

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        written = False

        def record(status: int) -> None:
            nonlocal written
            written = True
            try:
                self.trail.append(actor=state.get("audit_actor", ""), role=state.get("audit_role", ""),
                             client=(scope.get("client") or ("",))[0], method=scope["method"], path=scope["path"],
                             summary=state.get("audit_summary", ""), status=status)
            except Exception:  # the write itself is done; say loudly that its record is missing
                log.exception("audit: could not record %s %s", scope["method"], scope["path"])

        async def send_recorded(message: Message) -> None:
            if message["type"] == "http.response.start" and not written:
                await to_thread.run_sync(record, message["status"])  # a commit's fsync: off the event loop
            await send(message)

        try:
            await self.app(scope, receive, send_recorded)
        except Exception:
            if not written:
                await to_thread.run_sync(record, 500)
            raise


async def get_trail(request: Request) -> AuditTrail:
    return request.app.state.audit


TrailDep = Annotated[AuditTrail, Depends(get_trail)]


def actors_of(admin: Principal, users: dict[str, UserEntry], registry: Registry | None) -> list[str] | None:
    """Whose rows this admin reads: everyone's (None) for an unscoped admin, else their own and
    those of the users scoped within their regions."""
    if not admin.regions:
        return None
    return sorted({admin.username, *(u.username for u in users.values() if u.regions and within(admin, registry, u.regions))})


@router.get("")
def audit_log(user: Admin, store: StoreDep, users: UsersDep, registry: RegistryDep,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100,
              before_id: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None) -> list[AuditEntry]:
    """The latest audit rows, newest first (admins: those of their regions' users); ``before_id`` pages back."""
    rows = audit.recent(store, limit, before_id, actors_of(user, users, registry))
    return [AuditEntry.model_validate(e.public()) for e in rows]


@router.get("/verify")
def audit_verify(user: Admin, trail: TrailDep) -> AuditVerdict:
    """The chain checked from its first row against the key and the signed checkpoints (as
    `watertel audit verify`): intact, or where it breaks."""
    verdict = trail.verify()
    reason = "; ".join(filter(None, [verdict.problem, *verdict.notes]))
    return AuditVerdict(ok=verdict.ok, rows=verdict.entries, bad_row=verdict.broken_id, reason=reason,
                        last_checkpoint=describe(verdict.trusted))

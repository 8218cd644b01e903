"""Users and notification routes over HTTP: ``/api/admin`` (admins only).

Users: list (never a hash), create (the password becomes an argon2id hash), change role or regions,
reset a password, delete. Writes need ``api.users_file`` (cloud/users_file.py): the file is read as
it is on disk, changed, validated, written atomically, and only then the running API's users are
replaced in place (the dict every session check reads). Users kept in the config's ``api.users``
are listed but not edited here (409 naming the fix). Sessions of a deleted user, of one whose role
or regions changed and (but the caller's own) of one whose password was reset end at once.

Guards: nobody deletes or re-roles themselves; the last admin with every region stays one; an admin
scoped to regions manages only users scoped within those regions, and gives only such regions.

Notification routes and contacts: cloud/api/admin_notifications.py, under the same prefix.
"""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from watertel.cloud.api.admin_notifications import notifications_router
from watertel.cloud.api.auth import Sessions, hash_password
from watertel.cloud.api.deps import Admin, Principal
from watertel.cloud.users import NAME, Role, UserEntry
from watertel.cloud.notify.config import NotificationsConfig
from watertel.cloud.registry import Registry
from watertel.cloud.files import write_atomic
from watertel.cloud.users_file import checked, dump, load_users_file
from watertel.config import ConfigError

PASSWORD = Field(min_length=8, max_length=1024)


class UserCreate(BaseModel):
    username: str = Field(pattern=NAME, max_length=64)
    password: str = PASSWORD
    role: Role = Role.VIEWER
    regions: list[str] = []


class UserUpdate(BaseModel):
    role: Role | None = None
    regions: list[str] | None = None


class PasswordReset(BaseModel):
    password: str = PASSWORD


def public(user: UserEntry) -> dict:
    return {"username": user.username, "role": user.role.value, "regions": list(user.regions)}


def admin_router(users: dict[str, UserEntry], sessions: Sessions, users_file: Path | None,
                 registry: Registry | None, notifications: NotificationsConfig | None,
                 notifications_file: Path | None = None) -> APIRouter:
    """``users``: the app's username → user map, replaced in place after each write."""
    router = APIRouter(prefix="/api/admin", tags=["admin"])
    lock = threading.Lock()  # one write at a time: each reads the file, changes it, writes it

    def within(admin: Principal, regions: list[str]) -> bool:
        """Whether users of ``regions`` are this admin's to manage (all regions: unscoped admins only)."""
        if not admin.regions:
            return True
        return bool(regions) and registry is not None and all(
            r in registry.names and admin.sees(registry.ancestry(r)) for r in regions)

    def check_regions(admin: Principal, regions: list[str]) -> None:
        if regions and registry is None:
            raise HTTPException(422, "regions: needs the station registry (set registry_file in the cloud config)")
        unknown = [r for r in regions if registry is not None and r not in registry.names]
        if unknown:
            raise HTTPException(422, f"regions: {unknown} are not regions of the registry (use province, city or county ids)")
        if not within(admin, regions):
            raise HTTPException(403, "regions: give regions within your own" + (f" ({sorted(admin.regions)})" if admin.regions else ""))

    def target(admin: Principal, name: str, now: dict[str, UserEntry]) -> UserEntry:
        user = now.get(name)
        if user is None or (admin.regions and not within(admin, user.regions)):
            raise HTTPException(404, f"no user {name!r}" + (" within your regions" if admin.regions else ""))
        return user

    def on_disk() -> dict[str, UserEntry]:
        if users_file is None:
            raise HTTPException(409, "users are kept in the cloud config's api.users: set api.users_file (a YAML"
                                     " file with a users: list) to edit them here")
        try:
            return {u.username: u for u in load_users_file(users_file)}
        except ConfigError as err:
            raise HTTPException(409, ["the users file has problems; fix it first:", *err.problems]) from None

    def save(new: dict[str, UserEntry], before: dict[str, UserEntry]) -> None:
        """Keep an admin with every region, validate, write atomically, then swap the running users."""
        unscoped = lambda m: [u for u in m.values() if u.role is Role.ADMIN and not u.regions]  # noqa: E731
        if unscoped(before) and not unscoped(new):
            raise HTTPException(409, "that would leave no admin with every region: make another one first")
        try:
            valid = checked(users_file, [u.model_dump(mode="json") for u in new.values()])
        except ConfigError as err:
            raise HTTPException(422, err.problems) from None
        write_atomic(users_file, dump(valid))
        users.clear()
        users.update({u.username: u for u in valid})

    @router.get("/users")
    def list_users(admin: Admin) -> dict:
        """Users (name, role, regions; never a hash) within your regions, and whether they are editable here."""
        return {"editable": users_file is not None,
                "users": [public(u) for u in sorted(users.values(), key=lambda u: u.username)
                          if within(admin, u.regions)]}

    @router.post("/users", status_code=201, responses={403: {}, 409: {}, 422: {}})
    def create_user(body: UserCreate, admin: Admin, request: Request) -> dict:
        request.state.audit_summary = f"create user {body.username} ({body.role.value})"
        check_regions(admin, body.regions)
        with lock:
            now = on_disk()
            if body.username in now:
                raise HTTPException(409, f"user {body.username!r} exists (change it, or choose another name)")
            user = UserEntry(username=body.username, password_hash=hash_password(body.password), role=body.role,
                             regions=body.regions)
            save({**now, user.username: user}, now)
        request.state.audit_summary += f"; regions {', '.join(body.regions) or 'all'}"
        return public(user)

    @router.patch("/users/{name}", responses={403: {}, 404: {}, 409: {}, 422: {}})
    def update_user(name: str, body: UserUpdate, admin: Admin, request: Request) -> dict:
        """Change a user's role and/or regions; their sessions end (they log in again)."""
        request.state.audit_summary = f"update user {name}"
        if name == admin.username:
            raise HTTPException(409, "you cannot change your own role or regions (ask another admin)")
        if body.regions is not None:
            check_regions(admin, body.regions)
        with lock:
            now = on_disk()
            old = target(admin, name, now)
            user = old.model_copy(update={k: v for k, v in (("role", body.role), ("regions", body.regions)) if v is not None})
            save({**now, name: user}, now)
        changed = [f"role {old.role.value} → {user.role.value}"] if old.role != user.role else []
        changed += [f"regions {', '.join(old.regions) or 'all'} → {', '.join(user.regions) or 'all'}"] \
            if old.regions != user.regions else []
        if changed:
            sessions.close_user(name)
        request.state.audit_summary += f" ({'; '.join(changed) or 'no change'})"
        return public(user)

    @router.post("/users/{name}/password", responses={403: {}, 404: {}, 409: {}})
    def reset_password(name: str, body: PasswordReset, admin: Admin, request: Request) -> dict:
        """Set a new password; the user's other sessions end."""
        request.state.audit_summary = f"reset password of user {name}"
        with lock:
            now = on_disk()
            user = target(admin, name, now).model_copy(update={"password_hash": hash_password(body.password)})
            save({**now, name: user}, now)
        ended = sessions.close_user(name, keep=admin.token if name == admin.username else None)
        return {**public(user), "sessions_ended": ended}

    @router.delete("/users/{name}", responses={403: {}, 404: {}, 409: {}})
    def delete_user(name: str, admin: Admin, request: Request) -> dict:
        request.state.audit_summary = f"delete user {name}"
        if name == admin.username:
            raise HTTPException(409, "you cannot delete yourself (ask another admin)")
        with lock:
            now = on_disk()
            target(admin, name, now)
            save({k: v for k, v in now.items() if k != name}, now)
        sessions.close_user(name)
        return {"deleted": name}

    router.include_router(notifications_router(notifications, notifications_file, registry, within))
    return router

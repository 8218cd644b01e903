"""Users and notification routes over HTTP: ``/api/admin`` (admins only).

Users: list (never a hash), create (the password becomes an argon2id hash), change role or regions,
reset a password, delete. New passwords follow cloud/passwords.py (length, not the user name, not
a common one); an admin changing their own gives the current one too. Writes need ``api.users_file`` (cloud/users_file.py): the file is read as
it is on disk, changed, validated, written atomically, and only then the running API's users are
replaced in place (the dict every session check reads). Users kept in the config's ``api.users``
are listed but not edited here (409 naming the fix). Sessions of a deleted user, of one whose role
or regions changed and (but the caller's own) of one whose password was reset end at once.

Guards: nobody deletes or re-roles themselves; the last admin with every region stays one; an admin
scoped to regions manages only users scoped within those regions, and gives only such regions.

Notification routes and contacts: cloud/api/admin_notifications.py, under the same prefix.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request

from watertel.cloud.api.auth import check_password, hash_password
from watertel.cloud.api.deps import (Admin, FilesDep, LoginGuard, LoginGuardDep, Principal, RegistryDep, SessionsDep,
                                     UsersDep, client_address)
from watertel.cloud.api.errors import Problem, not_enabled
from watertel.cloud.api.schemas import Deleted, refusals
from watertel.cloud.api.schemas.admin import PasswordReset, PasswordResetPublic, UserCreate, UserPublic, UsersPublic, UserUpdate
from watertel.cloud.files import write_atomic
from watertel.cloud.passwords import MESSAGES, MIN_DISTINCT, MIN_LENGTH, Weakness, weakness
from watertel.cloud.registry import Registry
from watertel.cloud.users import Role, UserEntry
from watertel.cloud.users_file import checked, dump, load_users_file
from watertel.config import ConfigError

router = APIRouter(prefix="/api/admin", tags=["admin"], responses=refusals(401, 403))


def within(admin: Principal, registry: Registry | None, regions: list[str]) -> bool:
    """Whether users of ``regions`` are this admin's to manage (all regions: unscoped admins only)."""
    if not admin.regions:
        return True
    return bool(regions) and registry is not None and all(
        r in registry.names and admin.sees(registry.ancestry(r)) for r in regions)


def check_regions(admin: Principal, registry: Registry | None, regions: list[str]) -> None:
    if regions and registry is None:
        raise Problem(422, "regions.need_registry", "regions: needs the station registry (set registry_file in the cloud config)",
                      setting="registry_file")
    unknown = [r for r in regions if registry is not None and r not in registry.names]
    if unknown:
        raise Problem(422, "regions.unknown", f"regions: {unknown} are not regions of the registry (use province, city or county ids)",
                      regions=unknown)
    if not within(admin, registry, regions):
        raise Problem(403, "regions.outside", "regions: give regions within your own"
                      + (f" ({sorted(admin.regions)})" if admin.regions else ""), regions=sorted(admin.regions))


def target(admin: Principal, registry: Registry | None, name: str, now: dict[str, UserEntry]) -> UserEntry:
    user = now.get(name)
    if user is None or (admin.regions and not within(admin, registry, user.regions)):
        raise Problem(404, "user.unknown", f"no user {name!r}" + (" within your regions" if admin.regions else ""), name=name)
    return user


def on_disk(path: Path | None) -> dict[str, UserEntry]:
    if path is None:
        raise not_enabled("users", "api.users_file", "users are kept in the cloud config's api.users: set api.users_file"
                          " (a YAML file with a users: list) to edit them here")
    try:
        return {u.username: u for u in load_users_file(path)}
    except ConfigError as err:
        raise Problem(409, "file.problems", ["the users file has problems; fix it first:", *err.problems], file="users",
                      problems=err.problems) from None


def save(path: Path, new: dict[str, UserEntry], before: dict[str, UserEntry], users: dict[str, UserEntry]) -> None:
    """Keep an admin with every region, validate, write atomically, then swap the running users."""
    unscoped = lambda m: [u for u in m.values() if u.role is Role.ADMIN and not u.regions]  # noqa: E731
    if unscoped(before) and not unscoped(new):
        raise Problem(409, "user.last_admin", "that would leave no admin with every region: make another one first")
    try:
        valid = checked(path, [u.model_dump(mode="json") for u in new.values()])
    except ConfigError as err:
        raise Problem(422, "invalid", err.problems, problems=err.problems) from None
    write_atomic(path, dump(valid))
    users.clear()
    users.update({u.username: u for u in valid})


def strong(password: str, username: str) -> None:
    """422 naming the rule of cloud/passwords.py that ``password`` breaks, if any."""
    weak = weakness(password, username)
    if weak is Weakness.SHORT:
        raise Problem(422, "password.short", MESSAGES[weak], min=MIN_LENGTH)
    if weak is Weakness.SIMPLE:
        raise Problem(422, "password.simple", MESSAGES[weak], min=MIN_DISTINCT)
    if weak is Weakness.USER_NAME:
        raise Problem(422, "password.user_name", MESSAGES[weak])
    if weak is Weakness.COMMON:
        raise Problem(422, "password.common", MESSAGES[weak])


def own_password_checked(admin: Principal, current: str | None, request: Request, user: UserEntry,
                         guard: LoginGuard) -> None:
    """403 unless ``current`` is the caller's password: a session left open (or stolen) may not
    take over the account by changing its password. Wrong guesses count as failed logins."""
    refused = Problem(403, "password.current", "to change your own password, give your current one (current_password)")
    if current is None:
        raise refused
    client = client_address(request)
    if wait := guard.limiter.attempt(admin.username, client):
        raise Problem(429, "auth.too_many", "too many failed logins: try again later", headers={"Retry-After": str(wait)},
                      wait_s=wait)
    if not check_password(current, user.password_hash):
        raise refused
    guard.limiter.succeeded(admin.username, client)


def public(user: UserEntry) -> UserPublic:
    return UserPublic(username=user.username, role=user.role, regions=list(user.regions))


@router.get("/users")
def list_users(admin: Admin, users: UsersDep, registry: RegistryDep, files: FilesDep) -> UsersPublic:
    """Users (name, role, regions; never a hash) within your regions, and whether they are editable here."""
    return UsersPublic(editable=files.users.path is not None,
                       users=[public(u) for u in sorted(users.values(), key=lambda u: u.username)
                              if within(admin, registry, u.regions)])


@router.post("/users", status_code=201, responses=refusals(400, 409, 422))
def create_user(body: UserCreate, admin: Admin, request: Request, users: UsersDep, registry: RegistryDep,
                files: FilesDep) -> UserPublic:
    request.state.audit_summary = f"create user {body.username} ({body.role.value})"
    check_regions(admin, registry, body.regions)
    strong(body.password, body.username)
    with files.users.lock:
        now = on_disk(files.users.path)
        if body.username in now:
            raise Problem(409, "user.exists", f"user {body.username!r} exists (change it, or choose another name)",
                          name=body.username)
        user = UserEntry(username=body.username, password_hash=hash_password(body.password), role=body.role,
                         regions=body.regions)
        save(files.users.path, {**now, user.username: user}, now, users)
    request.state.audit_summary += f"; regions {', '.join(body.regions) or 'all'}"
    return public(user)


@router.patch("/users/{name}", responses=refusals(400, 404, 409, 422))
def update_user(name: str, body: UserUpdate, admin: Admin, request: Request, users: UsersDep, sessions: SessionsDep,
                registry: RegistryDep, files: FilesDep) -> UserPublic:
    """Change a user's role and/or regions; their sessions end (they log in again)."""
    request.state.audit_summary = f"update user {name}"
    if name == admin.username:
        raise Problem(409, "user.self_change", "you cannot change your own role or regions (ask another admin)")
    if body.regions is not None:
        check_regions(admin, registry, body.regions)
    with files.users.lock:
        now = on_disk(files.users.path)
        old = target(admin, registry, name, now)
        user = old.model_copy(update={k: v for k, v in (("role", body.role), ("regions", body.regions)) if v is not None})
        save(files.users.path, {**now, name: user}, now, users)
    changed = [f"role {old.role.value} → {user.role.value}"] if old.role != user.role else []
    changed += [f"regions {', '.join(old.regions) or 'all'} → {', '.join(user.regions) or 'all'}"] \
        if old.regions != user.regions else []
    if changed:
        sessions.close_user(name)
    request.state.audit_summary += f" ({'; '.join(changed) or 'no change'})"
    return public(user)


@router.post("/users/{name}/password", responses=refusals(400, 404, 409, 422))
def reset_password(name: str, body: PasswordReset, admin: Admin, request: Request, users: UsersDep,
                   sessions: SessionsDep, registry: RegistryDep, files: FilesDep, guard: LoginGuardDep) -> PasswordResetPublic:
    """Set a new password (cloud/passwords.py's rules; your own: with ``current_password``); the
    user's other sessions end."""
    request.state.audit_summary = f"reset password of user {name}"
    strong(body.password, name)
    with files.users.lock:
        now = on_disk(files.users.path)
        old = target(admin, registry, name, now)
        if name == admin.username:
            own_password_checked(admin, body.current_password, request, old, guard)
        user = old.model_copy(update={"password_hash": hash_password(body.password)})
        save(files.users.path, {**now, name: user}, now, users)
    ended = sessions.close_user(name, keep=admin.token if name == admin.username else None)
    return PasswordResetPublic(**public(user).model_dump(), sessions_ended=ended)


@router.delete("/users/{name}", responses=refusals(404, 409, 422))
def delete_user(name: str, admin: Admin, request: Request, users: UsersDep, sessions: SessionsDep,
                registry: RegistryDep, files: FilesDep) -> Deleted:
    request.state.audit_summary = f"delete user {name}"
    if name == admin.username:
        raise Problem(409, "user.self_delete", "you cannot delete yourself (ask another admin)")
    with files.users.lock:
        now = on_disk(files.users.path)
        target(admin, registry, name, now)
        save(files.users.path, {k: v for k, v in now.items() if k != name}, now, users)
    sessions.close_user(name)
    return Deleted(deleted=name)

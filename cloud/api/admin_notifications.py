"""Notification routes and contacts over HTTP: ``/api/admin/notifications`` (admins only).

GET shows the contacts (how each is reached: addresses and channel ids, never a secret, a secret
file or a webhook or robot URL), the routes and the channel ids a contact may use. Writes need
``notifications_file`` (cloud/notify/notifications_file.py): PUT ``/routes`` replaces the whole route list,
PUT ``/contacts/{name}`` creates or replaces a contact, DELETE removes one no route names. Each
reads the file as it is on disk, changes it, validates the result with the file's own models (422
with the problems), writes it atomically and answers the new view; the running notifier applies
it at its next round (cloud/notify/reload.py). Channels (webhooks, robots, SMTP, SMS) are edited
in the file by hand: they name secret files. With the section inline in the cloud config, writes
answer 409 naming the fix. Routes and contacts serve every region, so only admins with every
region change them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from watertel.cloud.api.admin import within
from watertel.cloud.api.deps import Admin, FilesDep, NotificationsDep, Principal, RegistryDep, ShownNotifications
from watertel.cloud.api.errors import Problem, not_enabled
from watertel.cloud.api.schemas import refusals
from watertel.cloud.api.schemas.admin import NotificationsPublic
from watertel.cloud.notify.notifications_file import dump, load_notifications_file, notifications_of, plain, read_data
from watertel.cloud.notify.config import Contact, NotificationsConfig, Route
from watertel.cloud.registry import Registry
from watertel.cloud.files import write_atomic
from watertel.config import ConfigError

def view(cfg: NotificationsConfig, admin: Principal, registry: Registry | None, editable: bool,
         problems: list[str]) -> NotificationsPublic:
    """What an admin sees: contacts (how each is reached, never a secret or URL), the routes within
    their regions, the channel ids a contact may use."""
    routes = [r for r in cfg.routes if not admin.regions or not r.regions or within(admin, registry, r.regions)]
    return NotificationsPublic.model_validate({
        "editable": editable, "problems": problems,
        "contacts": [{"id": c.id, "role": c.role, "email": c.email, "phone": c.phone, "webhook": c.webhook,
                      "robot": c.robot, "quiet_hours": str(c.quiet_hours) if c.quiet_hours else None}
                     for c in cfg.contacts],
        "routes": [{"regions": r.regions, "severities": [s.value for s in r.severities], "level": r.level,
                    "contacts": r.contacts, "roles": [str(x) for x in r.roles],
                    "reaches": [c.id for c in cfg.reached_by(r)],
                    "quiet_hours": str(r.quiet_hours) if r.quiet_hours else None} for r in routes],
        "channels": {"webhooks": [w.id for w in cfg.webhooks], "robots": [r.id for r in cfg.robots],
                     "email": cfg.smtp is not None, "sms": cfg.sms is not None}})


def describe_route(r: Route) -> str:
    """``zj-hz red,orange level 0 → duty-hz, role crew`` (who, never how they are reached)."""
    who = [*r.contacts, *(f"role {x}" for x in r.roles)]
    quiet = f" quiet {r.quiet_hours}" if r.quiet_hours else ""
    return (f"{','.join(r.regions) or 'all regions'} {','.join(s.value for s in r.severities) or 'any severity'}"
            f" level {r.level} → {', '.join(who)}{quiet}")


def contact_changes(old: Contact | None, new: Contact) -> str:
    """Channel ids, role and quiet hours with their values; addresses only as added/changed/removed."""
    def shown(c: Contact | None, field: str) -> str:
        value = getattr(c, field) if c else None
        return str(value) if value else "—"

    parts = []
    for field in ("webhook", "robot", "role", "quiet_hours"):
        if old is None and getattr(new, field):
            parts.append(f"{field} {shown(new, field)}")
        elif old is not None and shown(old, field) != shown(new, field):
            parts.append(f"{field} {shown(old, field)} → {shown(new, field)}")
    for field in ("email", "phone"):
        before, after = getattr(old, field) if old else None, getattr(new, field)
        if before != after:
            parts.append(f"{field} {'added' if not before else 'removed' if not after else 'changed'}")
    return "; ".join(parts) or "no change"


router = APIRouter(prefix="/api/admin/notifications", tags=["admin"], responses=refusals(401, 403))


def current(shown: ShownNotifications, path: Path | None) -> list[str]:
    """Read the file again into ``shown`` (a broken file keeps the last valid one); its problems."""
    if path is None:
        return []
    try:
        shown.cfg = load_notifications_file(path)
    except ConfigError as err:
        return err.problems
    return []


def writable(admin: Principal, path: Path | None) -> None:
    if admin.regions:
        raise Problem(403, "notifications.scope", "notification routes and contacts serve every region: only an admin"
                                                  " with every region changes them")
    if path is None:
        raise not_enabled("notifications", "notifications_file", "notifications are kept in the cloud config's"
                          " notifications: section: set notifications_file (a YAML file with that section moved there)"
                          " to edit them here")


def on_disk(admin: Principal, path: Path | None) -> dict[str, Any]:
    writable(admin, path)
    try:
        data = read_data(path)
        notifications_of(path, data)
    except ConfigError as err:
        raise Problem(409, "file.problems", ["the notifications file has problems; fix it first:", *err.problems],
                      file="notifications", problems=err.problems) from None
    return data


def save(path: Path, data: dict[str, Any], shown: ShownNotifications, refused: int = 422) -> NotificationsConfig:
    """Validate with the file's models, write atomically; the running notifier reads it at its next round."""
    try:
        valid = notifications_of(path, data)
    except ConfigError as err:
        raise Problem(refused, "invalid", err.problems, problems=err.problems) from None
    section = data["notifications"]
    section["contacts"], section["routes"] = [plain(c) for c in valid.contacts], [plain(r) for r in valid.routes]
    write_atomic(path, dump(data))
    shown.cfg = valid
    return valid


@router.get("")
def show(admin: Admin, shown: NotificationsDep, registry: RegistryDep, files: FilesDep) -> NotificationsPublic:
    """Contacts, routes and channel ids (no secrets, secret files or URLs); whether editable here."""
    path = files.notifications.path
    problems = current(shown, path)
    return view(shown.cfg, admin, registry, path is not None and not admin.regions, problems)


@router.put("/routes", responses=refusals(400, 409, 422))
def put_routes(routes: Annotated[list[dict[str, Any]], Body(max_length=1000)], admin: Admin, request: Request,
               shown: NotificationsDep, registry: RegistryDep, files: FilesDep) -> NotificationsPublic:
    """Replace the whole route list (each route: regions, severities, level, contacts, roles, quiet_hours)."""
    request.state.audit_summary = "set notification routes"
    path = files.notifications.path
    writable(admin, path)
    named = [r for route in routes if isinstance(route.get("regions"), list) for r in route["regions"]]
    unknown = sorted({r for r in named if isinstance(r, str) and (registry is None or r not in registry.names)})
    if unknown:
        raise Problem(422, "regions.unknown", f"regions: {unknown} are not regions of the registry (use province, city"
                      " or county ids" + ("" if registry else "; set registry_file in the cloud config") + ")",
                      regions=unknown)
    with files.notifications.lock:
        data = on_disk(admin, path)
        old = notifications_of(path, data).routes
        data["notifications"]["routes"] = routes
        new = save(path, data, shown).routes
    added = [describe_route(r) for r in new if r not in old]
    removed = [describe_route(r) for r in old if r not in new]
    request.state.audit_summary += (f" ({len(old)} → {len(new)}; added: {'; '.join(added) or 'none'};"
                                    f" removed: {'; '.join(removed) or 'none'})")
    return view(shown.cfg, admin, registry, True, [])


@router.put("/contacts/{name}", responses=refusals(400, 409, 422))
def put_contact(name: str, contact: Annotated[dict[str, Any], Body()], admin: Admin, request: Request,
                shown: NotificationsDep, registry: RegistryDep, files: FilesDep) -> NotificationsPublic:
    """Create or replace a contact: email, phone, webhook and robot ids, role, quiet_hours."""
    request.state.audit_summary = f"set contact {name}"
    if contact.get("id", name) != name:
        raise Problem(422, "id.mismatch", f"id: {contact['id']!r} differs from the contact in the path ({name!r})",
                      id=str(contact["id"]), path=name)
    path = files.notifications.path
    with files.notifications.lock:
        data = on_disk(admin, path)
        contacts = data["notifications"]["contacts"]
        old = next((Contact.model_validate(c) for c in contacts if c.get("id") == name), None)
        data["notifications"]["contacts"] = [*(c for c in contacts if c.get("id") != name), {**contact, "id": name}] \
            if old is None else [{**contact, "id": name} if c.get("id") == name else c for c in contacts]
        new = next(c for c in save(path, data, shown).contacts if c.id == name)
    request.state.audit_summary = f"{'create' if old is None else 'update'} contact {name} ({contact_changes(old, new)})"
    return view(shown.cfg, admin, registry, True, [])


@router.delete("/contacts/{name}", responses=refusals(404, 409))
def delete_contact(name: str, admin: Admin, request: Request, shown: NotificationsDep, registry: RegistryDep,
                   files: FilesDep) -> NotificationsPublic:
    """Remove a contact that no route names."""
    request.state.audit_summary = f"delete contact {name}"
    path = files.notifications.path
    with files.notifications.lock:
        data = on_disk(admin, path)
        section = data["notifications"]
        if not any(c.get("id") == name for c in section["contacts"]):
            raise Problem(404, "contact.unknown", f"no contact {name!r}", contact=name)
        naming = [str(i) for i, r in enumerate(section["routes"]) if name in (r.get("contacts") or [])]
        if naming:
            raise Problem(409, "contact.in_use", f"contact {name!r} is named by route {', '.join(naming)} (numbered"
                                                 " from 0): remove it from those routes first",
                          contact=name, routes=[int(i) + 1 for i in naming])
        section["contacts"] = [c for c in section["contacts"] if c.get("id") != name]
        save(path, data, shown, refused=409)
    return view(shown.cfg, admin, registry, True, [])

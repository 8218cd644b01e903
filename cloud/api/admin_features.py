"""What the configuration enables, for the admin page: ``GET /api/admin/features`` (admins).

Why: a part kept in cloud.yaml (users without ``api.users_file``, gateways without
``gateways_file``, …) or missing (no station registry) used to show forms that then failed with
409. The page asks first, says for each part which setting enables it, and disables its forms
(cloud/api/static/common.js ``notEnabled``); the writes still answer 409 with the same code.
Notification routes serve every region: for an admin scoped to regions they are never editable.
"""

from __future__ import annotations

from fastapi import APIRouter

from watertel.cloud.api.deps import Admin, FilesDep, RegistryDep
from watertel.cloud.api.schemas import refusals
from watertel.cloud.api.schemas.admin import FeatureState, FeaturesPublic

router = APIRouter(prefix="/api/admin", tags=["admin"], responses=refusals(401, 403))


def state(enabled: bool, editable: bool, setting: str) -> FeatureState:
    code = None if enabled and editable else "feature.off" if not enabled else "feature.read_only"
    return FeatureState(enabled=enabled, editable=enabled and editable, setting=setting, code=code)


@router.get("/features")
def features(admin: Admin, registry: RegistryDep, files: FilesDep) -> FeaturesPublic:
    return FeaturesPublic(
        users=state(True, files.users.path is not None, "api.users_file"),
        registry=state(registry is not None, files.registry.path is not None, "registry_file"),
        gateways=state(True, files.gateways.path is not None, "gateways_file"),
        notifications=state(True, files.notifications.path is not None, "notifications_file") if not admin.regions
        else FeatureState(enabled=True, editable=False, setting="notifications_file", code="notifications.scope"))

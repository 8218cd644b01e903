"""The notifications file (``notifications_file:`` in the cloud config): the ``notifications:``
section kept apart from the config, so admins can edit the routes and contacts through the API
(cloud/api/admin.py) and the running notifier picks the change up (cloud/notify/reload.py).

Its format is the config's section under the same key, so it can be cut from cloud.yaml as it is::

    notifications:
      webhooks: [{id: dispatch, url: "https://ops.example/hooks/watertel", secret_file: secrets/hook}]
      robots: [{id: hz-wecom, kind: wecom, url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send",
                token_file: secrets/wecom-hz}]
      contacts: [{id: duty-hz, webhook: dispatch, robot: hz-wecom}]
      routes: [{regions: [zj-hz], severities: [red, orange], level: 0, contacts: [duty-hz]}]

It names secret files and never holds a secret: a robot needs ``token_file`` here (its credential
may not sit in the URL). Relative paths are relative to the file's folder. The API writes only
``routes`` and ``contacts`` (channels are edited by hand), atomically (temp file, fsync, rename,
previous one kept as ``.bak``); comments are not kept. A missing file is an error (nobody would
be told of an alarm).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, field_validator

from watertel.cloud.notify.config import NotificationsConfig, QuietHours
from watertel.config import ConfigError, Strict, parse_yaml, validate


class NotificationsFile(Strict):
    notifications: NotificationsConfig

    @field_validator("notifications")
    @classmethod
    def _no_credentials(cls, value: NotificationsConfig) -> NotificationsConfig:
        inline = [r.id for r in value.robots if r.token_file is None]
        if inline:
            raise ValueError(f"robots {inline}: give token_file (this file holds no credential: put the robot's key"
                             " or token in a file of its own and name it here)")
        return value


def read_data(path: Path) -> dict[str, Any]:
    """The file's data as written (relative paths kept), with ``contacts`` and ``routes`` lists."""
    if not path.exists():
        raise ConfigError(path, [f"{path}: does not exist (create it with a notifications: mapping, e.g. the"
                                 " notifications: section of the cloud config moved there)"])
    data, _ = parse_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("notifications"), dict):
        raise ConfigError(path, [f"{path}: write a mapping with a notifications: mapping in it"])
    data["notifications"].setdefault("contacts", [])
    data["notifications"].setdefault("routes", [])
    return data


def notifications_of(path: Path, data: Any, node: Any = None, registry_file: Path | None = None) -> NotificationsConfig:
    """Validate ``data`` as the content of ``path`` (raises ConfigError naming the file and key):
    the model, and with ``registry_file`` the routes' regions. Secret files resolved against the
    file's folder."""
    cfg = validate(path, data, node, NotificationsFile).notifications
    if registry_file is not None and (problems := cfg.region_problems(path, registry_file)):
        raise ConfigError(path, problems)
    return cfg.resolved(path.parent)


def load_notifications_file(path: Path, registry_file: Path | None = None) -> NotificationsConfig:
    """The validated notifications of the file."""
    read_data(path)  # a missing file or a wrong shape: the message saying how to write it
    data, node = parse_yaml(path)
    return notifications_of(path, data, node, registry_file)


def plain(model: BaseModel) -> dict[str, Any]:
    """A route or contact as the file writes it: defaults left out, quiet hours as ``HH:MM-HH:MM``."""
    def value(v: Any) -> Any:
        if isinstance(v, QuietHours):
            return str(v)
        if isinstance(v, Enum):
            return v.value
        return [value(x) for x in v] if isinstance(v, list) else v

    return {k: value(getattr(model, k)) for k in model.model_dump(exclude_defaults=True)}


def dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=200)

"""The notifier's routes, contacts and channels reloaded from the notifications file
(``notifications_file:``, cloud/notify/notifications_file.py) when it changes: no restart.

``check`` runs at the start of each notifier round; it compares the file's inode, size and mtime,
so the API's atomic rename is always noticed, and reads the file only when they changed. A file
that fails validation (a half-saved hand edit, an unknown contact) is not applied: the
configuration in use stays, the problems are logged once, and the next change is tried again.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from watertel.cloud.notify.config import NotificationsConfig
from watertel.cloud.notify.notifications_file import load_notifications_file
from watertel.config import ConfigError

log = logging.getLogger("watertel.cloud.notify")


class NotificationsWatcher:
    def __init__(self, path: Path, current: NotificationsConfig, registry_file: Path | None = None) -> None:
        self.path, self.current, self.registry_file = path, current, registry_file
        self.seen: tuple[int, int, int] | None = None  # the first check reads the file (it may have changed since start)

    def check(self) -> NotificationsConfig | None:
        """The file's configuration if it is new and valid; None otherwise (keep the one in use)."""
        try:
            st = os.stat(self.path)
            signature = (st.st_ino, st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            signature = (0, 0, 0)
        if signature == self.seen:
            return None
        self.seen = signature
        try:
            cfg = load_notifications_file(self.path, self.registry_file)
        except ConfigError as err:
            log.error("notifications not reloaded, the routes in use stay: %s", "; ".join(err.problems),
                      extra={"file": str(self.path)})
            return None
        if cfg == self.current:
            return None
        self.current = cfg
        log.info("notifications reloaded from %s: %d contacts, %d routes", self.path, len(cfg.contacts),
                 len(cfg.routes))
        return cfg

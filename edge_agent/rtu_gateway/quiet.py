"""Logs that respect the operator when a public port is hammered: a problem once per key and
minute at warning, repeats at debug. Keys are peer addresses or station names, never ``ip:port``
(a reconnecting attacker would make each connection a new key)."""

from __future__ import annotations

import logging
import time

log = logging.getLogger("watertel.rtu_gateway")
QUIET_S = 60.0
MAX_KEYS = 10_000


class Quiet:
    """Log a problem once per key and minute at warning; repeats go to debug."""

    def __init__(self) -> None:
        self.last: dict[str, float] = {}

    def warn(self, key: str, msg: str, *args: object) -> None:
        now = time.monotonic()
        if now - self.last.get(key, -QUIET_S) >= QUIET_S:
            if len(self.last) >= MAX_KEYS:  # many distinct keys: forget the stale ones (all, if none is)
                self.last = {k: t for k, t in self.last.items() if now - t < QUIET_S}
                if len(self.last) >= MAX_KEYS:
                    self.last.clear()
            self.last[key] = now
            log.warning(msg, *args)
        else:
            log.debug(msg, *args)

"""Apply the rules to newly stored readings and keep one open alarm per condition."""

from __future__ import annotations

import logging
import time
from itertools import groupby

from cloud.alarms.rules import RULES
from cloud.store import SqlStore
from watertel.readings import Reading

log = logging.getLogger("watertel.cloud.alarms")


class AlarmEngine:
    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def on_readings(self, readings: tuple[Reading, ...] | list[Reading]) -> int:
        """Evaluate each poll (station + sample time) in time order; return alarms raised.

        The store is written only when an alarm opens or closes: the open alarms are read once
        per call and followed in memory, since most polls confirm what is already known.
        """
        raised = 0
        open_now = {(a["station"], a["point"], a["type"]) for a in self.store.alarms(open_only=True)}
        ordered = sorted(readings, key=lambda r: (r.station, r.t_ms))
        for _, poll in groupby(ordered, key=lambda r: (r.station, r.t_ms)):
            poll = list(poll)
            for rule in RULES:
                for c in rule(poll):
                    key = (c.station, c.point, c.type)
                    if c.active and key not in open_now:
                        open_now.add(key)
                        if self.store.raise_alarm(c.station, c.point, c.type, c.severity, c.message, poll[0].t_ms):
                            raised += 1
                            log.info("alarm raised: %s %s/%s: %s", c.type, c.station, c.point, c.message)
                    elif not c.active and key in open_now:
                        open_now.discard(key)
                        if self.store.clear_alarm(c.station, c.point, c.type, poll[0].t_ms):
                            log.info("alarm cleared: %s %s/%s", c.type, c.station, c.point)
        return raised

    def check_chain_gaps(self, grace_s: float) -> dict[str, list[int]]:
        """Raise ``chain_gap`` for envelopes still missing ``grace_s`` after a later one arrived
        (a gateway sends its newest batch ahead of a backlog: a hole is normal for a while), and
        clear it once the hole is filled."""
        now = int(time.time() * 1000)
        gaps = self.store.chain_gaps(now - int(grace_s * 1000))
        for gateway_id, missing in gaps.items():
            shown = ", ".join(map(str, missing[:5])) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            self.on_security_event(gateway_id, "chain_gap", f"envelopes missing before: {shown}", now)
        for alarm in self.store.alarms(open_only=True):
            if alarm["type"] == "chain_gap" and alarm["station"] not in gaps:
                self.store.clear_alarm(alarm["station"], "*", "chain_gap", now)
                log.info("alarm cleared: chain_gap gateway %s", alarm["station"])
        return gaps

    def on_device_event(self, gateway_id: str, type_: str, message: str, t_ms: int) -> None:
        """A gateway's own condition (offline): one open alarm until it recovers."""
        if self.store.raise_alarm(gateway_id, "*", type_, "orange", message, t_ms):
            log.warning("alarm raised: %s gateway %s: %s", type_, gateway_id, message)

    def clear_device_event(self, gateway_id: str, type_: str, t_ms: int) -> None:
        if self.store.clear_alarm(gateway_id, "*", type_, t_ms):
            log.info("alarm cleared: %s gateway %s", type_, gateway_id)

    def on_security_event(self, gateway_id: str, type_: str, message: str, t_ms: int) -> None:
        """Refused envelopes and chain gaps: raised once per gateway until an operator closes it."""
        if self.store.raise_alarm(gateway_id, "*", type_, "red" if type_ != "chain_gap" else "yellow", message, t_ms):
            log.warning("alarm raised: %s gateway %s: %s", type_, gateway_id, message)

"""Gateway status messages in: verified with the gateway's registered key before they count.

A status message drives the gateway_offline alarm, the gateway's conditions (buffer_full) and
the fleet view, so it is believed only when signed by a key registered for the gateway its topic
names (watertel/presence.py), and only when newer than the last one accepted from it (a copy
recorded earlier and published again is stale). Anything else is counted by reason
(``status:unsigned``, ``status:bad_signature``, ``status:unregistered``, …), logged at most once
per period and sender (refusals.py) and ignored: no alarm, no fleet change, no contact.

Gateways older than signed status (their status has no ``sig``) are ignored alike: their fleet
row shows only the last contact their signed envelopes give, and a dead one is noticed by the
data_stopped rule (no readings) rather than by its will. The broker's own view of connections is
not used: nothing it publishes is signed, and a client of the broker can imitate it.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from watertel.cloud import metrics
from watertel.cloud.gateway_status import GatewayStatus
from watertel.cloud.ingest.gateway_keys import GatewayKeys
from watertel.cloud.ingest.refusals import RefusalLog
from watertel.envelope import EnvelopeError
from watertel.presence import StatusError, newer, read_status, verify_status

log = logging.getLogger("watertel.cloud.ingest")


class StatusCheck:
    """Verify a status message and tell whether it is news; remember the last one accepted."""

    def __init__(self, keys: GatewayKeys, fleet: GatewayStatus | None, refusals: RefusalLog,
                 counts: Counter[str]) -> None:
        self.keys, self.fleet, self.refusals, self.counts = keys, fleet, refusals, counts
        self.last: dict[str, dict[str, Any]] = {}  # without a fleet folder (tests): in memory

    def accept(self, topic: str, payload: bytes) -> dict[str, Any] | str:
        """The verified status if it is to be believed, else why not (a short code, counted)."""
        parts = topic.split("/")
        gateway = parts[-2] if len(parts) >= 3 else "?"
        try:
            status = read_status(payload)
            if gateway not in self.keys.stations:
                raise StatusError("unregistered", "no gateway of this name is registered")
            body = self._verified(gateway, status)
        except StatusError as err:
            return self._ignore(topic, gateway, err.reason, err.detail)
        if not newer(body, self.previous(gateway)):
            self.counts["status:stale"] += 1  # the broker's retained copy again, or a replay: quietly
            metrics.STATUS_IGNORED.labels("stale").inc()
            return "stale"
        self.last[gateway] = body
        return body

    def previous(self, gateway: str) -> dict[str, Any] | None:
        """The last status accepted from ``gateway`` (several workers share the fleet folder)."""
        if self.fleet is not None:
            entry = self.fleet.status(gateway)
            return entry.get("status") if isinstance(entry, dict) else None
        return self.last.get(gateway)

    def _verified(self, gateway: str, status: dict[str, Any]) -> dict[str, Any]:
        if "sig" not in status:
            raise StatusError("unsigned", "no signature (a gateway older than signed status, or a forgery)")
        if status.get("gateway_id") != gateway:
            raise StatusError("topic_mismatch", f"status of {status.get('gateway_id')!r} on the topic of {gateway!r}")
        key_id = status.get("key_id")
        if not isinstance(key_id, str):
            raise StatusError("bad_format", "no key id")
        try:
            key = self.keys.key(gateway, key_id)
        except EnvelopeError as err:  # a revoked key
            raise StatusError(err.reason, err.detail) from None
        if key is None:
            raise StatusError("unknown_key", f"gateway {gateway!r} has no key {key_id!r}")
        body = verify_status(status, key)
        if self.keys.expired(gateway, key_id, body["session"]):
            raise StatusError("key_expired", f"key {key_id!r} was rotated out before this session began")
        return body

    def _ignore(self, topic: str, gateway: str, reason: str, detail: str) -> str:
        self.counts[f"status:{reason}"] += 1
        metrics.STATUS_IGNORED.labels(reason).inc()
        self.refusals.refused(gateway, f"status_{reason}", f"status ignored on {topic}: {reason} {detail}",
                              {"gateway": gateway, "reason": f"status_{reason}", "topic": topic})
        return reason

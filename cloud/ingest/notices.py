"""Tell a gateway that its envelopes are refused (and when they are stored again), rate-limited.

Ingest answers a refused envelope with a signed notice on the gateway's command topic
(watertel/notices.py), so `edge status` on the gateway says what the cloud says instead of
trusting the broker's PUBACK. A flood of bad envelopes must not make the cloud flood the broker:

- per gateway and reason, at most one notice per ``ingest.notices.every_s`` (10 s); the refusals in
  between are counted and the next notice carries the count (``count``: since the previous notice);
- at most ``max_per_period`` notices per period over all gateways: the gateway is the one the topic
  names, which a publisher without the broker's ACL (deploy/mosquitto/acl) could vary;
- at most MAX_TRACKED gateways and reasons remembered, at most MAX_PENDING notices waiting for the
  broker.

Once a gateway was told of a refusal, the next envelope of it that is stored sends an
``accepted`` notice: the agent clears the refusal at once. A refusal also carries ``until_ms``
(``valid_s`` ahead): renewed every period while the refusals go on, it lapses by itself should
the ``accepted`` notice be lost or be due from another ingest worker.

Each ingest worker decides on its own (as for resend requests, cloud/resend.py): with N workers
sharing the gateways' messages a gateway may hear up to N notices per period, each with its own
worker's count; the agent adds them up.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

from watertel.cloud import metrics
from watertel.cloud.ingest.config import NoticesConfig
from watertel.crypto import SM2PrivateKey, sm3
from watertel.envelope import EnvelopeError, parse
from watertel.ids import is_id
from watertel.notices import Notice

log = logging.getLogger("watertel.cloud.ingest")
MAX_TRACKED = 10_000  # (gateway, reason) pairs counted, and gateways awaiting an accepted notice
MAX_PENDING = 1_000  # notices built but not yet published (the oldest go first)


class NoticeSender:
    """Decides which refusals become notices and builds them; the ingest worker publishes them."""

    def __init__(self, cfg: NoticesConfig, key: SM2PrivateKey, clock: Callable[[], float] = time.time) -> None:
        self.cfg, self.key, self.clock = cfg, key, clock
        self.last: dict[tuple[str, str], float] = {}  # when the last notice for (gateway, reason) went
        self.counts: Counter[tuple[str, str]] = Counter()  # refusals not yet told
        self.noticed: set[str] = set()  # gateways told of a refusal: an accepted notice is due at their next store
        self.pending: list[tuple[str, bytes]] = []  # (gateway, signed notice) to publish
        self.period, self.sent = clock(), 0  # this period's start and notices built in it
        self.suppressed = 0  # refusals not told because of the budget or the bounds (counted for the log)

    def refused(self, gateway: str, reason: str, message: bytes) -> None:
        """One refused message on ``gateway``'s topic; a notice if this pair's period allows it."""
        if not is_id(gateway):
            return  # a topic level that no gateway can have: nobody to tell
        self._roll()
        pair = (gateway, reason)
        if pair in self.counts or len(self.counts) < MAX_TRACKED:
            self.counts[pair] += 1
        if self.clock() - self.last.get(pair, -1e18) < self.cfg.every_s or pair not in self.counts:
            return
        if not self._budget(gateway):
            return
        seq, key_id = _header(message)
        self._queue(gateway, "refused", reason, seq, key_id, self.counts.pop(pair), sm3(message)[:16].hex())
        self.last[pair] = self.clock()
        self.noticed.add(gateway)

    def accepted(self, gateway: str, seq: int) -> None:
        """An envelope of ``gateway`` was stored: tell it, once after refusals, that this clears them
        (the refusals not yet told go first, so the count is whole and the acceptance comes last)."""
        if gateway not in self.noticed or not self._budget(gateway):
            return
        self.noticed.discard(gateway)
        for pair in [p for p in self.counts if p[0] == gateway]:
            self._queue(gateway, "refused", pair[1], None, "", self.counts.pop(pair), "")
        self._queue(gateway, "accepted", "", seq, "", 0, "")

    def take(self) -> list[tuple[str, bytes]]:
        """The notices to publish now, (gateway, bytes) each; the counts of refusals left untold in
        a period that ended go out too."""
        self._roll()
        now = self.clock()
        for pair in [p for p in self.counts if now - self.last.get(p, -1e18) >= self.cfg.every_s][:self.cfg.max_per_period]:
            if not self._budget(pair[0]):
                break
            self._queue(pair[0], "refused", pair[1], None, "", self.counts.pop(pair), "")
            self.last[pair] = now
            self.noticed.add(pair[0])
        out, self.pending = self.pending, []
        return out

    def _roll(self) -> None:
        """A new period: the budget starts again; pairs not told for a period are forgotten."""
        now = self.clock()
        if now - self.period < self.cfg.every_s:
            return
        if self.suppressed:
            log.warning("%d refusals not told to their gateways in the last %.0f s (notice budget %d per period)",
                        self.suppressed, now - self.period, self.cfg.max_per_period)
        self.period, self.sent, self.suppressed = now, 0, 0
        self.last = {p: t for p, t in self.last.items() if now - t < self.cfg.every_s}

    def _budget(self, gateway: str) -> bool:
        if self.sent >= self.cfg.max_per_period or (gateway not in self.noticed and len(self.noticed) >= MAX_TRACKED):
            self.suppressed += 1
            metrics.NOTICES.labels("suppressed").inc()
            return False
        self.sent += 1
        return True

    def _queue(self, gateway: str, kind: str, reason: str, seq: int | None, key_id: str, count: int,
               digest: str) -> None:
        now = int(self.clock() * 1000)
        until = now + int(self.cfg.valid_s * 1000) if kind == "refused" else now
        notice = Notice(gateway, kind, reason, seq, key_id, count, digest, now, until)
        self.pending.append((gateway, notice.pack(self.key)))
        metrics.NOTICES.labels(kind).inc()
        del self.pending[:-MAX_PENDING]
        log.debug("notice to %s: %s %s (%d)", gateway, kind, reason, count, extra={"gateway": gateway})


def _header(message: bytes) -> tuple[int | None, str]:
    """The sequence number and key id of a refused message, as far as its framing can be read."""
    try:
        parts = parse(message)
    except EnvelopeError:
        return None, ""
    return parts.seq, parts.key_id if is_id(parts.key_id) else ""

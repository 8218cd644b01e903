"""One MQTT message in, one decision out: stored, duplicate, or refused (to quarantine).

What a refusal leaves is bounded (issue 21): the quarantine keeps a digest, the size and the first
bytes of the message (``ingest.quarantine``), and the log a line per sender and reason per period
(refusals.py); the gateway hears of it in a signed notice, at most one per reason per period
(notices.py). Readings dated outside ``ingest.sample_time``'s window around their arrival are
not stored (the rest of their envelope is, so the chain stays whole) and quarantined as
``sample_time``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable

from watertel.cloud import metrics
from watertel.cloud.alarms.engine import AlarmEngine
from watertel.cloud.gateway_status import GatewayStatus
from watertel.cloud.ingest.config import QUARANTINE_PREFIX_BYTES, QUARANTINE_TEXT_CHARS, IngestConfig
from watertel.cloud.ingest.gateway_keys import GatewayKeys
from watertel.cloud.ingest.notices import NoticeSender
from watertel.cloud.ingest.refusals import RefusalLog
from watertel.cloud.ingest.status import StatusCheck
from watertel.cloud.store import SqlStore
from watertel.crypto import SM2PrivateKey
from watertel.envelope import Envelope, EnvelopeError, open_envelope

log = logging.getLogger("watertel.cloud.ingest")
CONDITIONS = ("buffer_full",)  # a gateway's conditions in its status message, each a device alarm while it lasts


class Handler:
    """``clock``: seconds since the epoch when a message arrives, ``time.time`` unless a replay of
    past traffic plays the time it arrived then (the demo's back-filled week, shell/demo_history.py)."""

    def __init__(self, store: SqlStore, gateway_keys: GatewayKeys, alarms: AlarmEngine,
                 gateway_status: GatewayStatus | None = None, mirror=None,
                 clock: Callable[[], float] = time.time, settings: IngestConfig | None = None,
                 notice_key: SM2PrivateKey | None = None) -> None:
        self.store, self.gateway_keys, self.alarms, self.clock = store, gateway_keys, alarms, clock
        self.gateway_status = gateway_status  # set: keep each gateway's latest status and last contact
        self.mirror = mirror  # set: an InfluxMirror (cloud/store/influx_mirror.py) gets each committed batch's new readings
        self.settings = settings or IngestConfig()
        self.counts: Counter[str] = Counter()
        self.refusals = RefusalLog(self.settings.refusal_log_every_s)
        self.statuses = StatusCheck(gateway_keys, gateway_status, self.refusals, self.counts)
        # set (the cloud's command_key): each gateway hears of its refused envelopes, signed (notices.py)
        self.notices = NoticeSender(self.settings.notices, notice_key, clock) \
            if notice_key is not None and self.settings.notices.enabled else None
        self._pruned = time.monotonic()

    def _refuse(self, topic: str, payload: bytes, gateway: str, reason: str, detail: str,
                seq: int | None = None) -> str:
        """Quarantine (bounded), count, log (rate-limited) and alarm on a registered gateway: a
        topic names whatever its sender likes, and an unregistered name must not become a station
        on the alarm board."""
        self._quarantine(topic, payload, reason, detail)
        self.counts[f"refused:{reason}"] += 1
        metrics.ENVELOPES.labels("refused").inc()
        metrics.REFUSED.labels(reason).inc()
        context = {"gateway": gateway, "reason": reason, "topic": topic}
        if seq is not None:
            context["envelope"] = f"{gateway}/{seq}"  # the id the edge agent logs for the same batch
        self.refusals.refused(gateway, reason, f"envelope refused on {topic}: {reason} {detail}", context)
        if self.notices is not None:
            self.notices.refused(gateway, reason, payload)
        if gateway in self.gateway_keys.stations:
            self.alarms.on_security_event(gateway, "refused_envelope", f"{reason}: {detail}", self._now_ms(),
                                          code="refused_envelope", params={"reason": reason, "detail": detail})
        return reason

    def _quarantine(self, topic: str, payload: bytes, reason: str, detail: str) -> None:
        kept = self.settings.quarantine
        self.store.quarantine(topic, payload, reason, detail, max_rows=kept.max_rows,
                              keep_bytes=QUARANTINE_PREFIX_BYTES, text_chars=QUARANTINE_TEXT_CHARS)
        if time.monotonic() - self._pruned >= kept.prune_every_s:
            self.prune()

    def prune(self) -> int:
        """Drop quarantine rows older than ``ingest.quarantine.keep_days``; also run periodically."""
        self._pruned = time.monotonic()
        return self.store.prune_quarantine(self._now_ms() - int(self.settings.quarantine.keep_days * 86_400_000))

    def handle_status(self, topic: str, payload: bytes) -> str:
        """A gateway's presence (retained birth and its refreshes, its last will, a planned stop):
        raise or clear gateway_offline and the conditions it reports (buffer_full); keep it for the
        fleet view. Only a status signed by the gateway's registered key and newer than the last
        one counts (status.py); the outcome otherwise says why it was ignored."""
        status = self.statuses.accept(topic, payload)
        if isinstance(status, str):
            return status
        gateway, state = status["gateway_id"], status["state"]
        now = self._now_ms()
        before: dict = {}  # the previous status: a refresh that changes nothing writes no alarm
        if self.gateway_status is not None:
            before = (self.gateway_status.status(gateway) or {}).get("status", {})
            self.gateway_status.record(gateway, status, now)
        if state == "offline":
            self.alarms.on_device_event(gateway, "gateway_offline", "the gateway went offline (last will or clean stop)", now,
                                        code="gateway_offline", params={})
        elif state == "online":
            if before.get("state") != "online":
                self.alarms.clear_device_event(gateway, "gateway_offline", now)
            conditions = status.get("conditions") if isinstance(status.get("conditions"), dict) else {}
            held = before.get("conditions") if isinstance(before.get("conditions"), dict) else None
            for condition in CONDITIONS:
                if condition in conditions:
                    detail = str(conditions[condition])[:500]
                    self.alarms.on_device_event(gateway, condition, detail, now, code=condition, params={"detail": detail})
                elif held is None or condition in held:
                    self.alarms.clear_device_event(gateway, condition, now)
        return state

    def handle(self, topic: str, payload: bytes) -> str:
        """Process one message; the caller acknowledges it after this returns (nothing lost)."""
        return self.handle_many([(topic, payload)])[0]

    def handle_many(self, messages: list[tuple[str, bytes]]) -> list[str]:
        """Process messages in order, storing the valid ones in one transaction; one outcome each.

        The caller acknowledges them after this returns: a crash before that redelivers them all,
        and the store drops what was already committed as duplicates.
        """
        outcomes: list[str | None] = []
        valid: list[tuple[int, str, bytes, Envelope]] = []
        arrived = self._now_ms()
        for topic, payload in messages:
            env_or_reason = self._check(topic, payload, arrived)
            if isinstance(env_or_reason, str):
                outcomes.append(env_or_reason)
            else:
                valid.append((len(outcomes), topic, payload, env_or_reason))
                outcomes.append(None)
        now = self._now_ms()
        with metrics.STORE_SECONDS.time():
            results = self.store.accept_many([env for *_, env in valid], now) if valid else []
        metrics.BATCH.observe(len(valid))
        fresh: list = []  # new readings of the whole batch: the alarm rules see them at once
        for (i, topic, payload, env), result in zip(valid, results):
            if result.status == "refused":
                outcomes[i] = self._refuse(topic, payload, env.gateway_id, result.reason, f"seq {env.seq}", env.seq)
                continue
            self.counts[result.status] += 1
            if self.notices is not None and result.status == "stored":
                self.notices.accepted(env.gateway_id, env.seq)
            if self.gateway_status is not None:
                self.gateway_status.touch(env.gateway_id, now)
            metrics.ENVELOPES.labels(result.status).inc()
            metrics.READINGS.inc(len(result.new_readings))
            fresh += result.new_readings
            outcomes[i] = result.status
        if fresh and self.mirror is not None:
            self.mirror.offer(fresh)  # after the commit; only queues, never waits on InfluxDB
        if fresh:
            self.alarms.on_readings(fresh)
        return outcomes

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _check(self, topic: str, payload: bytes, now_ms: int) -> Envelope | str:
        """The opened envelope if it may be stored (without readings dated outside the window),
        else the reason it was refused (quarantined)."""
        parts = topic.split("/")
        topic_gateway = parts[-2] if len(parts) >= 3 else "?"
        try:
            env = open_envelope(payload, self.gateway_keys.key, self.gateway_keys.payload_key)
        except EnvelopeError as err:
            return self._refuse(topic, payload, topic_gateway, err.reason, err.detail)
        if env.payload_key_id is None and self.gateway_keys.requires_encryption(env.gateway_id):
            return self._refuse(topic, payload, env.gateway_id, "not_encrypted",
                                f"gateway {env.gateway_id!r} must SM4-encrypt its payload", env.seq)
        if self.gateway_keys.expired(env.gateway_id, env.key_id, env.created_ms):
            return self._refuse(topic, payload, env.gateway_id, "key_expired",
                                f"key {env.key_id!r} was rotated out before this envelope was made", env.seq)
        if env.gateway_id != topic_gateway:  # the signer is known (and the alarm its); the topic is anyone's
            return self._refuse(topic, payload, env.gateway_id, "topic_mismatch",
                                f"envelope from {env.gateway_id!r} on topic of {topic_gateway!r}")
        allowed = self.gateway_keys.stations.get(env.gateway_id, frozenset())
        strangers = sorted({r.station for r in env.readings} - allowed)
        if strangers:
            return self._refuse(topic, payload, env.gateway_id, "unknown_station", ", ".join(strangers), env.seq)
        return self._within_window(topic, payload, env, now_ms)

    def _within_window(self, topic: str, payload: bytes, env: Envelope, now_ms: int) -> Envelope:
        """``env`` without the readings dated outside ``ingest.sample_time`` around ``now_ms``
        (a clock reset to 2000, or one set to 2100: either would skew the rates and keep a station
        "reporting"); those are counted and quarantined, the envelope itself is stored."""
        window = self.settings.sample_time
        earliest, latest = now_ms - int(window.past_days * 86_400_000), now_ms + int(window.future_s * 1000)
        kept = tuple(r for r in env.readings if earliest <= r.t_ms <= latest)
        if len(kept) == len(env.readings):
            return env
        out = [r for r in env.readings if not earliest <= r.t_ms <= latest]
        first = dt.datetime.fromtimestamp(out[0].t_ms / 1000, dt.timezone.utc).isoformat(timespec="seconds")
        self.counts["readings_refused:sample_time"] += len(out)
        metrics.READINGS_REFUSED.labels("sample_time").inc(len(out))
        detail = (f"{len(out)} of {len(env.readings)} readings dated outside -{window.past_days:g} d/+{window.future_s:g} s"
                  f" of arrival (first {out[0].station}/{out[0].point} at {first}); the others stored")
        self._quarantine(topic, payload, "sample_time", detail)
        self.refusals.refused(env.gateway_id, "sample_time", f"readings refused on {topic}: sample_time {detail}",
                              {"gateway": env.gateway_id, "reason": "sample_time", "envelope": f"{env.gateway_id}/{env.seq}"})
        return dataclasses.replace(env, readings=kept)

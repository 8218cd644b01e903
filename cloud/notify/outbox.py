"""The notifier: alarm history → outbox rows (routing) → deliveries, at least once.

Routing and delivery are separate steps so neither loses anything: the history is written in
the transaction that changes the alarm, ``route`` moves a cursor over it in the transaction that
fills the outbox, and ``deliver`` marks a row sent only after the channel took it. A crash between
sending and marking sends that one again (receivers deduplicate by X-Watertel-Delivery). A failed
delivery is retried with back-off (``retry``), counted in ``watertel_notifications_total`` and
kept in the outbox with its last error (``GET /api/notifications``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from cloud import metrics
from cloud.alarms.lifecycle import Lifecycle, LifecycleConfig, local_time
from cloud.notify.channels import DeliveryError, post_webhook, send_email
from cloud.notify.config import NotificationsConfig

log = logging.getLogger("watertel.cloud.notify")
EVENTS = frozenset({"raised", "escalated", "work_order.overdue"})
SEVERITY_ZH = {"red": "红色", "orange": "橙色", "yellow": "黄色", "blue": "蓝色"}


def describe(history: dict, alarm: dict, tz: ZoneInfo) -> tuple[str, str]:
    """(subject, text) of one event, in both languages the console speaks."""
    sev = alarm.get("severity", "")
    head = f"{SEVERITY_ZH.get(sev, sev)}告警 {sev} alarm {alarm.get('type')} {alarm.get('station')}/{alarm.get('point')}"
    what = {"raised": "raised 发生", "escalated": f"escalated 升级 (level {history['level']})",
            "work_order.overdue": "work order overdue 工单超期"}.get(history["action"], history["action"])
    text = (f"{head}\n{what}: {history['note'] or alarm.get('message', '')}\n"
            f"{alarm.get('message', '')}\nraised 发生于 {local_time(alarm.get('raised_ms') or 0, tz)}; alarm id {alarm.get('id')}")
    return f"[watertel] {head}: {what}", text


class Notifier:
    """Routes and delivers over one store; ``ancestry(station)`` places a station in its regions."""

    def __init__(self, store, cfg: NotificationsConfig, ancestry: Callable[[str], list[str] | None],
                 tz: ZoneInfo | None = None, clock: Callable[[], float] = time.time) -> None:
        self.store, self.cfg, self.ancestry, self.clock = store, cfg, ancestry, clock
        self.tz = tz or ZoneInfo("Asia/Shanghai")
        self.contacts = {c.id: c for c in cfg.contacts}
        self.hooks = {w.id: w for w in cfg.webhooks}
        self._failing: set[tuple[str, str]] = set()  # (channel, address) in an outage: logged once

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def targets(self, history: dict, alarm: dict) -> list[tuple[str, str, str]]:
        """(channel, address, payload) for one history row: the routes it matches."""
        if history["action"] not in EVENTS or not alarm or alarm.get("suppressed"):
            return []
        regions = set(self.ancestry(alarm["station"]) or ())
        subject, text = describe(history, alarm, self.tz)
        payload = json.dumps({"event": history["action"], "level": history["level"], "subject": subject, "text": text,
                              "alarm": alarm, "history": history}, ensure_ascii=False, sort_keys=True)
        out = {}
        for route in self.cfg.routes:
            if route.level != history["level"] or (route.severities and alarm["severity"] not in route.severities) \
                    or (route.regions and regions.isdisjoint(route.regions)):
                continue
            for contact in (self.contacts[name] for name in route.contacts):
                if contact.webhook:
                    out[("webhook", contact.webhook)] = payload
                if contact.email:
                    out[("email", contact.email)] = payload
        return [(channel, address, body) for (channel, address), body in out.items()]

    def route(self) -> int:
        """Queue the notifications of the history rows not routed yet; return how many."""
        total = 0
        while n := self.store.route_history(self.targets, self.now_ms()):
            total += n
        return total

    def deliver(self, limit: int = 100) -> tuple[int, int]:
        """Try every delivery due now; return (sent, failed)."""
        sent = failed = 0
        for row in self.store.outbox(due_at=self.now_ms(), limit=limit):
            key = (row["channel"], row["address"])
            try:
                self._send(row)
            except DeliveryError as err:
                failed += 1
                metrics.NOTIFICATIONS.labels(row["channel"], "failed").inc()
                delay = self.cfg.retry.delay_ms(row["attempts"] + 1)
                self.store.outbox_failed(row["id"], self.now_ms() + delay, err.reason)
                (log.debug if key in self._failing else log.warning)(
                    "notification %d not delivered (attempt %d, next in %g s): %s", row["id"], row["attempts"] + 1,
                    delay / 1000, err)
                self._failing.add(key)
                continue
            sent += 1
            metrics.NOTIFICATIONS.labels(row["channel"], "sent").inc()
            self.store.outbox_sent(row["id"], self.now_ms())
            if key in self._failing:
                self._failing.discard(key)
                log.info("notifications to %s %s delivered again", *key)
        return sent, failed

    def _send(self, row: dict) -> None:
        payload = json.loads(row["payload"])
        if row["channel"] == "webhook":
            hook = self.hooks.get(row["address"])
            if hook is None:
                raise DeliveryError("webhook", row["address"], "no such webhook in notifications.webhooks")
            public = {k: payload[k] for k in ("event", "level", "text", "alarm", "history")}
            post_webhook(hook, public, row["id"])
        elif row["channel"] == "email":
            if self.cfg.smtp is None:
                raise DeliveryError("email", row["address"], "no notifications.smtp section")
            send_email(self.cfg.smtp, row["address"], payload["subject"], payload["text"], row["id"])
        else:
            raise DeliveryError(row["channel"], row["address"], "unknown channel")


async def run_alarm_handling(open_store: Callable[[], object], lifecycle: LifecycleConfig, cfg: NotificationsConfig,
                             ancestry: Callable[[str], list[str] | None], tz: ZoneInfo) -> None:
    """The lifecycle's timers and the notifier, in a thread on a store connection of their own
    (deliveries wait on the network; ingest's loop never waits on them)."""
    opening = asyncio.ensure_future(asyncio.to_thread(open_store))
    try:
        store = await asyncio.shield(opening)
    except asyncio.CancelledError:  # stopped while opening: close what the thread opens
        with contextlib.suppress(Exception):
            (await opening).close()
        raise
    steps, notifier = Lifecycle(store, lifecycle), Notifier(store, cfg, ancestry, tz)
    last_tick = 0.0

    def once() -> None:
        nonlocal last_tick
        if time.monotonic() - last_tick >= lifecycle.check_every_s:
            last_tick = time.monotonic()
            steps.tick()
        notifier.route()
        notifier.deliver()

    try:
        while True:
            job = asyncio.ensure_future(asyncio.to_thread(once))
            try:
                await asyncio.shield(job)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await job  # the thread finishes its step before the store closes
                raise
            except Exception:  # a busy database: try again next round
                log.exception("alarm handling failed")
            await asyncio.sleep(min(cfg.every_s, lifecycle.check_every_s))
    finally:
        store.close()

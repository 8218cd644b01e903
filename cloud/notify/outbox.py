"""The notifier: alarm history → outbox rows (routing) → deliveries, at least once.

Routing and delivery are separate steps so neither loses anything: the history is written in
the transaction that changes the alarm, ``route`` moves a cursor over it in the transaction that
fills the outbox, and ``deliver`` marks a row sent only after the channel took it. A crash between
sending and marking sends that one again (receivers deduplicate by X-Watertel-Delivery). A failed
delivery is retried with back-off (``retry``), counted in ``watertel_notifications_total`` and
kept in the outbox with its last error (``GET /api/notifications``): the delivery log.

Quiet hours: a notification that is not red, routed only through routes or contacts in their
quiet hours, is held: its row's ``next_ms`` moves to the end of the quiet hours and its
``last_error`` says ``held: quiet hours … until …`` (a hold is not counted as an attempt). It
stays in the outbox and goes out when they end; red is never held. The windows travel in the
payload (``quiet``: one list per route-and-contact path that reached the address; the address is
quiet while every path is), so a config change applies to notifications routed after it.

With ``notifications_file:`` the configuration is reloaded at the start of a round when the file
changed (cloud/notify/reload.py): routes and contacts edited through the API apply without restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from watertel.cloud import metrics
from watertel.cloud.alarms.lifecycle import Lifecycle, LifecycleConfig, local_time
from watertel.cloud.notify.channels import DeliveryError, post_webhook, send_email
from watertel.cloud.notify.config import NotificationsConfig, QuietHours
from watertel.cloud.notify.message import compose
from watertel.cloud.notify.robots import send_robot
from watertel.cloud.notify.sms import send_sms

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
        self.store, self.ancestry, self.clock = store, ancestry, clock
        self.tz = tz or ZoneInfo("Asia/Shanghai")
        self.configure(cfg)
        self._failing: set[tuple[str, str]] = set()  # (channel, address) in an outage: logged once

    def configure(self, cfg: NotificationsConfig) -> None:
        """Use ``cfg`` from the next event routed and the next delivery tried (a reloaded file)."""
        self.cfg = cfg
        self.contacts = {c.id: c for c in cfg.contacts}
        self.hooks = {w.id: w for w in cfg.webhooks}
        self.robots = {r.id: r for r in cfg.robots}

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def targets(self, history: dict, alarm: dict) -> list[tuple[str, str, str]]:
        """(channel, address, payload) for one history row: the routes it matches."""
        if history["action"] not in EVENTS or not alarm or alarm.get("suppressed"):
            return []
        regions = set(self.ancestry(alarm["station"]) or ())
        paths: dict[tuple[str, str], list[list[str]]] = {}  # address → the quiet hours of each path to it
        for route in self.cfg.routes:
            if route.level != history["level"] or (route.severities and alarm["severity"] not in route.severities) \
                    or (route.regions and regions.isdisjoint(route.regions)):
                continue
            for contact in self.cfg.reached_by(route):
                quiet = [str(q) for q in (route.quiet_hours, contact.quiet_hours) if q]
                for key in _addresses(contact):
                    paths.setdefault(key, []).append(quiet)
        if not paths:
            return []
        subject, text = describe(history, alarm, self.tz)
        common = {"event": history["action"], "level": history["level"], "subject": subject, "text": text,
                  "alarm": alarm, "history": history}
        out = []
        for (channel, address), quiet in paths.items():
            payload = {**common, "quiet": [] if [] in quiet else quiet}  # one path without quiet hours: never held
            out.append((channel, address, json.dumps(payload, ensure_ascii=False, sort_keys=True)))
        return out

    def held_until(self, payload: dict) -> int | None:
        """When a notification may go, if it is held by quiet hours now; None: send it now."""
        if payload.get("alarm", {}).get("severity") == "red" or not payload.get("quiet"):
            return None
        now = dt.datetime.fromtimestamp(self.clock(), self.tz)
        ends = [_quiet_end([QuietHours.parse(q) for q in path], now) for path in payload["quiet"]]
        if any(end is None for end in ends):
            return None
        return int(min(ends).timestamp() * 1000)

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
            until = self.held_until(json.loads(row["payload"]))
            if until is not None:
                metrics.NOTIFICATIONS.labels(row["channel"], "held").inc()
                self.store.outbox_hold(row["id"], until, f"held: quiet hours until {local_time(until, self.tz)}")
                log.debug("notification %d held until %s (quiet hours)", row["id"], local_time(until, self.tz))
                continue
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
        elif row["channel"] == "robot":
            robot = self.robots.get(row["address"])
            if robot is None:
                raise DeliveryError("robot", row["address"], "no such robot in notifications.robots")
            send_robot(robot, self._message(payload), row["id"])
        elif row["channel"] == "sms":
            if self.cfg.sms is None:
                raise DeliveryError("sms", row["address"], "no notifications.sms section")
            send_sms(self.cfg.sms, row["address"], self._message(payload).short, row["id"])
        else:
            raise DeliveryError(row["channel"], row["address"], "unknown channel")

    def _message(self, payload: dict):
        return compose(payload["history"], payload["alarm"], self.tz, self.cfg.language, self.cfg.console_url)


def _addresses(contact) -> list[tuple[str, str]]:
    """(channel, address) of each way a contact is reached."""
    return [(channel, address) for channel, address in (("webhook", contact.webhook), ("email", contact.email),
                                                         ("robot", contact.robot), ("sms", contact.phone)) if address]


def _quiet_end(windows: list[QuietHours], now: dt.datetime) -> dt.datetime | None:
    """The end of the quiet hours ``now`` is in (windows that overlap chain up), or None."""
    end = now
    for _ in range(len(windows) + 1):
        inside = [w.end_after(end) for w in windows if w.contains(end)]
        if not inside:
            break
        end = max(inside)
    return end if end > now else None


async def run_alarm_handling(open_store: Callable[[], object], lifecycle: LifecycleConfig, cfg: NotificationsConfig,
                             ancestry: Callable[[str], list[str] | None], tz: ZoneInfo,
                             reload: Callable[[], NotificationsConfig | None] | None = None) -> None:
    """The lifecycle's timers and the notifier, in a thread on a store connection of their own
    (deliveries wait on the network; ingest's loop never waits on them). ``reload``: called at the
    start of each round, a new configuration to use or None (cloud/notify/reload.py)."""
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
        if reload is not None and (fresh := reload()) is not None:
            notifier.configure(fresh)
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
            await asyncio.sleep(min(notifier.cfg.every_s, lifecycle.check_every_s))
    finally:
        store.close()

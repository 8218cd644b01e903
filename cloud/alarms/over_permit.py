"""Over-permit and over-plan alarms (超许可 / 超计划取水, issue 8), checked on a timer.

One alarm per (type, permit), keyed in the store as station = the permit id, point ``permit``:

- ``over_permit``: the permit year's withdrawal has reached a tier of the permitted volume
  (default 80 % yellow, 90 % orange, 100 % red);
- ``over_plan``: the withdrawal in a running plan period (the annual plan, the current month or
  two months) has reached a tier of its planned volume (the highest over all periods counts);
- ``over_permit_projected``: not yet over the permit, but projected to reach it before the
  permit year ends (run rate of the last 30 days, or last year's profile; the earlier).

When a higher tier is reached the open alarm is replaced: it is cleared and one of the higher
severity is raised at once, its message saying from what it escalated, so each tier is raised
once and the history keeps each step. A lower tier (a new plan month) replaces it the same way;
below every tier (a new permit year) clears it.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from watertel.cloud.alarms.config import AlarmsConfig
from watertel.cloud.alarms.messages import num
from watertel.cloud.alarms.rules import Condition
from watertel.cloud.permits.model import Permit
from watertel.cloud.permits.tiers import reached
from watertel.cloud.permits.withdrawal import PermitStatus, load_status

log = logging.getLogger("watertel.cloud.alarms")
POINT = "permit"  # the alarm's point: its station column holds the permit id
TYPES = ("over_permit", "over_plan", "over_permit_projected")


def conditions(status: PermitStatus, cfg: AlarmsConfig) -> list[Condition]:
    """The three conditions of one permit (none when its rule is disabled)."""
    p = status.permit
    rule = cfg.for_station(p.id).over_permit
    if not rule.enabled:
        return []
    tier = reached(rule.tiers, status.share)
    head = f"permit {p.id} ({p.holder}), permit year from {status.first.isoformat()}"
    used = f"{status.volume:.6g} of {p.permitted_m3:.6g} m3 ({status.share:.1%})"
    who = {"permit": p.id, "holder": p.holder, "year_start": status.first.isoformat()}
    use = {**who, "volume": num(status.volume), "permitted": num(p.permitted_m3), "unit": "m3", "share": num(status.share)}
    found = [Condition(p.id, POINT, "over_permit", tier.severity if tier else "yellow", tier is not None,
                       f"{head}: {used}" + (f", over the {tier.share:.0%} tier" if tier else ""),
                       "over_permit", {**use, "tier_share": tier.share if tier else 0.0})]
    plans = [(reached(rule.plan_tiers, u.share), u) for u in status.plans]
    hit = [(t, u) for t, u in plans if t is not None]
    if status.plans:
        worst = max(hit, key=lambda x: (x[0].share, x[1].share or 0), default=None)
        text = "; ".join(f"{u.label}: {u.volume:.6g} of {u.planned:.6g} m3 ({u.share:.1%})"
                         for t, u in hit) or "within plan"
        found.append(Condition(p.id, POINT, "over_plan", worst[0].severity if worst else "yellow", worst is not None,
                               f"{head}: {text}", "over_plan", {**who, "plans": [
                                   {"plan": u.kind, "first": u.first.isoformat(),
                                    "last": (u.end - dt.timedelta(days=1)).isoformat(), "volume": num(u.volume),
                                    "planned": num(u.planned), "unit": "m3", "share": num(u.share or 0.0)}
                                   for _, u in hit]}))
    pr = status.projection
    elapsed_days = (dt.datetime.fromtimestamp(status.as_of_ms / 1000, dt.timezone.utc).date() - status.first).days
    ahead = status.projected_within_year and status.share < 1 and elapsed_days >= rule.projection_min_days
    found.append(Condition(p.id, POINT, "over_permit_projected", rule.projected_severity, ahead,
                           f"{head}: {used}, projected to reach the permit on {pr.date} ({pr.method},"
                           f" {pr.rate_m3_per_day or 0:.6g} m3/day)" if ahead else f"{head}: {used}",
                           "over_permit_projected", {**use, "date": str(pr.date), "method": pr.method,
                                                     "rate": num(pr.rate_m3_per_day or 0), "rate_unit": "m3/d"}))
    return found


def apply_graded(store, found: list[Condition], t_ms: int) -> int:
    """Raise, replace (severity changed) or clear each condition's alarm; return alarms raised."""
    open_now = {(a["station"], a["point"], a["type"]): a["severity"] for a in store.alarms(open_only=True)
                if a["type"] in TYPES}
    raised = 0
    for c in found:
        key = (c.station, c.point, c.type)
        was = open_now.get(key)
        if c.active and was == c.severity:
            continue
        if was is not None:
            store.clear_alarm(c.station, c.point, c.type, t_ms)
            if not c.active:
                log.info("alarm cleared: %s permit %s", c.type, c.station)
                continue
        if c.active:
            message = c.message + (f" (was {was})" if was else "")
            params = {**c.params, "was": was} if was else c.params
            if store.raise_alarm(c.station, c.point, c.type, c.severity, message, t_ms, code=c.code, params=params):
                raised += 1
                log.warning("alarm %s: %s permit %s: %s", "raised" if was is None else f"now {c.severity}",
                            c.type, c.station, message)
    return raised


def check_permits(store, permits: list[Permit], cfg: AlarmsConfig, tz: ZoneInfo, now_ms: int) -> list[PermitStatus]:
    """Compute every enabled permit's status from the store and apply its alarms; return the statuses."""
    statuses, found = [], []
    for p in permits:
        rule = cfg.for_station(p.id).over_permit
        if not rule.enabled:
            continue
        status = load_status(store, p, now_ms, tz, rule.window_days)
        statuses.append(status)
        found += conditions(status, cfg)
    apply_graded(store, found, now_ms)
    return statuses

"""Permits in reports: the rates report's ``over_permit`` list, and `watertel report permits` (each
permit's withdrawal in its permit year, from the cloud store; the command loads the cloud config
in cloud/actions.py and hands over here).

One row per permit: the year-to-date volume against the permitted volume and the running plan
periods, the tier reached (``alarms.over_permit.tiers``), the projected exceedance date and
what was done with odd counter readings, per meter. ``--year Y`` reports permit year Y (the
one starting in calendar year Y) up to its end or now; without it, the year running now.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from watertel.cloud.permits.model import Permit
from watertel.cloud.permits.tiers import PermitRules, reached, rule_for
from watertel.cloud.permits.withdrawal import PermitStatus, load_status, midnight_ms
from watertel.cloud.store import SqlStore
from watertel.errors import OperatorError

COLUMNS = ("permit", "holder", "region", "year", "first_day", "as_of", "volume_m3", "permitted_m3", "share", "tier",
           "severity", "since", "projection_date", "projection_method", "rate_m3_per_day", "projected_within_year",
           "plans", "meters")


def row(s: PermitStatus, cfg: PermitRules | None, region: str, tz: ZoneInfo) -> dict[str, Any]:
    """One permit's line of `watertel report permits` and ``GET /api/permits``."""
    p, pr = s.permit, s.projection
    tier = reached(rule_for(cfg, p.id).tiers, s.share)
    since = s.crossed_on(tier.share) if tier else None
    return {"permit": p.id, "holder": p.holder, "region": region, "year": s.year, "first_day": s.first.isoformat(),
            "as_of": dt.datetime.fromtimestamp(s.as_of_ms / 1000, tz).isoformat(timespec="seconds"),
            "volume_m3": round(s.volume, 3), "permitted_m3": p.permitted_m3, "share": s.share,
            "tier": tier and tier.share, "severity": tier and tier.severity, "since": since and since.isoformat(),
            "projection_date": pr.date and pr.date.isoformat(), "projection_method": pr.method,
            "rate_m3_per_day": pr.rate_m3_per_day, "projected_within_year": s.projected_within_year,
            "plans": [{"plan": u.label, "volume_m3": round(u.volume, 3), "planned_m3": u.planned, "share": u.share}
                      for u in s.plans],
            "meters": [{"meter": m.meter.label, "coefficient": m.meter.coefficient, "volume_m3": round(m.volume, 3),
                        "readings": m.readings, "untrusted": m.untrusted, "rollovers": m.rollovers,
                        "rollovers_skipped": m.rollovers_skipped, "resets": m.resets} for m in s.meters]}


def over_permit_problems(statuses: list[PermitStatus], cfg: PermitRules | None, paths: dict[str, str]) -> list[dict]:
    """The rates report's ``over_permit`` list: permits whose year-to-date withdrawal has reached a
    tier (``alarms.over_permit.tiers``, per permit), with volume, permitted, share and projection.

    ``paths``: station id → region path (the first meter's station gives the permit's region).
    """
    out = []
    for s in statuses:
        p, pr = s.permit, s.projection
        tier = reached(rule_for(cfg, p.id).tiers, s.share)
        if tier is None:
            continue
        since = s.crossed_on(tier.share)
        out.append({"permit": p.id, "holder": p.holder, "region": paths.get(p.meters[0].station, ""),
                    "meters": [m.meter.label for m in s.meters], "year_first_day": s.first.isoformat(),
                    "volume_m3": round(s.volume, 3), "permitted_m3": p.permitted_m3, "share": s.share,
                    "tier": tier.share, "severity": tier.severity, "since": since and since.isoformat(),
                    "projection": {"date": pr.date and pr.date.isoformat(), "method": pr.method,
                                   "rate_m3_per_day": pr.rate_m3_per_day, "within_year": s.projected_within_year},
                    "rollovers_skipped": sum(m.rollovers_skipped for m in s.meters),
                    "resets": sum(m.resets for m in s.meters)})
    return out


def to_csv(rows: list[dict[str, Any]]) -> str:
    """One line per permit; plans and meters summarised in one cell each."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        plans = "; ".join(f"{u['plan']}: {u['volume_m3']:g}/{u['planned_m3']:g}" for u in r["plans"])
        meters = "; ".join(f"{m['meter']}: {m['volume_m3']:g}" + (
            f" (rollovers skipped {m['rollovers_skipped']})" if m["rollovers_skipped"] else "") for m in r["meters"])
        writer.writerow({**r, "plans": plans, "meters": meters})
    return out.getvalue()


def year_rows(store: SqlStore, permits: list[Permit], rules: PermitRules | None, tz: ZoneInfo, now: int,
              year: int | None, region: Callable[[str], str]) -> list[dict[str, Any]]:
    """A ``row`` per permit: its permit year running at ``now``, or (``year``) the one starting in
    that calendar year, up to its end or now. ``region``: a station's region path."""
    rows = []
    for p in permits:
        as_of = now
        if year is not None:
            first, end = p.year_bounds(year)
            if midnight_ms(first, tz) >= now:
                raise OperatorError(f"permit {p.id}: its permit year {year} starts {first}, after today")
            as_of = min(midnight_ms(end, tz), now)
        status = load_status(store, p, as_of, tz, rule_for(rules, p.id).window_days)
        rows.append(row(status, rules, region(p.meters[0].station), tz))
    return rows


def render(rows: list[dict[str, Any]], fmt: str) -> str:
    """The rows as `watertel report permits` prints them (``fmt``: json or csv)."""
    return json.dumps(rows, ensure_ascii=False, indent=1) + "\n" if fmt == "json" else to_csv(rows)

"""The fleet's oracle: the data-quality rates the cloud must compute for what the fleet published.

Deliberately independent of ``cloud/quality``: plain Python over the fleet's own record of each
slot (sample time, and when the first copy the broker acknowledged was published), with the
definitions stated in docs/operator.md ("The rates") and the rules the fleet writes into its cloud.yaml (``RULES``):

* a *report* is one point of a station in one slot; every station reports ``flow`` and ``total``
  in one envelope, so each slot is 2 reports, expected whatever happened to it;
* received: a copy of the slot's envelope was acknowledged by the broker (duplicates count once);
* on time: that copy was published within ``on_time_s`` of the sample time, by the fleet's
  clock (late-by is chosen well clear of the window, so the cloud's ingest delay cannot flip it);
* per local day of the slot start: silent (nothing received), missing (upload < ``missing_below``);
  a station reports normally when its upload rate >= ``min_upload_rate`` with no silent day, and
  is abnormal when its abnormal days are ``station_share`` or more of its in-service days
  (the fleet sends no flagged values, so no day is abnormal for flagged data).

oracle.json::

    {"period": "2026-11-30", "timezone": "Asia/Shanghai", "start": ISO, "end": ISO,
     "interval_s": 5, "on_time_s": 60, "late_by_s": 120, "points": ["flow", "total"], "rules": {...},
     "overall": {"stations", "reporting_normally", "abnormal_stations", "expected", "received",
                 "on_time", "completeness", "upload_rate", "timeliness", "abnormal_rate"},
     "stations": [{"station", "gateway", "expected", "received", "on_time", "late", "dropped",
                   "duplicated", "reordered", "service_days", "silent_days", "abnormal_days",
                   "upload_rate", "timeliness", "reporting_normally", "abnormal"}, ...],
     "margins": {"on_time_max_delay_s", "late_min_delay_s", "close_calls"}}

Counts are in reports (slots × points); rates are fractions 0–1, ``null`` when the denominator is 0.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from dataclasses import dataclass
from fractions import Fraction
from zoneinfo import ZoneInfo

RULES = {"normal": {"min_upload_rate": 0.95, "max_silent_days": 0},
         "abnormal_day": {"missing_below": 0.95, "flagged_above": 0.05, "station_share": 0.20}}


@dataclass
class GatewayLog:
    """What happened to each slot of one gateway: the fleet fills it in as it runs."""

    received_ms: list[int | None]  # per slot: publish time of the first acknowledged copy
    sample_ms: list[int | None]  # per slot: sample time (None: dropped, never sealed)
    dropped: int = 0
    late: int = 0
    duplicated: int = 0
    reordered: int = 0


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def _day_starts(start_ms: int, end_ms: int, tz: ZoneInfo) -> list[tuple[int, dt.date]]:
    """Local midnights (ms, date) from the day of ``start_ms`` to the one holding ``end_ms - 1``."""
    day = dt.datetime.fromtimestamp(start_ms / 1000, tz).date()
    out = []
    while True:
        ms = int(dt.datetime.combine(day, dt.time(), tzinfo=tz).timestamp() * 1000)
        if out and ms >= end_ms:
            return out
        out.append((ms, day))
        day += dt.timedelta(days=1)


def oracle(gateways: list[tuple[str, str, GatewayLog]], start_ms: int, interval_ms: int, slots: int, tz_name: str,
           on_time_s: float, late_by_s: float, points: list[str], guard_s: float) -> dict:
    """The oracle document for ``gateways`` as (gateway id, station id, log)."""
    tz = ZoneInfo(tz_name)
    days = _day_starts(start_ms, start_ms + slots * interval_ms, tz)
    day_ms = [ms for ms, _ in days]
    slot_day = [bisect_right(day_ms, start_ms + k * interval_ms) - 1 for k in range(slots)]
    window_ms, guard_ms, per = on_time_s * 1000, guard_s * 1000, len(points)
    normal, rule = RULES["normal"], RULES["abnormal_day"]
    stations, max_on_time, min_late, close = [], None, None, 0
    for gw, st, log in gateways:
        expected_d, received_d = [0] * len(days), [0] * len(days)
        on_time = 0
        for k in range(slots):
            expected_d[slot_day[k]] += per
            got = log.received_ms[k]
            if got is None:
                continue
            received_d[slot_day[k]] += per
            delay = got - log.sample_ms[k]
            if delay <= window_ms:
                on_time += per
                max_on_time = delay if max_on_time is None else max(max_on_time, delay)
            else:
                min_late = delay if min_late is None else min(min_late, delay)
            close += abs(delay - window_ms) < guard_ms
        expected, received = sum(expected_d), sum(received_d)
        served = [i for i, e in enumerate(expected_d) if e]
        silent = [i for i in served if received_d[i] == 0]
        missing = [i for i in served if Fraction(received_d[i]) < Fraction(str(rule["missing_below"])) * expected_d[i]]
        in_service = expected > 0
        reporting_normally = in_service and Fraction(received) >= Fraction(str(normal["min_upload_rate"])) * expected \
            and len(silent) <= normal["max_silent_days"]
        abnormal = in_service and Fraction(len(missing)) >= Fraction(str(rule["station_share"])) * len(served)
        stations.append({
            "station": st, "gateway": gw, "expected": expected, "received": received, "on_time": on_time,
            "late": received - on_time, "dropped": log.dropped * per, "duplicated": log.duplicated,
            "reordered": log.reordered, "service_days": len(served), "silent_days": len(silent),
            "abnormal_days": len(missing), "upload_rate": _ratio(received, expected),
            "timeliness": _ratio(on_time, received), "reporting_normally": reporting_normally, "abnormal": abnormal,
        })
    live = [s for s in stations if s["expected"]]
    total = {k: sum(s[k] for s in live) for k in ("expected", "received", "on_time")}
    n_normal, n_abnormal = sum(s["reporting_normally"] for s in live), sum(s["abnormal"] for s in live)
    first, last = days[0][1], days[-1][1]
    return {
        "period": first.isoformat() if first == last else f"{first.isoformat()}..{last.isoformat()}",
        "timezone": tz_name,
        "start": dt.datetime.fromtimestamp(start_ms / 1000, tz).isoformat(timespec="milliseconds"),
        "end": dt.datetime.fromtimestamp((start_ms + slots * interval_ms) / 1000, tz).isoformat(timespec="milliseconds"),
        "interval_s": interval_ms / 1000, "slots": slots, "on_time_s": on_time_s, "late_by_s": late_by_s,
        "points": points, "rules": RULES,
        "overall": {"stations": len(live), "reporting_normally": n_normal, "abnormal_stations": n_abnormal, **total,
                    "completeness": _ratio(n_normal, len(live)),
                    "upload_rate": _ratio(total["received"], total["expected"]),
                    "timeliness": _ratio(total["on_time"], total["received"]),
                    "abnormal_rate": _ratio(n_abnormal, len(live))},
        "stations": stations,
        "margins": {"on_time_max_delay_s": None if max_on_time is None else max_on_time / 1000,
                    "late_min_delay_s": None if min_late is None else min_late / 1000,
                    "guard_s": guard_s, "close_calls": close},
    }

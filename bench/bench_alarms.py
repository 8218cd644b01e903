"""Benchmark (not a test): the leak alarms (night flow, mass balance, burst) scored against the
simulator's ground truth, and the engine's time for one minute of 4,000 stations.

Run: .venv/bin/python bench/bench_alarms.py [--seed 2026] [--clean 16] [--leaks 24] [--bursts 12]
     [--days 30] [--stations 4000] [--runs 7] [--permits 32] [--reading-hours 3] [--check-hours 24]
     [--parts leaks,fleet,over_permit]

Each case is one station-month: a district inlet station (``flow`` m³/h, ``total`` m³, ``pressure``
MPa, every minute) whose values come from the simulator's physics (``simulators.site.Site``: the
seeded diurnal demand, plus the scenario's ``kind: leak`` events, gives the inlet flow; pressure
falls with the headloss) with sensor noise of 0.2 % of a meter range (flow range 6.7 × the mean
demand, pressure 0–1.6 MPa in 0.001 MPa counts), and a metered area around it: two consumer meters
(60 % and 37 % of the demand, every 5 minutes; 3 % of the demand is unmetered). No Modbus: the
readings go straight into the real ``AlarmEngine`` on a SQLite store, one batch per minute of every
station, with the engine's clock at that minute.

Cases: ``clean`` months; ``leaks`` of 5–20 % of the mean demand (half ``growth: burst``, half
``growth: ramp`` over 0–6 h) starting at a uniform time on days 7–27 and lasting to the month's
end; ``bursts`` of 20–50 % (``growth: burst``) starting on days 2–28, repaired after 2–8 h.
Scoring, per rule: a leak case is detected when the rule raises on its station (or area) within
24 h of the start (a burst: within 15 min, by ``burst``); ``detected_any`` counts a raise at any
time after the start. An alarm is a true positive if raised while a leak or burst was in force on
its station or up to 24 h after it ended, else a false alarm; ``false_per_clean_month`` counts
false alarms on clean months only. ``any_leak_rule`` is night flow or mass balance, whichever
raised first.

Over-permit part (``--permits 32 --reading-hours 3 --check-hours 24``): each case is one permit
year (2026, from 1 January) of a well station whose ``total`` is read every 3 h (± 10 min), with
a simulated withdrawal: day volumes from a seasonal sine (amplitude 0–45 %), a weekend dip, 12 %
log-normal noise and, for some, a production step (× 1.2–1.7 from a day in March–September),
spread over the hours by a diurnal shape, and scaled so the year ends at a chosen share of the
permit: a quarter each under 80 %, 82–88.5 %, 91.5–98.5 % and 102–160 %. Half have the previous
year recorded (so ``last_year_profile`` can project); six have an oddity: a counter rollover
(``wraps_at`` known; one flagged ``TOTAL_ROLLOVER``, one not), a meter replacement (new meter from
0–5 m³; one flagged ``TOTAL_RESET``, one not), or a 2–6 day gap in the readings. The readings go
into the SQLite store through ``accept_many`` as their time passes, and
``AlarmEngine.check_permits`` runs every ``--check-hours`` (from 00:10 on 1 January, plus one at
the year's last instant) on the controlled clock; ``--check-hours 1`` is the configured
``permits_every_s`` but each check reads the permit years again (≈ 20 ms a permit), so the
default is daily. Ground truth: the exact time the true cumulative volume (constant rate within
each hour) reached each tier. Per tier: recall (every crossed tier raised, at its severity or a
higher one), alarms before the true crossing or never crossed (precision), the message's tier,
and delay = raised − true crossing, which must not pass the first check after the first reading
showing the crossing (``late``; bound: one check period + one reading interval). The projection
(``over_permit_projected``): raised before the true 100 % crossing on the permits that cross it
(lead days) and false warnings on those that end under 100 %.

Progress goes to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import math
import platform
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from watertel.cloud.alarms.config import AlarmsConfig  # noqa: E402
from watertel.cloud.alarms.engine import AlarmEngine  # noqa: E402
from watertel.cloud.registry import build_registry  # noqa: E402
from watertel.cloud.store.sqlite import SqliteStore  # noqa: E402
from watertel.simulators.config import SiteConfig  # noqa: E402
from watertel.simulators.scenario import Leak  # noqa: E402
from watertel.simulators.site import Site  # noqa: E402
from watertel.envelope import GENESIS_HASH, Envelope  # noqa: E402
from watertel.readings import Quality, Reading  # noqa: E402

SH = ZoneInfo("Asia/Shanghai")
MIN, HOUR, DAY = 60_000, 3_600_000, 86_400_000
START = int(dt.datetime(2026, 3, 1, tzinfo=SH).timestamp() * 1000)
SHARES = (0.6, 0.37)  # consumer meters' shares of the demand
DEADLINES = {"night_flow": 24 * HOUR, "mass_balance": 24 * HOUR, "any_leak_rule": 24 * HOUR, "burst": 15 * MIN}
GRACE = 24 * HOUR


def say(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


class Effects:
    """What ``Site.step`` asks of a device's effects: the leak flow and extra pumping at ``rel`` s."""

    def __init__(self, leaks: list[Leak]) -> None:
        self.leaks = leaks

    def leak_flow(self, rel: float) -> float:
        return sum(e.flow(rel) for e in self.leaks)

    def extra_pumping(self, rel: float) -> bool:
        return False


@dataclass
class Case:
    n: int
    kind: str  # clean | leak | burst
    site: Site
    effects: Effects
    rng: random.Random
    start_ms: int | None = None
    end_ms: int | None = None
    size: float = 0.0  # share of the mean demand
    total: float = 0.0

    @property
    def station(self) -> str:
        return f"S-{self.n:03d}"

    @property
    def area(self) -> str:
        return f"A-{self.n:03d}"


def make_cases(seed: int, clean: int, leaks: int, bursts: int, days: int) -> list[Case]:
    rng = random.Random(seed)
    kinds = ["clean"] * clean + ["leak"] * leaks + ["burst"] * bursts
    cases = []
    for n, kind in enumerate(kinds):
        mean = rng.uniform(60, 400)
        site = SiteConfig(mean_demand=mean, seed=rng.randrange(1 << 30), night_factor=rng.uniform(0.25, 0.45))
        events = []
        case = Case(n, kind, Site(site), Effects(events), random.Random(rng.randrange(1 << 30)))
        if kind == "leak":
            case.size = rng.uniform(0.05, 0.20)
            at = rng.uniform(7, min(27, days - 3)) * 86400
            growth = rng.choice(["burst", "ramp"])
            events.append(Leak.model_validate({"at": at, "kind": "leak", "rate": case.size * mean, "growth": growth,
                                               "ramp": rng.uniform(0, 6 * 3600)}))
        elif kind == "burst":
            case.size = rng.uniform(0.20, 0.50)
            at = rng.uniform(2, min(28, days - 1)) * 86400
            events.append(Leak.model_validate({"at": at, "for": rng.uniform(2, 8) * 3600, "kind": "leak",
                                               "rate": case.size * mean, "growth": "burst"}))
        if events:
            case.start_ms = START + int(events[0].at * 1000)
            case.end_ms = START + int(min(events[0].end, days * 86400) * 1000)
        cases.append(case)
    return cases


def minute(case: Case, k: int) -> list[Reading]:
    """The inlet's poll, and every 5 minutes the consumer meters', at minute ``k``."""
    t_ms, rel = START + k * MIN, k * 60.0
    q = case.site.step(t_ms / 1000, rel, 60.0 if k else 0.0, case.effects)
    mean, g = case.site.cfg.mean_demand, case.rng.gauss
    flow = max(0.0, q["inlet_flow"] + g(0, 0.0133 * mean))
    pressure = round((q["pressure"] + g(0, 0.0032)) * 1000) / 1000
    case.total += flow / 60
    out = [Reading(case.station, "flow", t_ms, flow, "m3/h"), Reading(case.station, "total", t_ms, case.total, "m3"),
           Reading(case.station, "pressure", t_ms, pressure, "MPa")]
    if k % 5 == 0:
        out += [Reading(f"{case.station}-C{i}", "flow", t_ms, max(0.0, s * q["demand"] + g(0, 0.004 * s * mean)),
                        "m3/h") for i, s in enumerate(SHARES, 1)]
    return out


class Clock:
    def __init__(self) -> None:
        self.t_ms = START

    def __call__(self) -> float:
        return self.t_ms / 1000


def areas_of(cases: list[Case]) -> list[dict]:
    return [{"id": c.area, "inlets": [c.station], "consumers": [f"{c.station}-C{i}" for i in (1, 2)]} for c in cases]


def run_month(cases: list[Case], days: int, workdir: Path) -> list[dict]:
    store = SqliteStore(workdir / "score.db")
    clock = Clock()
    engine = AlarmEngine(store, AlarmsConfig.model_validate({"areas": areas_of(cases)}), None, SH, clock)
    for k in range(days * 1440):
        clock.t_ms = START + k * MIN + 20_000
        engine.on_readings([r for c in cases for r in minute(c, k)])
        if k % 1440 == 0:
            say(f"day {k // 1440 + 1}/{days}")
    rows = store.alarms()
    store.close()
    return rows


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def score(cases: list[Case], rows: list[dict], days: int) -> dict:
    by_key = {c.station: c for c in cases} | {c.area: c for c in cases}
    raised: dict[str, list[tuple[Case, int]]] = {}
    messages = {}
    for a in rows:
        if a["type"] in ("night_flow", "mass_balance", "burst") and a["station"] in by_key:
            raised.setdefault(a["type"], []).append((by_key[a["station"]], a["raised_ms"]))
            messages[(a["station"], a["type"], a["raised_ms"])] = a["message"]
    raised["any_leak_rule"] = raised.get("night_flow", []) + raised.get("mass_balance", [])
    months = len(cases) * days / 30
    clean = sum(1 for c in cases if c.kind == "clean") * days / 30
    out = {}
    for rule, deadline in DEADLINES.items():
        hits = raised.get(rule, [])
        true = [(c, t) for c, t in hits if c.start_ms is not None and c.start_ms <= t <= c.end_ms + GRACE]
        false = [(c, t) for c, t in hits if (c, t) not in true]
        targets = [c for c in cases if c.kind == ("burst" if rule == "burst" else "leak")]
        first = {c.n: min((t - c.start_ms for cc, t in true if cc is c), default=None) for c in targets}
        delays = [d for d in first.values() if d is not None]
        within = [d for d in delays if d <= deadline]
        out[rule] = {
            "cases": len(targets), "detected": len(within),
            "recall": round(len(within) / len(targets), 3) if targets else None,
            "detected_any": len(delays), "deadline_h": deadline / HOUR,
            "alarms": len(hits), "true_alarms": len(true), "false_alarms": len(false),
            "precision": round(len(true) / len(hits), 3) if hits else None,
            "false_per_station_month": round(len(false) / months, 3),
            "false_per_clean_month": round(sum(1 for c, _ in false if c.kind == "clean") / clean, 3) if clean else None,
            "delay_h": {"p50": _h(_pct(delays, 0.5)), "p95": _h(_pct(delays, 0.95)),
                        "max": _h(max(delays, default=None))},
            "false": [{"case": c.n, "kind": c.kind, "at": _local(t),
                       "message": messages.get((c.station, rule, t)) or messages.get((c.area, rule, t))}
                      for c, t in false][:20],
            "missed": [{"case": c.n, "size": round(c.size, 3), "start": _local(c.start_ms),
                        "delay_h": _h(first[c.n])} for c in targets if first[c.n] is None or first[c.n] > deadline],
        }
    return out


def _h(ms: float | None) -> float | None:
    return None if ms is None else round(ms / HOUR, 3)


def _local(t_ms: int) -> str:
    return dt.datetime.fromtimestamp(t_ms / 1000, SH).isoformat(timespec="minutes")


def time_fleet(n: int, runs: int, workdir: Path) -> dict:
    """Median time of ``on_readings`` for one minute of ``n`` stations (flow, total, pressure each;
    areas of one inlet and three other members), after an hour of warm-up so windows are full."""
    store = SqliteStore(workdir / "fleet.db")
    clock = Clock()
    ids = [f"F-{i:05d}" for i in range(n)]
    areas = [{"id": f"FA-{i:04d}", "inlets": [ids[i]], "consumers": ids[i + 1:i + 4]} for i in range(0, n - 3, 4)]
    engine = AlarmEngine(store, AlarmsConfig.model_validate({"areas": areas}), None, SH, clock)
    rng = random.Random(1)

    def batch(k: int) -> list[Reading]:
        t = START + k * MIN
        return [r for i, s in enumerate(ids) for r in (
            Reading(s, "flow", t, 100 + rng.gauss(0, 1), "m3/h"), Reading(s, "total", t, 1000 + k * 1.7, "m3"),
            Reading(s, "pressure", t, 0.45 + rng.gauss(0, 0.002), "MPa"))]

    times = []
    for k in range(60 + runs):
        readings = batch(k)
        clock.t_ms = START + k * MIN + 20_000
        t0 = time.perf_counter()
        engine.on_readings(readings)
        if k >= 60:
            times.append(time.perf_counter() - t0)
    store.close()
    return {"stations": n, "readings": 3 * n, "areas": len(areas), "runs_s": [round(t, 4) for t in times],
            "median_s": round(statistics.median(times), 4), "target_s": 1.0}


# --- over-permit: permit years against the simulated withdrawal -----------------------------------
YEAR0 = dt.datetime(2026, 1, 1, tzinfo=SH)  # the scored permit year (year_start 01-01)
Y_START = int(YEAR0.timestamp() * 1000)
Y_END = int(dt.datetime(2027, 1, 1, tzinfo=SH).timestamp() * 1000)
P_ORIGIN = int(dt.datetime(2024, 12, 29, tzinfo=SH).timestamp() * 1000)  # hour blocks of truth from here
BANDS = (("under_80", 0.45, 0.78), ("80_to_90", 0.82, 0.885), ("90_to_100", 0.915, 0.985), ("over_100", 1.02, 1.6))
TIER_NAMES = {0.8: "80", 0.9: "90", 1.0: "100"}


@dataclass
class PermitCase:
    n: int
    band: str
    permitted: float
    end_share: float  # the scored year's true volume ÷ permitted
    hourly: list[float]  # true m³ withdrawn in each hour from P_ORIGIN on (to Y_END)
    prefix: list[float]  # cumulative m³ at each hour boundary from P_ORIGIN
    readings: list[tuple[int, float, int]]  # (t_ms, counter value, Quality) of the station's `total`
    features: list[str]
    wraps_at: float | None = None
    last_year: bool = False

    @property
    def id(self) -> str:
        return f"P-{self.n:03d}"

    @property
    def station(self) -> str:
        return f"W-{self.n:03d}"

    def cum(self, t_ms: int) -> float:
        """True m³ withdrawn from P_ORIGIN to ``t_ms`` (the rate is constant within each hour)."""
        k = min(max(0, (t_ms - P_ORIGIN) // HOUR), len(self.hourly) - 1)
        return self.prefix[k] + self.hourly[k] * (t_ms - P_ORIGIN - k * HOUR) / HOUR

    def year_volume(self, t_ms: int) -> float:
        return self.cum(t_ms) - self.cum(Y_START)

    def crossing(self, share: float) -> int | None:
        """The exact time the year's true volume reached ``share`` of the permit (None: not in the year)."""
        target = self.cum(Y_START) + share * self.permitted
        lo = (Y_START - P_ORIGIN) // HOUR
        hi = (Y_END - P_ORIGIN) // HOUR
        if self.prefix[hi] < target - 1e-9:
            return None
        k = next(i for i in range(lo, hi) if self.prefix[i + 1] >= target - 1e-9)
        return P_ORIGIN + k * HOUR + int((target - self.prefix[k]) / self.hourly[k] * HOUR) if self.hourly[k] else \
            P_ORIGIN + k * HOUR


def _days(rng: random.Random, first: dt.date, n: int, amp: float, phase: float, weekend: float,
          step: tuple[int, float] | None) -> list[float]:
    """Relative day volumes: season × weekday × noise × a production step."""
    out = []
    for d in range(n):
        day = first + dt.timedelta(days=d)
        doy = day.timetuple().tm_yday
        f = 1 + amp * math.sin(2 * math.pi * (doy - phase) / 365)
        f *= weekend if day.weekday() >= 5 else 1.0
        f *= math.exp(rng.gauss(0, 0.12))
        if step and d >= step[0]:
            f *= step[1]
        out.append(f)
    return out


def make_permits(seed: int, count: int, interval_h: float) -> list[PermitCase]:
    rng = random.Random(seed + 1)
    cases = []
    odd = dict(zip(rng.sample(range(count), min(count, 6)),
                   ["rollover", "rollover_flagged", "replacement", "replacement_flagged", "gap", "gap"]))
    for n in range(count):
        band, lo, hi = BANDS[n % len(BANDS)]
        permitted = round(rng.uniform(20_000, 2_000_000), -2)
        end_share = rng.uniform(lo, hi)
        amp, phase = rng.uniform(0, 0.45), rng.uniform(0, 365)
        weekend = rng.choice([1.0, rng.uniform(0.5, 0.9)])
        step = (rng.randrange(60, 250), rng.uniform(1.2, 1.7)) if rng.random() < 0.3 else None
        diurnal = [1 + rng.uniform(0, 0.7) * math.sin(2 * math.pi * (h - 9) / 24) for h in range(24)]
        # days from P_ORIGIN's date: 2024-12-29 .. 2026-12-31; the previous year's level 0.6-1.0 of the permit
        first = dt.date(2024, 12, 29)
        prev_days = (dt.date(2026, 1, 1) - first).days
        before = _days(rng, first, prev_days, amp, phase + rng.gauss(0, 10), weekend, None)
        this = _days(rng, dt.date(2026, 1, 1), 365, amp, phase, weekend, step)
        prev_share = rng.uniform(0.6, 1.0)
        day_vol = [f * prev_share * permitted / sum(before[3:]) for f in before]
        day_vol += [f * end_share * permitted / sum(this) for f in this]
        hourly = []
        for d, v in enumerate(day_vol):
            # local hours: China has no DST, so 24 hours a day from local midnight
            hourly += [v * w / sum(diurnal) for w in diurnal]
        prefix = [0.0]
        for v in hourly:
            prefix.append(prefix[-1] + v)
        case = PermitCase(n, band, permitted, end_share, hourly, prefix, [], [])
        case.last_year = (n // len(BANDS)) % 2 == 0  # half of each band
        if n in odd:
            case.features.append(odd[n])
        _read(case, rng, interval_h)
        cases.append(case)
    return cases


def _read(c: PermitCase, rng: random.Random, interval_h: float) -> None:
    """The station's `total` readings: every ``interval_h`` (± 10 min), with the case's oddities."""
    begin = P_ORIGIN + DAY if c.last_year else Y_START - 2 * DAY
    step_ms = int(interval_h * HOUR)
    t = begin + rng.randrange(step_ms)
    offset = rng.uniform(0, 50_000)
    feature = c.features[0] if c.features else ""
    odd_at = rng.randrange(Y_START + 20 * DAY, Y_END - 40 * DAY)  # wrap, replacement or gap
    if feature.startswith("rollover"):
        c.wraps_at = 10 ** math.ceil(math.log10(c.permitted * 3))
        offset = c.wraps_at - (c.cum(odd_at) - c.cum(begin))  # reaches the top at odd_at
    gap_end = odd_at + int(rng.uniform(2, 6) * DAY) if feature == "gap" else odd_at
    new_meter = rng.uniform(0, 5) if feature.startswith("replacement") else None
    prev_t = None
    while t < Y_END + DAY:
        tj = t + rng.randrange(-10 * MIN, 10 * MIN)
        t += step_ms
        if feature == "gap" and odd_at <= tj < gap_end:
            continue
        quality = Quality.OK
        if new_meter is not None and tj >= odd_at:
            value = new_meter + c.cum(tj) - c.cum(odd_at)
            if prev_t is not None and prev_t < odd_at and feature.endswith("flagged"):
                quality = Quality.TOTAL_RESET
        else:
            value = offset + c.cum(tj) - c.cum(begin)
            if c.wraps_at is not None and value >= c.wraps_at:
                value -= c.wraps_at
                if prev_t is not None and prev_t < odd_at and feature.endswith("flagged"):
                    quality = Quality.TOTAL_ROLLOVER
        c.readings.append((tj, value, int(quality)))
        prev_t = tj


def permit_registry(cases: list[PermitCase]):
    meters = lambda c: [{"station": c.station, "wraps_at": c.wraps_at} if c.wraps_at else c.station]  # noqa: E731
    return build_registry("bench", {
        "provinces": [{"id": "zj", "name": "浙江省", "cities": [{"id": "hz", "name": "杭州市",
                                                                 "counties": [{"id": "xh", "name": "西湖区"}]}]}],
        "stations": [{"id": c.station, "region": "xh", "kind": "well", "interval_minutes": 180,
                      "points": ["total"], "commissioned": "2024-12-01"} for c in cases],
        "permits": [{"id": c.id, "holder": f"取水户 {c.n}", "permitted_m3": c.permitted, "meters": meters(c)}
                    for c in cases]})


def check_times(check_h: float) -> list[int]:
    """The permit checks: every ``check_h`` from 00:10 on 1 January, and one at the year's last instant."""
    out, t = [], Y_START + 10 * MIN
    while t < Y_END:
        out.append(t)
        t += int(check_h * HOUR)
    return out + [Y_END]


def run_permits(cases: list[PermitCase], check_h: float, workdir: Path) -> tuple[list[dict], dict[str, float]]:
    """Store every reading through ``accept_many`` (one gateway's chained envelopes) as its time
    passes, and run ``AlarmEngine.check_permits`` at each check time on the controlled clock."""
    logging.getLogger("watertel.cloud.alarms").setLevel(logging.ERROR)  # each raise is logged as a warning
    store = SqliteStore(workdir / "permits.db")
    clock = Clock()
    engine = AlarmEngine(store, AlarmsConfig(), permit_registry(cases), SH, clock)
    pending = sorted(((t, c.station, v, q) for c in cases for t, v, q in c.readings), reverse=True)
    seq, prev = 0, GENESIS_HASH
    for i, now in enumerate(check_times(check_h)):
        due = []
        while pending and pending[-1][0] < now:
            due.append(pending.pop())
        for j in range(0, len(due), 5000):
            seq += 1
            rs = tuple(Reading(s, "total", t, v, "m3", Quality(q)) for t, s, v, q in due[j:j + 5000])
            env = Envelope("gw-bench", "k1", seq, prev, rs[-1].t_ms, rs, random.randbytes(32))
            (acc,) = store.accept_many([env])
            assert acc.status == "stored", acc
            prev = env.hash
        clock.t_ms = now
        statuses = engine.check_permits(now)
        if i % 30 == 0:
            say(f"permit check {_local(now)}")
    rows = store.alarms()
    store.close()
    return rows, {st.permit.id: st.volume for st in statuses}  # the year's volume as counted at its end


def _method(message: str) -> str:
    return "last_year_profile" if "(last_year_profile" in message else "run_rate"


def score_permits(cases: list[PermitCase], rows: list[dict], counted: dict[str, float], check_h: float,
                  interval_h: float) -> dict:
    tiers = AlarmsConfig().over_permit.tiers
    rank = {t.severity: t.share for t in tiers}
    checks = check_times(check_h)
    bound = (check_h + interval_h) * HOUR + 10 * MIN  # one check period + one reading interval (+ jitter)
    by_id = {c.id: c for c in cases}
    raised = {c.id: [] for c in cases}
    projected = {c.id: [] for c in cases}
    for a in sorted(rows, key=lambda a: a["raised_ms"]):
        if a["station"] in by_id and a["type"] == "over_permit":
            raised[a["station"]].append(a)
        elif a["station"] in by_id and a["type"] == "over_permit_projected":
            projected[a["station"]].append(a)
    per_tier = {}
    for tier in tiers:
        name = TIER_NAMES.get(tier.share, f"{tier.share:g}")
        crossed, delays, late, missed, wrong, early = 0, [], [], [], [], []
        for c in cases:
            true_t = c.crossing(tier.share)
            hits = [a for a in raised[c.id] if rank[a["severity"]] >= tier.share - 1e-9]
            for a in raised[c.id]:  # this tier's own alarms: right severity, never before the crossing
                if a["severity"] != tier.severity:
                    continue
                if f"over the {tier.share:.0%} tier" not in a["message"]:
                    wrong.append({"permit": c.id, "at": _local(a["raised_ms"]), "message": a["message"]})
                if true_t is None or a["raised_ms"] < true_t:
                    early.append({"permit": c.id, "at": _local(a["raised_ms"]),
                                  "early_h": None if true_t is None else _h(true_t - a["raised_ms"]),
                                  "true_share": round(c.year_volume(a["raised_ms"]) / c.permitted, 5)})
            if true_t is None:
                continue
            crossed += 1
            seen = next((t for t, _, _ in c.readings if t >= true_t), None)  # first reading showing it
            due = next((k for k in checks if seen is not None and k > seen), None)  # first check after it
            if not hits:
                missed.append({"permit": c.id, "crossed": _local(true_t), "features": c.features,
                               "first_reading_after": seen and _local(seen)})
                continue
            first = hits[0]["raised_ms"]
            delays.append(first - true_t)
            if due is None or first > due or first - true_t > bound:
                late.append({"permit": c.id, "crossed": _local(true_t), "raised": _local(first),
                             "delay_h": _h(first - true_t), "expected": due and _local(due), "features": c.features})
        hits_total = sum(1 for c in cases for a in raised[c.id] if a["severity"] == tier.severity)
        per_tier[name] = {
            "severity": tier.severity, "permits": len(cases), "crossed": crossed, "raised": len(delays),
            "recall": round(len(delays) / crossed, 3) if crossed else None,
            "alarms": hits_total, "before_crossing": len(early),
            "precision": round(1 - len(early) / hits_total, 3) if hits_total else None,
            "wrong_tier": len(wrong), "late": len(late),
            "delay_h": {"min": _h(min(delays, default=None)), "p50": _h(_pct(delays, 0.5)),
                        "p95": _h(_pct(delays, 0.95)), "max": _h(max(delays, default=None)),
                        "bound": _h(bound)},
            "late_cases": late, "missed_cases": missed, "early_cases": early[:20], "wrong_cases": wrong[:20]}
    leads, before, after, methods = [], 0, [], {}
    over = [c for c in cases if c.crossing(1.0) is not None]
    for c in over:
        t100 = c.crossing(1.0)
        first = next((a for a in projected[c.id] if a["raised_ms"] < t100), None)
        if first is None:
            after.append({"permit": c.id, "crossed": _local(t100), "end_share": round(c.end_share, 3)})
            continue
        before += 1
        leads.append(t100 - first["raised_ms"])
        method = _method(first["message"])
        methods[method] = methods.get(method, 0) + 1
    false = {}
    for c in cases:
        if c.crossing(1.0) is not None:
            continue
        band = "under_80" if c.end_share < 0.8 else "80_to_100"
        f = false.setdefault(band, {"permits": 0, "warned": 0, "alarms": 0, "by_method": {}, "cases": []})
        f["permits"] += 1
        if projected[c.id]:
            f["warned"] += 1
            f["alarms"] += len(projected[c.id])
            for a in projected[c.id]:
                m = _method(a["message"])
                f["by_method"][m] = f["by_method"].get(m, 0) + 1
            f["cases"].append({"permit": c.id, "end_share": round(c.end_share, 3), "alarms": len(projected[c.id]),
                               "first": _local(projected[c.id][0]["raised_ms"]),
                               "method": _method(projected[c.id][0]["message"]),
                               "warned_days": round(sum((a["cleared_ms"] or Y_END) - a["raised_ms"]
                                                        for a in projected[c.id]) / DAY, 1)})
    d = lambda ms: None if ms is None else round(ms / DAY, 1)  # noqa: E731
    projection = {
        "crossing_100": len(over), "warned_before": before,
        "recall": round(before / len(over), 3) if over else None,
        "lead_days": {"min": d(min(leads, default=None)), "p50": d(_pct(leads, 0.5)),
                      "max": d(max(leads, default=None))},
        "first_warning_method": methods, "not_warned_before": after,
        "false": false}
    features = {}
    for c in cases:
        for f in c.features or ["plain"]:
            features[f] = features.get(f, 0) + 1
    # the year's volume as counted vs the truth, in hours of the year's mean withdrawal
    error = {c.id: (counted[c.id] - c.year_volume(Y_END)) / (c.year_volume(Y_END) / (365 * 24)) for c in cases}
    plain = [abs(error[c.id]) for c in cases if not c.features]
    volume = {"plain_max_abs_h": round(max(plain, default=0), 2),
              "odd": [{"permit": c.id, "features": c.features, "error_h": round(error[c.id], 2)}
                      for c in cases if c.features]}
    return {"permits": len(cases), "bands": {b: sum(1 for c in cases if c.band == b) for b, _, _ in BANDS},
            "with_last_year": sum(c.last_year for c in cases), "features": features,
            "check_every_h": check_h, "reading_every_h": interval_h, "checks": len(checks),
            "tiers": per_tier, "projected": projection, "year_volume_error": volume}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=2026, help="the reported seed (defaults were tuned on seed 1)")
    ap.add_argument("--clean", type=int, default=16)
    ap.add_argument("--leaks", type=int, default=24)
    ap.add_argument("--bursts", type=int, default=12)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--stations", type=int, default=4000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--permits", type=int, default=32, help="simulated permit-years of the over_permit part")
    ap.add_argument("--reading-hours", type=float, default=3.0, help="the permit meters' reading interval")
    ap.add_argument("--check-hours", type=float, default=24.0, help="the permit check period (config: 1 h)")
    ap.add_argument("--parts", default="leaks,fleet,over_permit", help="which parts to run (comma-separated)")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    began = time.perf_counter()
    out: dict = {"seed": args.seed}
    with tempfile.TemporaryDirectory() as tmp:
        if "leaks" in parts:
            cases = make_cases(args.seed, args.clean, args.leaks, args.bursts, args.days)
            say(f"{len(cases)} station-months, {args.days} days at 1 min")
            rows = run_month(cases, args.days, Path(tmp))
            out |= {"station_months": round(len(cases) * args.days / 30, 2),
                    "cases": {"clean": args.clean, "leak": args.leaks, "burst": args.bursts},
                    "rules": score(cases, rows, args.days)}
        if "fleet" in parts:
            say(f"timing {args.stations} stations x {args.runs} minutes")
            out["fleet_minute"] = time_fleet(args.stations, args.runs, Path(tmp))
        if "over_permit" in parts:
            permits = make_permits(args.seed, args.permits, args.reading_hours)
            say(f"{len(permits)} permit-years, readings every {args.reading_hours:g} h, checks every"
                f" {args.check_hours:g} h")
            t0 = time.perf_counter()
            rows, counted = run_permits(permits, args.check_hours, Path(tmp))
            out["over_permit"] = score_permits(permits, rows, counted, args.check_hours, args.reading_hours)
            out["over_permit"]["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(out | {"python": platform.python_version(), "machine": platform.machine(),
                            "seconds": round(time.perf_counter() - began, 1)}))

if __name__ == "__main__":
    main()

"""A rates report: per station, rolled up county → city → province, with its problem lists.

Region figures are computed from the station counts, never averaged from rates: completeness =
stations reporting normally ÷ stations in service; upload rate = Σ received ÷ Σ expected;
timeliness = Σ on time ÷ Σ received; abnormal rate = abnormal stations ÷ stations in service
(a station is "connected" for the period when it was expected to report at all). A rate whose
denominator is zero (an empty region or period) is ``None``: not 0 %, not 100 %.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from watertel.cloud.permits.report import over_permit_problems
from watertel.cloud.permits.tiers import PermitRules
from watertel.cloud.permits.withdrawal import PermitStatus, load_status
from watertel.cloud.quality.config import RatesConfig
from watertel.cloud.quality.period import Period
from watertel.cloud.quality.rates import EPS, StationRates, compute, read_end, service_intervals
from watertel.cloud.quality.rollups import last_samples, period_rates
from watertel.cloud.registry import Registry, Station, to_ms
from watertel.cloud.store import SqlStore, now_ms
from watertel.errors import OperatorError


@dataclass
class RegionRates:
    """Counts and rates of one region (``level`` "all" for the whole selection)."""

    region: str
    name: str
    level: str
    path: str
    stations: int = 0
    normal: int = 0
    abnormal: int = 0
    expected: int = 0
    received: int = 0
    on_time: int = 0

    def add(self, s: StationRates) -> None:
        if not s.in_service:
            return
        self.stations += 1
        self.normal += s.reporting_normally
        self.abnormal += s.abnormal
        self.expected, self.received, self.on_time = self.expected + s.expected, self.received + s.received, \
            self.on_time + s.on_time

    @property
    def completeness(self) -> float | None:
        return self.normal / self.stations if self.stations else None

    @property
    def upload_rate(self) -> float | None:
        return self.received / self.expected if self.expected else None

    @property
    def timeliness(self) -> float | None:
        return self.on_time / self.received if self.received else None

    @property
    def abnormal_rate(self) -> float | None:
        return self.abnormal / self.stations if self.stations else None

    def failing(self, t: RatesConfig) -> list[str]:
        """The rates that miss their target (a rate that cannot be computed misses nothing)."""
        low = [(name, rate, target) for name, rate, target in (
            ("completeness", self.completeness, t.targets.completeness),
            ("upload_rate", self.upload_rate, t.targets.upload_rate),
            ("timeliness", self.timeliness, t.targets.timeliness)) if rate is not None and rate < target - EPS]
        high = self.abnormal_rate is not None and self.abnormal_rate > t.targets.abnormal_rate_max + EPS
        return [name for name, _, _ in low] + (["abnormal_rate"] if high else [])


@dataclass
class RatesReport:
    period: Period
    region: str | None
    cfg: RatesConfig
    generated_ms: int
    stations: list[StationRates]
    regions: list[RegionRates]  # the whole selection first, then each region (province, its cities, …)
    problems: dict[str, list[dict]] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)  # region id → province/city/county

    @property
    def overall(self) -> RegionRates:
        return self.regions[0]


def roll_up(registry: Registry, rates: list[StationRates], region: str | None) -> list[RegionRates]:
    """The selection's total, then every region in it, each from its stations' counts."""
    name = registry.names.get(region, "") if region else "all"
    totals = [RegionRates(region or "", name, registry.levels[region] if region else "all",
                          registry.path(region) if region else "")]
    ids = [r for r in registry.regions() if region is None or region in registry.ancestry(r)]
    by_id = {r: RegionRates(r, registry.names[r], registry.levels[r], registry.path(r)) for r in ids}
    for s in rates:
        totals[0].add(s)
        for r in registry.ancestry(s.region):
            if r in by_id:
                by_id[r].add(s)
    return totals + [by_id[r] for r in ids if r != region]


def under_target(registry: Registry, rates: list[StationRates], cfg: RatesConfig) -> list[dict]:
    """In-service stations that miss a station-level target, with which ones."""
    out = []
    for s in rates:
        reasons = [name for name, rate, target in (("upload_rate", s.upload_rate, cfg.targets.upload_rate),
                                                   ("timeliness", s.timeliness, cfg.targets.timeliness))
                   if rate is not None and rate < target - EPS]
        reasons += ([] if s.reporting_normally else ["not_reporting_normally"]) + (["abnormal"] if s.abnormal else [])
        if s.in_service and reasons:
            out.append({"station": s.station, "name": s.name, "region": registry.path(s.region), "reasons": reasons,
                        "upload_rate": s.upload_rate, "timeliness": s.timeliness})
    return out


def stopped(stations: list[Station], last: dict[str, int], period: Period, cfg: RatesConfig, now: int) -> list[dict]:
    """Stations in service at the end of the period (or now) with no sample for N intervals.

    ``since`` is the first slot that should have brought data and did not: the last sample plus
    one interval, or the start of service for a station that never reported.
    """
    ref = min(period.end_ms, now)
    out = []
    for st in stations:
        spans = service_intervals(st, period)
        if ref <= period.start_ms or not any(a < ref <= b for a, b in spans):
            continue  # not in service then (not yet, decommissioned, in maintenance)
        seen = last.get(st.id)
        if seen is not None and ref - seen <= cfg.stopped_after_intervals * st.interval_ms:
            continue
        since = seen + st.interval_ms if seen is not None else to_ms(st.commissioned, period.tz)
        out.append({"station": st.id, "name": st.name, "region": st.region, "last_sample": _iso(seen, period),
                    "since": _iso(since, period), "hours": round((ref - since) / 3_600_000, 2)})
    return out


def abnormal_days(registry: Registry, rates: list[StationRates]) -> list[dict]:
    """Stations with at least one abnormal day, the days and why (missing or flagged data)."""
    return [{"station": s.station, "name": s.name, "region": registry.path(s.region),
             "abnormal_days": len(s.abnormal_days), "service_days": s.service_days, "abnormal": s.abnormal,
             "missing": [d.isoformat() for d in s.missing_days], "flagged": [d.isoformat() for d in s.flagged_days]}
            for s in rates if s.abnormal_days]


def _iso(t_ms: int | None, period: Period) -> str | None:
    if t_ms is None:
        return None
    return dt.datetime.fromtimestamp(t_ms / 1000, period.tz).isoformat(timespec="seconds")


def build_report(store: SqlStore, registry: Registry, period: Period, cfg: RatesConfig,
                 region: str | None = None, now: int | None = None, alarms: PermitRules | None = None,
                 from_raw: bool = False) -> RatesReport:
    """Compute a report from the store: rates, roll-up and problem lists.

    The counts come from the day rollups (cloud/quality/rollups.py), brought up to date first;
    ``from_raw`` recomputes them from the raw readings instead (the same figures while the raw
    readings are kept: a check). A rollup made under earlier settings whose raw readings are gone
    is used as it is and listed under the ``stale_rollups`` problems.
    ``alarms``: the tiers of the ``over_permit`` list (the ``alarms:`` section; defaults when omitted), which holds the
    permits with a meter in the selection, their withdrawal at the period end (or now).
    """
    stations = registry.stations_in(_known(registry, region))
    now = now_ms() if now is None else now
    stale: list[dict] = []
    if from_raw:
        rows = store.rate_rows(period.start_ms, read_end(stations, period), [s.id for s in stations])
        rates = compute(stations, rows, period, cfg)
        last = store.last_samples(min(period.end_ms, now))
    else:
        rates, stale = period_rates(store, registry.stations, stations, period, cfg)
        last = last_samples(store, stations, min(period.end_ms, now))
    ids = {s.id for s in stations}
    permits = [load_status(store, p, min(period.end_ms, now), period.tz, profile=False) for p in registry.permits
               if any(m.station in ids for m in p.meters)]
    report = assemble(registry, stations, [], last, period, cfg, region, now, permits, alarms, rates=rates)
    if stale:
        report.problems["stale_rollups"] = [{**x, "region": registry.path(x["region"]),
                                             "detail": "counted under earlier registry or rates settings;"
                                                       " raw readings no longer stored"} for x in stale]
    return report


def _known(registry: Registry, region: str | None) -> str | None:
    if region is not None and region not in registry.names:
        raise OperatorError(f"region {region!r} is not in the registry (known: {', '.join(registry.regions())})")
    return region


def assemble(registry: Registry, stations: list[Station], rows: Iterable[list[tuple]], last: dict[str, int],
             period: Period, cfg: RatesConfig, region: str | None, now: int,
             permits: list[PermitStatus] | None = None, alarms: PermitRules | None = None,
             rates: list[StationRates] | None = None) -> RatesReport:
    """A report from row batches (station, point, t_ms, received_ms, quality), wherever they come from.

    ``last`` is each station's latest sample time before the end of the period (or now): when a
    station stopped reporting. The store and the offline CSV command both feed this.
    ``permits``: the permits' withdrawal at the period end, for the ``over_permit`` list (none offline).
    ``rates``: the stations' rates already computed (from the rollups); ``rows`` are not read then.
    """
    rates = compute(stations, rows, period, cfg) if rates is None else rates
    report = RatesReport(period, region, cfg, now, rates, roll_up(registry, rates, region),
                         paths={r: registry.path(r) for r in registry.regions()})
    report.problems = {
        "under_target": under_target(registry, rates, cfg),
        "stopped": stopped(stations, last, period, cfg, now),
        "abnormal_days": abnormal_days(registry, rates),
        "over_permit": over_permit_problems(permits or [], alarms,
                                            {s.id: registry.path(s.region) for s in registry.stations}),
    }
    for item in report.problems["stopped"]:
        item["region"] = registry.path(item["region"])
    return report

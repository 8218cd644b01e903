"""The demo's region: a province, two cities, four counties, nineteen stations, three permits,
a metered area, the users and who is told of alarms, as the cloud's files hold them.

Everything is placed in time relative to the moment the demo starts (``Timeline``): a week of
history for most stations, half a year for the three daily meters that count towards permits,
so the rates, trends, permits and reports have content when the console first opens. The
devices behind each station and what happened to them that week are in demo_devices.py.

Names are real places in Zhejiang (杭州市余杭区、临安区, 湖州市德清县、安吉县); companies are made up.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from watertel.cloud.api.auth import hash_password

TZ = ZoneInfo("Asia/Shanghai")
PLACES = {"id": "zj", "name": "浙江省", "cities": [
    {"id": "zj-hz", "name": "杭州市", "counties": [{"id": "zj-hz-yh", "name": "余杭区"}, {"id": "zj-hz-la", "name": "临安区"}]},
    {"id": "zj-huz", "name": "湖州市", "counties": [{"id": "zj-huz-dq", "name": "德清县"}, {"id": "zj-huz-aj", "name": "安吉县"}]},
]}


@dataclass(frozen=True)
class Timeline:
    """The demo's moments, from the time it starts (``now``, epoch seconds)."""

    now: float
    week_days: int = 7

    @property
    def today(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.now, TZ).date()

    @property
    def week_start(self) -> dt.date:
        """Local midnight that begins the week of history (and commissions its stations)."""
        return self.today - dt.timedelta(days=self.week_days)

    @property
    def permit_year(self) -> dt.date:
        """The permit year's first day: the first of the month five months back, so the daily
        meters have months of withdrawal and the projection its 30-day run rate."""
        month = self.today.month - 5
        return dt.date(self.today.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)

    @property
    def long_start(self) -> dt.date:
        """When the daily permit meters start: two days before the permit year (its starting value)."""
        return self.permit_year - dt.timedelta(days=2)

    def at(self, day: dt.date | int, hhmm: str = "00:00") -> float:
        """Epoch seconds of local ``hhmm`` on ``day`` (a date, or days before today as a negative int)."""
        if isinstance(day, int):
            day = self.today + dt.timedelta(days=day)
        return dt.datetime.combine(day, dt.time.fromisoformat(hhmm), TZ).timestamp()


@dataclass(frozen=True)
class Station:
    id: str
    name: str
    kind: str
    county: str
    lat: float
    lon: float
    minutes: int
    points: tuple[str, ...]
    gateway: str
    long: bool = False  # history since the permit year (the daily meters), not a week


STATIONS = (
    Station("YH-PH1", "瓶窑水厂出厂流量", "plant", "zj-hz-yh", 30.3983, 119.9594, 5, ("flow", "total"), "gw-1"),
    Station("YH-PS1", "瓶窑水厂1号取水泵", "pump", "zj-hz-yh", 30.4031, 119.9512, 5,
            ("running", "frequency", "power", "energy"), "gw-1"),
    Station("YH-WQ1", "良渚管网水质监测站", "quality", "zj-hz-yh", 30.3712, 120.0363, 5,
            ("free_chlorine", "turbidity", "ph"), "gw-2"),
    Station("YH-WQ1-P", "良渚水质站管网压力", "pressure", "zj-hz-yh", 30.3715, 120.0367, 5, ("pressure",), "gw-2"),
    Station("YH-NET1", "瓶窑镇管网末梢压力", "pressure", "zj-hz-yh", 30.3905, 119.9872, 5, ("pressure",), "gw-2"),
    Station("YH-DMA1-IN", "仓前片区计量区进水口", "network", "zj-hz-yh", 30.2935, 119.9886, 15, ("flow", "total"), "gw-yh-dma1"),
    Station("YH-DMA1-C1", "梦想小镇人才公寓总表", "network", "zj-hz-yh", 30.2911, 119.9961, 15, ("flow", "total"), "gw-yh-dma1"),
    Station("YH-DMA1-C2", "仓前工业园区总表", "network", "zj-hz-yh", 30.2878, 119.9804, 15, ("flow", "total"), "gw-yh-dma1"),
    Station("YH-DMA1-C3", "杭师大仓前校区总表", "network", "zj-hz-yh", 30.2986, 119.9982, 15, ("flow", "total"), "gw-yh-dma1"),
    Station("LA-IN1", "青山水库取水口", "intake", "zj-hz-la", 30.2546, 119.7941, 60, ("flow", "total"), "gw-la-1"),
    Station("LA-WQ1", "青山水厂出厂水质", "quality", "zj-hz-la", 30.2479, 119.7872, 15,
            ("free_chlorine", "turbidity", "ph"), "gw-la-1"),
    Station("LA-W1", "於潜镇1号水源井", "well", "zj-hz-la", 30.2037, 119.4061, 60, ("flow", "total", "water_column"), "gw-la-2"),
    Station("LA-NET1", "青山湖街道管网压力", "pressure", "zj-hz-la", 30.2601, 119.8105, 15, ("pressure",), "gw-la-3"),
    Station("DQ-PS1", "德清县第二水厂取水泵站", "intake", "zj-huz-dq", 30.5362, 120.0041, 60, ("flow", "total"), "gw-dq-1"),
    Station("DQ-IN1", "德清绿源啤酒取水口", "intake", "zj-huz-dq", 30.5487, 119.9733, 1440, ("total",), "gw-dq-2", long=True),
    Station("DQ-NET1", "新市镇管网压力监测点", "pressure", "zj-huz-dq", 30.6121, 120.2955, 15, ("pressure",), "gw-dq-3"),
    Station("AJ-PS1", "安吉县第一水厂出厂流量", "plant", "zj-huz-aj", 30.6318, 119.6812, 60, ("flow", "total"), "gw-aj-1"),
    Station("AJ-IN1", "安吉竹韵纸业取水口", "intake", "zj-huz-aj", 30.6496, 119.7003, 1440, ("total",), "gw-aj-2", long=True),
    Station("AJ-W1", "孝丰镇农灌机井", "well", "zj-huz-aj", 30.5752, 119.5603, 1440, ("energy",), "gw-aj-3", long=True),
)
LIVE_GATEWAYS = ("gw-1", "gw-2")  # edge agents polling simulated Modbus devices; the others are played (history.py)
AREA = {"id": "YH-DMA1", "inlets": ["YH-DMA1-IN"], "consumers": ["YH-DMA1-C1", "YH-DMA1-C2", "YH-DMA1-C3"]}


@dataclass(frozen=True)
class PermitPlan:
    """A permit and its holder's pace: the daily meter draws ``pace`` of the annual plan's daily
    rate (the brewery more since its second bottling line started, demo_devices.py)."""

    id: str
    holder: str
    station: str
    permitted_m3: float
    plan_m3: float
    pace: float
    point: str = "total"
    coefficient: float | None = None  # m³/kWh: 以电折水


PERMITS = (
    # on plan for months, then a second bottling line: last month over plan, projected over the permit
    PermitPlan("D330521S2021-0007", "浙江德清绿源啤酒有限公司", "DQ-IN1", 150_000, 130_000, 0.92),
    PermitPlan("D330523S2020-0031", "安吉竹韵纸业有限公司", "AJ-IN1", 420_000, 400_000, 0.85),
    # the well's pump: 2 h a day at ~11 kW, 2.4 m³/kWh (its pace follows from the pump, not from here)
    PermitPlan("D330523G2023-0102", "孝丰镇横溪坞村经济合作社", "AJ-W1", 30_000, 26_000, 0.75, point="energy", coefficient=2.4),
)
# the plans' months, in permit-year order: near flat (the simulated demand has no seasons), a
# little less in the first two and the last two months
MONTHLY_SHAPE = (0.08, 0.08, 0.085, 0.085, 0.085, 0.085, 0.085, 0.085, 0.085, 0.085, 0.08, 0.08)


def station(sid: str) -> Station:
    return next(s for s in STATIONS if s.id == sid)


def registry(tl: Timeline) -> dict:
    """The registry file's content (cloud/registry.py): places, stations, one maintenance window, permits."""
    stations = []
    for s in STATIONS:
        entry = {"id": s.id, "name": s.name, "region": s.county, "kind": s.kind, "interval_minutes": s.minutes,
                 "points": list(s.points), "commissioned": (tl.long_start if s.long else tl.week_start).isoformat(),
                 "location": {"lat": s.lat, "lon": s.lon}}
        if s.id == "DQ-PS1":
            day = (tl.today - dt.timedelta(days=3)).isoformat()
            entry["maintenance"] = [{"start": f"{day}T09:00", "end": f"{day}T15:00", "note": "流量计现场检定 (meter calibration)"}]
        stations.append(entry)
    return {"provinces": [PLACES], "stations": stations, "permits": [_permit(p, tl) for p in PERMITS]}


def _permit(p: PermitPlan, tl: Timeline) -> dict:
    monthly = [round(p.plan_m3 * share) for share in MONTHLY_SHAPE]
    monthly[-1] += round(p.plan_m3) - sum(monthly)
    meter = {"station": p.station, "point": p.point, **({"coefficient": p.coefficient} if p.coefficient else {})}
    return {"id": p.id, "holder": p.holder, "permitted_m3": p.permitted_m3, "year_start": f"{tl.permit_year:%m-%d}",
            "meters": [meter], "plan": {"annual": p.plan_m3, "monthly": monthly}}


def alarms() -> dict:
    """The ``alarms:`` section as a utility sets it: quality held 15 min with a margin, data stopped
    after two hours for stations behind DTUs that upload hourly, the metered area's balance, plans
    warned once a month's plan is used up (the 80 % default would warn every holder on plan at
    the end of every month)."""
    hourly_uploads = [s.id for s in STATIONS if s.gateway not in LIVE_GATEWAYS and s.minutes < 60]
    return {
        "check_every_s": 60, "permits_every_s": 900,
        "water_quality": {"min_duration_s": 900, "hysteresis": 0.05},
        "data_stopped": {"intervals": 3},
        "mass_balance": {"window_minutes": 60, "sustain_minutes": 60, "max_loss_share": 0.08, "clear_share": 0.04},
        "night_flow": {"min_nights": 4},
        "over_permit": {"plan_tiers": [{"share": 1.0, "severity": "yellow"}, {"share": 1.1, "severity": "orange"},
                                       {"share": 1.25, "severity": "red"}]},
        "areas": [AREA],
        "overrides": {sid: {"data_stopped": {"intervals": 120 // station(sid).minutes}} for sid in hourly_uploads},
    }


def lifecycle() -> dict:
    """Escalation and flapping as a duty desk runs them (yellow waits four hours, blue never)."""
    return {"ack_within_min": {"red": 30, "orange": 60, "yellow": 240, "blue": None},
            "flapping": {"max_raises": 3, "window_min": 60},
            "work_orders": {"auto_for": ["data_stopped"], "due_hours": {"data_stopped": 72}}}


USERS = (("admin", "admin", []), ("operator", "operator", []), ("crew", "crew", ["zj-hz"]), ("viewer", "viewer", ["zj-huz"]))


def users(passwords: dict[str, str]) -> list[dict]:
    """The users file's entries (only password hashes are stored; the passwords are printed at start)."""
    return [{"username": name, "password_hash": hash_password(passwords[name]), "role": role,
             **({"regions": regions} if regions else {})} for name, role, regions in USERS]


def notifications(inbox_url: str, console_url: str) -> dict:
    """The notifications file: the duty desks of both cities, the Hangzhou crew, the manager on
    escalation; every contact is the demo's webhook inbox (logs/notifications.jsonl)."""
    return {"notifications": {
        "every_s": 10, "console_url": console_url, "language": "zh",
        "webhooks": [{"id": "demo-inbox", "url": inbox_url}],
        "contacts": [{"id": "duty-hz", "webhook": "demo-inbox"}, {"id": "duty-huz", "webhook": "demo-inbox"},
                     {"id": "crew-hz", "webhook": "demo-inbox", "role": "crew"},
                     {"id": "manager", "webhook": "demo-inbox", "role": "admin"}],
        "routes": [{"regions": ["zj-hz"], "severities": ["red", "orange", "yellow"], "level": 0, "contacts": ["duty-hz"]},
                   {"regions": ["zj-huz"], "severities": ["red", "orange", "yellow"], "level": 0, "contacts": ["duty-huz"]},
                   {"regions": ["zj-hz"], "severities": ["red", "orange"], "level": 0, "roles": ["crew"],
                    "quiet_hours": "22:00-07:00"},
                   {"severities": ["red", "orange"], "level": 1, "roles": ["admin"]}],
    }}


def gateways(key_dir: str = "keys") -> list[dict]:
    """The gateways file's entries: every gateway with its key and stations."""
    ids = sorted({s.gateway for s in STATIONS}, key=lambda g: (g not in LIVE_GATEWAYS, g))
    return [{"id": gw, "key_id": f"{gw}-k1", "public_key": f"{key_dir}/{gw}.pub.pem",
             "stations": [s.id for s in STATIONS if s.gateway == gw]} for gw in ids]

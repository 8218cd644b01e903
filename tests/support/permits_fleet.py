"""A site for the permits and fleet pages and API: three stations in two cities, a permit 85 %
used and one barely used, daily totaliser readings, and the status files of four gateways."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from watertel.cloud.gateway_status import GatewayStatus
from watertel.cloud.quality.config import RatesConfig
from watertel.cloud.registry import Registry, RegistryFile, to_ms

from tests.support.permits import put

DAY, HOUR, MIN = 86_400_000, 3_600_000, 60_000
TZ = RatesConfig().tz
DAYS = 40  # the permit year started this many days ago
PER_DAY = 100.0  # m³ a day through ST-XH's meter
MONTHLY = [300.0, 400.0] + [300.0] * 10  # the running plan month is the second (index 1)
CONFIG_SM3 = "5f" * 32


def year_start(today: dt.date) -> dt.date:
    """A permit-year start about DAYS days ago (a day 1-28, as permits need)."""
    first = today - dt.timedelta(days=DAYS)
    return first.replace(day=min(first.day, 28))


def site(today: dt.date | None = None) -> tuple[Registry, dict]:
    """Three stations in two cities, a permit for ST-XH (Hangzhou) 85 % used, one for ST-NB
    (Ningbo) barely used; and what the ST-XH permit should show."""
    today = today or dt.datetime.now(TZ).date()
    first = year_start(today)
    days = (today - first).days  # daily readings from the first day's 01:00 to today's (if past)
    steps = days if to_ms(today, TZ) + HOUR < time.time() * 1000 else days - 1
    volume = steps * PER_DAY
    start = f"{first.month:02d}-{first.day:02d}"
    registry = Registry(RegistryFile.model_validate({
        "provinces": [{"id": "zj", "name": "浙江省", "cities": [
            {"id": "zj-hz", "name": "杭州市", "counties": [{"id": "zj-hz-xh", "name": "西湖区"},
                                                       {"id": "zj-hz-bj", "name": "滨江区"}]},
            {"id": "zj-nb", "name": "宁波市", "counties": [{"id": "zj-nb-hs", "name": "海曙区"}]}]}],
        "stations": [{"id": s, "name": n, "kind": "well", "region": r, "interval_minutes": 60, "commissioned": "2024-01-01"}
                     for s, n, r in (("ST-XH", "西湖水源井", "zj-hz-xh"), ("ST-BJ", "滨江泵站", "zj-hz-bj"),
                                     ("ST-NB", "海曙水源井", "zj-nb-hs"))],
        "permits": [
            {"id": "P-XH", "holder": "西湖食品厂", "permitted_m3": volume / 0.85, "year_start": start,
             "meters": ["ST-XH"], "plan": {"annual": sum(MONTHLY), "monthly": MONTHLY}},
            {"id": "P-NB", "holder": "海曙纸业", "permitted_m3": 100_000, "year_start": start, "meters": ["ST-NB"]}],
    }))
    expected = {"first": first, "volume": volume, "month_volume": None}
    month_first = first.replace(month=first.month % 12 + 1, year=first.year + (first.month == 12))
    expected["month_volume"] = sum(PER_DAY for i in range(1, steps + 1) if first + dt.timedelta(days=i) >= month_first)
    return registry, expected


def fill(store, first: dt.date) -> None:
    """ST-XH's totaliser read daily at 01:00 from the permit year's first day, PER_DAY apart;
    ST-NB's twice, 10 m³ apart."""
    now = time.time() * 1000
    t0 = to_ms(first, TZ) + HOUR
    put(store, *(("ST-XH", "total", t0 + i * DAY, 5000.0 + i * PER_DAY) for i in range(DAYS + 2) if t0 + i * DAY < now))
    put(store, ("ST-NB", "total", t0, 70.0), ("ST-NB", "total", t0 + DAY, 80.0))


def fleet_files(folder: Path) -> dict[str, list[str]]:
    """Status files of four gateways as the ingest writes them; the fleet's gateway → stations."""
    fleet, now = GatewayStatus(folder), int(time.time() * 1000)
    status = {"state": "online", "version": "0.1.0", "config_sm3": CONFIG_SM3,
              "buffer": {"unsealed": 12, "batches_pending": 3, "bytes": 40960}}
    fleet.record("gw-xh", {"gateway_id": "gw-xh", **status, "t_ms": now + 1500}, now)  # clock 1.5 s ahead
    fleet.record("gw-nb", {"gateway_id": "gw-nb", **status, "clock": {"offset_ms": -250, "synchronised": True},
                           "t_ms": now - 20 * MIN}, now - 20 * MIN)  # silent for 20 minutes: stale
    fleet.record("gw-both", {"gateway_id": "gw-both", **status, "t_ms": now - MIN}, now - MIN)
    fleet.record("gw-both", {"gateway_id": "gw-both", "state": "offline"}, now - MIN + 5)  # its will
    return {"gw-xh": ["ST-XH"], "gw-nb": ["ST-NB"], "gw-both": ["ST-BJ", "ST-NB"], "gw-new": ["ST-XH"]}

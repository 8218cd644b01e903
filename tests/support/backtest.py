"""A crafted month (November 2026) of readings for `watertel alarms backtest`: a turbidity spike
and excursion, a silent and a zero-flow pump, an intake nearing its permit."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

SH = ZoneInfo("Asia/Shanghai")
STATIONS = """\
station,region,kind,interval_minutes,permit_m3,permit_year_start,area,area_role
WQ-1,zj/hz/xh,quality,60,,,,
PUMP-1,zj/hz/xh,well,60,,,,
INTAKE-1,zj/hz/xh,intake,60,50000,01-01,,
"""
RULES = "alarms:\n  check_every_s: 300\n"  # a cloud config's section; checks every 5 min of sample time


def at(day: int, hour: int) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, tzinfo=SH)


def hours() -> list[dt.datetime]:
    """Every hour of November 2026, local time."""
    return [at(1, 0) + dt.timedelta(hours=h) for h in range(30 * 24)]


def month_rows() -> list[dict]:
    """WQ-1: hourly turbidity 0.3 with a one-hour spike on the 3rd and a 4 h excursion on the 10th
    back through the band (0.98) to 0.5. PUMP-1: 100 m3/h, silent all of the 15th, zero flow for 12 h
    on the 20th. INTAKE-1: 100 m3/h against a 50,000 m3 permit (80 % on the 17th, 100 % on the 21st)."""
    rows, pump_total, intake_total = [], 5000.0, 12000.0
    turbidity = {at(3, 10): 3.0, at(10, 8): 1.5, at(10, 9): 1.6, at(10, 10): 1.4, at(10, 11): 1.5, at(10, 12): 0.98}
    for t in hours():
        iso = t.isoformat()
        rows.append({"station": "WQ-1", "point": "turbidity", "sample_time": iso,
                     "value": turbidity.get(t, 0.3), "quality": "ok"})
        if t.day != 15:
            flow = 0.0 if t.day == 20 and t.hour < 12 else 100.0
            pump_total += flow
            rows += [{"station": "PUMP-1", "point": "flow", "sample_time": iso, "value": flow, "quality": ""},
                     {"station": "PUMP-1", "point": "total", "sample_time": iso, "value": pump_total, "quality": "ok"}]
        else:
            pump_total += 2400 / 24
        intake_total += 100.0
        rows += [{"station": "INTAKE-1", "point": "flow", "sample_time": iso, "value": 100.0, "quality": "ok"},
                 {"station": "INTAKE-1", "point": "total", "sample_time": iso, "value": intake_total, "quality": "ok"}]
    rows.reverse()  # any order: the replay sorts by sample time
    return rows


def write_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_month(folder: Path) -> tuple[Path, Path, Path]:
    """The month's readings, the station table and the rules, as the command reads them."""
    (folder / "stations.csv").write_text(STATIONS, encoding="utf-8")
    (folder / "cloud.yaml").write_text(RULES, encoding="utf-8")
    return write_csv(folder / "readings.csv", month_rows()), folder / "stations.csv", folder / "cloud.yaml"

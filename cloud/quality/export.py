"""A rates report as JSON, CSV or XLSX: the same three tables in each (regions, stations, problems).

Rates are fractions 0–1 (``null``/empty when their denominator is zero), always next to the
counts behind them so a regulator can check the arithmetic. CSV holds the three tables one after
another, each under a ``# name`` line and separated by an empty line; XLSX has one sheet each.
JSON keeps the exact fractions; CSV, read by people in a spreadsheet, rounds them to four
decimals (0.8333, i.e. 83.33 %: finer than the targets are judged) instead of printing
0.8333333333333334.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from watertel.cloud.quality.rates import StationRates
from watertel.cloud.quality.report import RatesReport, RegionRates
from watertel.cloud.quality.xlsx import workbook

RATES = ("completeness", "upload_rate", "timeliness", "abnormal_rate")
REGION_COLUMNS = ("level", "region", "name", "path", "stations", "reporting_normally", "abnormal_stations",
                  "expected", "received", "on_time", *RATES, "below_target")
STATION_COLUMNS = ("station", "name", "region", "interval_minutes", "expected", "received", "on_time", "late",
                   "future", "flagged", "service_days", "silent_days", "abnormal_days", "upload_rate", "timeliness",
                   "reporting_normally", "abnormal")
PROBLEM_COLUMNS = ("problem", "station", "name", "region", "since", "detail")


def region_row(r: RegionRates, report: RatesReport) -> dict[str, Any]:
    return {"level": r.level, "region": r.region, "name": r.name, "path": r.path, "stations": r.stations,
            "reporting_normally": r.normal, "abnormal_stations": r.abnormal, "expected": r.expected,
            "received": r.received, "on_time": r.on_time, **{k: getattr(r, k) for k in RATES},
            "below_target": " ".join(r.failing(report.cfg))}


def station_row(s: StationRates, report: RatesReport) -> dict[str, Any]:
    return {"station": s.station, "name": s.name, "region": report.paths.get(s.region, s.region), "interval_minutes": s.interval_minutes,
            "expected": s.expected, "received": s.received, "on_time": s.on_time, "late": s.late,
            "future": s.future, "flagged": s.flagged, "service_days": s.service_days,
            "silent_days": len(s.silent_days), "abnormal_days": len(s.abnormal_days), "upload_rate": s.upload_rate,
            "timeliness": s.timeliness, "reporting_normally": s.reporting_normally, "abnormal": s.abnormal}


def problem_rows(report: RatesReport) -> list[dict[str, Any]]:
    """The problem lists flattened to one table (``detail`` says why, in a few words); an
    ``over_permit`` row names the permit in ``station`` and its holder in ``name``."""
    p = report.problems
    rows = [{"problem": "under_target", "station": x["station"], "name": x["name"], "region": x["region"],
             "since": None, "detail": " ".join(x["reasons"])} for x in p["under_target"]]
    rows += [{"problem": "stopped", "station": x["station"], "name": x["name"], "region": x["region"],
              "since": x["since"], "detail": f"last sample {x['last_sample'] or 'never'}, {x['hours']} h without data"}
             for x in p["stopped"]]
    rows += [{"problem": "abnormal_days", "station": x["station"], "name": x["name"], "region": x["region"],
              "since": None, "detail": f"{x['abnormal_days']} of {x['service_days']} days;"
                                       f" missing: {' '.join(x['missing']) or '-'}; flagged: {' '.join(x['flagged']) or '-'}"}
             for x in p["abnormal_days"]]
    rows += [{"problem": "over_permit", "station": x["permit"], "name": x["holder"], "region": x["region"],
              "since": x["since"], "detail": _over_permit_detail(x)} for x in p.get("over_permit", [])]
    return rows


def _over_permit_detail(x: dict[str, Any]) -> str:
    pr = x["projection"]
    if pr["date"] and pr["method"] != "exceeded":
        ahead = f"; projected to reach the permit on {pr['date']} ({pr['method']})"
    else:
        ahead = f"; reached on {pr['date']}" if pr["date"] else ""
    return (f"{x['volume_m3']:g} of {x['permitted_m3']:g} m3 ({x['share']:.1%}) in the permit year from"
            f" {x['year_first_day']}, tier {x['tier']:.0%} ({x['severity']}){ahead};"
            f" meters {' '.join(x['meters'])}")


def tables(report: RatesReport) -> dict[str, list[dict[str, Any]]]:
    return {"regions": [region_row(r, report) for r in report.regions],
            "stations": [station_row(s, report) for s in report.stations],
            "problems": problem_rows(report)}


def to_json(report: RatesReport) -> dict[str, Any]:
    """One JSON object: period, settings, ``overall``, ``regions``, ``stations``, ``problems``."""
    t = tables(report)
    stations = [{**row, "abnormal_dates": [d.isoformat() for d in s.abnormal_days]}
                for row, s in zip(t["stations"], report.stations)]
    pd = report.period
    return {"period": {"label": pd.label, "first_day": pd.first.isoformat(), "last_day": pd.last.isoformat(),
                       "timezone": report.cfg.timezone, "start_ms": pd.start_ms, "end_ms": pd.end_ms},
            "region": report.region, "generated_ms": report.generated_ms,
            "settings": report.cfg.model_dump(), "overall": t["regions"][0], "regions": t["regions"][1:],
            "stations": stations, "problems": report.problems}


CSV_DECIMALS = 4


def csv_cell(value: Any) -> Any:
    """A value as the CSV shows it: floats (the rates) rounded, the rest as they are."""
    return round(value, CSV_DECIMALS) if isinstance(value, float) else value


def to_csv(report: RatesReport) -> str:
    out = io.StringIO()
    columns = {"regions": REGION_COLUMNS, "stations": STATION_COLUMNS, "problems": PROBLEM_COLUMNS}
    for i, (name, rows) in enumerate(tables(report).items()):
        out.write(("\n" if i else "") + f"# {name}\n")
        writer = csv.DictWriter(out, fieldnames=columns[name], lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
    return out.getvalue()


def to_xlsx(report: RatesReport) -> bytes:
    columns = {"Regions": REGION_COLUMNS, "Stations": STATION_COLUMNS, "Problems": PROBLEM_COLUMNS}
    sheets = {title: [list(columns[title]), *([row[c] for c in columns[title]] for row in rows)]
              for title, rows in zip(columns, tables(report).values())}
    return workbook(sheets, percent=set(RATES))


def render(report: RatesReport, fmt: str) -> bytes:
    """The report in ``fmt`` (json, csv, xlsx) as bytes (UTF-8 for the text formats)."""
    if fmt == "json":
        return (json.dumps(to_json(report), ensure_ascii=False, indent=1) + "\n").encode()
    if fmt == "csv":
        return to_csv(report).encode()
    if fmt == "xlsx":
        return to_xlsx(report)
    raise ValueError(f"unknown format {fmt!r} (use json, csv or xlsx)")

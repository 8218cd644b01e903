"""What `watertel report summary|rates|permits` and `watertel rates` do (declared in ``cli``).

Each loads the cloud config and hands over to the package that computes the report: quality
(the rates, cloud/quality/report.py; offline from CSV files, cloud/quality/offline.py), permits
(cloud/permits/report.py), the store (station_summary.py). They live at the top of the cloud
because cloud/config.py assembles every section's settings: a package that loaded the whole
config would import itself through it.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from watertel.cloud.config import load_cloud_config
from watertel.cloud.permits.report import render as render_permits
from watertel.cloud.permits.report import year_rows
from watertel.cloud.quality.config import RatesConfig
from watertel.cloud.quality.export import render
from watertel.cloud.quality.offline import offline_report
from watertel.cloud.quality.period import parse_period
from watertel.cloud.quality.report import build_report
from watertel.cloud.registry import load_registry
from watertel.cloud.station_summary import station_summary
from watertel.cloud.store import now_ms, open_store
from watertel.config import ConfigError
from watertel.errors import OperatorError


def summary(args: argparse.Namespace) -> int:
    """`report summary`: per-station totals as JSON or CSV."""
    cfg = load_cloud_config(args.config)
    rows = station_summary(cfg.store, cfg.data_dir)
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["station"])
        writer.writeheader()
        writer.writerows(rows)
    return 0


def rates(args: argparse.Namespace) -> int:
    """`report rates`: load config and registry, compute, write; problems the operator can fix
    exit 1 with a message."""
    _binary_needs_out(args)
    cfg = load_cloud_config(args.config)
    if cfg.registry_file is None:
        raise ConfigError(args.config, [f"{args.config}: registry_file: not set (name the station registry YAML,"
                                        " which gives the stations' intervals and regions)"])
    period = parse_period(args.period, cfg.quality.tz)
    registry = load_registry(cfg.registry_file)
    store = open_store(cfg.store, cfg.data_dir)
    try:
        data = render(build_report(store, registry, period, cfg.quality, args.region, alarms=cfg.alarms,
                                   from_raw=args.from_raw), args.format)
    finally:
        store.close()
    _write(data, args.out, period.label)
    return 0


def rates_offline(args: argparse.Namespace) -> int:
    """`rates`: same computation and output as `report rates`, with the store replaced by the CSV files."""
    _binary_needs_out(args)
    cfg = load_cloud_config(args.config).quality if args.config else RatesConfig()
    for path in (args.arrivals, args.stations):
        if not Path(path).is_file():
            raise OperatorError(f"{path}: no such file")
    report = offline_report(Path(args.arrivals), Path(args.stations), args.period, cfg, args.region)
    _write(render(report, args.format), args.out, report.period.label)
    return 0


def permits(args: argparse.Namespace) -> int:
    """`report permits`: each permit's withdrawal in its permit year (cloud/permits/report.py)."""
    if args.format not in ("json", "csv"):
        raise OperatorError("watertel report permits writes json or csv")
    cfg = load_cloud_config(args.config)
    if cfg.registry_file is None:
        raise OperatorError(f"{args.config}: registry_file: not set (the permits are in the station registry)")
    registry, now = load_registry(cfg.registry_file), now_ms()
    paths = {s.id: registry.path(s.region) for s in registry.stations}
    store = open_store(cfg.store, cfg.data_dir)
    try:
        rows = year_rows(store, registry.permits, cfg.alarms, cfg.quality.tz, now, args.year,
                         lambda station: paths.get(station, ""))
    finally:
        store.close()
    sys.stdout.write(render_permits(rows, args.format))
    return 0


def _binary_needs_out(args: argparse.Namespace) -> None:
    if args.format == "xlsx" and not args.out and sys.stdout.isatty():
        raise OperatorError("an xlsx report is binary: give --out FILE.xlsx (or redirect standard output)")


def _write(data: bytes, out: str | None, label: str) -> None:
    if out:
        Path(out).write_bytes(data)
        print(f"rates for {label} written to {out} ({len(data)} bytes)", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()

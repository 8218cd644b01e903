"""`watertel report rates`: a rates report from the cloud store as CSV, JSON or XLSX.

``watertel/cli.py`` only registers it (``add_arguments``, ``run``); everything else is here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from watertel.config import ConfigError
from watertel.errors import OperatorError


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options `report rates` adds to the `report` parser (which has --config and --format)."""
    p.add_argument("--period", help="rates: YYYY-MM-DD, YYYY-MM, YYYY-Qn or FROM..TO (local calendar, TO included)")
    p.add_argument("--region", help="rates: only this province, city or county (its id in the registry)")
    p.add_argument("--out", help="rates: write to this file instead of standard output (needed for xlsx on a terminal)")
    p.add_argument("--from-raw", action="store_true",
                   help="rates: count from the raw readings instead of the day rollups (a check: same figures)")


def run(args: argparse.Namespace) -> int:
    """Load config and registry, compute, write; problems the operator can fix exit 1 with a message."""
    from cloud.config import load_cloud_config
    from cloud.quality.export import render
    from cloud.quality.period import parse_period
    from cloud.quality.report import build_report
    from cloud.registry import load_registry
    from cloud.store import open_store

    if not args.period:
        raise OperatorError("watertel report rates needs --period (e.g. 2026-10, 2026-Q4, 2026-10-05)")
    _binary_needs_out(args)
    cfg = load_cloud_config(args.config)
    if cfg.registry_file is None:
        raise ConfigError(args.config, [f"{args.config}: registry_file: not set (name the station registry YAML,"
                                        " which gives the stations' intervals and regions)"])
    period = parse_period(args.period, cfg.quality.tz)
    registry = load_registry(cfg.registry_file)
    store = open_store(cfg)
    try:
        data = render(build_report(store, registry, period, cfg.quality, args.region, alarms=cfg.alarms,
                                 from_raw=getattr(args, "from_raw", False)), args.format)
    finally:
        store.close()
    _write(data, args.out, period.label)
    return 0


def add_offline_arguments(p: argparse.ArgumentParser) -> None:
    """`watertel rates`: the CSV formats are documented in cloud/quality/offline.py."""
    p.add_argument("--arrivals", required=True, help="CSV: station,sample_time,received_time,flag[,point]")
    p.add_argument("--stations", required=True,
                   help="CSV: station,region (province/city/county),interval_minutes,commissioned,decommissioned")
    p.add_argument("--period", required=True, help="START/END as ISO dates, END excluded (or YYYY-MM, YYYY-Qn, …)")
    p.add_argument("--region", help="only this region path (e.g. zj/hz)")
    p.add_argument("--config", help="cloud YAML whose quality: section sets targets and rules (default: built-in)")
    p.add_argument("--format", choices=["json", "csv", "xlsx"], default="json")
    p.add_argument("--out", help="write to this file instead of standard output")


def run_offline(args: argparse.Namespace) -> int:
    """Same computation and output as `report rates`, with the store replaced by the CSV files."""
    from cloud.quality.config import RatesConfig
    from cloud.quality.export import render
    from cloud.quality.offline import offline_report

    _binary_needs_out(args)
    if args.config:
        from cloud.config import load_cloud_config

        cfg = load_cloud_config(args.config).quality
    else:
        cfg = RatesConfig()
    for path in (args.arrivals, args.stations):
        if not Path(path).is_file():
            raise OperatorError(f"{path}: no such file")
    report = offline_report(Path(args.arrivals), Path(args.stations), args.period, cfg, args.region)
    _write(render(report, args.format), args.out, report.period.label)
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

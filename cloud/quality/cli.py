"""`watertel report rates` (from the cloud store) and `watertel rates` (offline, from CSV files):
the same rates report as CSV, JSON or XLSX. Declared in ``watertel.cloud.cli``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from watertel.cloud.config import load_cloud_config
from watertel.cloud.quality.config import RatesConfig
from watertel.cloud.quality.export import render
from watertel.cloud.quality.offline import offline_report
from watertel.cloud.quality.period import parse_period
from watertel.cloud.quality.report import build_report
from watertel.cloud.registry import load_registry
from watertel.cloud.store import open_store
from watertel.config import ConfigError
from watertel.errors import OperatorError


def run(args: argparse.Namespace) -> int:
    """Load config and registry, compute, write; problems the operator can fix exit 1 with a message."""
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


def run_offline(args: argparse.Namespace) -> int:
    """Same computation and output as `report rates`, with the store replaced by the CSV files."""
    _binary_needs_out(args)
    cfg = load_cloud_config(args.config).quality if args.config else RatesConfig()
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

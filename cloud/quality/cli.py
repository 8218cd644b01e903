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
    if args.format == "xlsx" and not args.out and sys.stdout.isatty():
        raise OperatorError("an xlsx report is binary: give --out FILE.xlsx (or redirect standard output)")
    cfg = load_cloud_config(args.config)
    if cfg.registry_file is None:
        raise ConfigError(args.config, [f"{args.config}: registry_file: not set (name the station registry YAML,"
                                        " which gives the stations' intervals and regions)"])
    period = parse_period(args.period, cfg.quality.tz)
    registry = load_registry(cfg.registry_file)
    store = open_store(cfg)
    try:
        data = render(build_report(store, registry, period, cfg.quality, args.region), args.format)
    finally:
        store.close()
    if args.out:
        Path(args.out).write_bytes(data)
        print(f"rates for {period.label} written to {args.out} ({len(data)} bytes)", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0

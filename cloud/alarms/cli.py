"""`watertel alarms`: registered by ``watertel/cli.py``; imports the cloud only when run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    """`watertel alarms backtest` options (formats: ``cloud/alarms/backtest.py``)."""
    p.add_argument("--readings", required=True, help="CSV: station,point,sample_time,value,quality[,unit]")
    p.add_argument("--stations", required=True, help="CSV: station,region,kind,interval_minutes"
                   "[,permit_m3,permit_year_start,area,area_role]")
    p.add_argument("--rules", help="YAML: the alarms: section (or a cloud config); default: the built-in rules")
    p.add_argument("--format", choices=["json", "csv"], default="json")
    p.add_argument("--tz", default="Asia/Shanghai", help="time zone of times without an offset (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    """Print the alarms on standard output; progress and the count on standard error."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from cloud.alarms.backtest import backtest, render
    from watertel.errors import OperatorError

    for path in (args.readings, args.stations, args.rules):
        if path is not None and not Path(path).is_file():
            raise OperatorError(f"{path}: no such file")
    try:
        tz = ZoneInfo(args.tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise OperatorError(f"--tz {args.tz!r}: not a time zone (e.g. Asia/Shanghai)") from None
    alarms = backtest(Path(args.readings), Path(args.stations), Path(args.rules) if args.rules else None, tz, sys.stderr)
    sys.stdout.write(render(alarms, args.format))
    print(f"{len(alarms)} alarms", file=sys.stderr)
    return 0

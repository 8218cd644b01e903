"""`watertel alarms backtest` (declared in ``watertel.cloud.cli``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from watertel.cloud.alarms.backtest import backtest, render
from watertel.errors import OperatorError


def run(args: argparse.Namespace) -> int:
    """Print the alarms on standard output; progress and the count on standard error."""
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

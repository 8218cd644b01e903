"""What `watertel sim fleet` does (declared in ``cli``); apart from `sim run` because the fleet
speaks MQTT (aiomqtt), which a vendor's `watertel[sim]` install does not have."""

from __future__ import annotations

import argparse
from pathlib import Path

from watertel.errors import OperatorError
from watertel.simulators.fleet import FleetOptions, run_fleet


def run(args: argparse.Namespace) -> int:
    missing = [f"--{name}" for name in ("gateways", "broker", "duration", "out") if getattr(args, name) is None]
    if missing:
        raise OperatorError(f"watertel sim fleet needs {', '.join(missing)}")
    if not float(args.interval).is_integer():
        raise OperatorError(f"--interval: whole seconds for the fleet (got {args.interval})")
    return run_fleet(FleetOptions(
        gateways=args.gateways, interval_s=int(args.interval), broker=args.broker, duration_s=args.duration,
        out=Path(args.out), seed=args.seed, drop=args.drop, late=args.late, late_by_s=args.late_by,
        duplicate=args.duplicate, reorder=args.reorder, on_time_intervals=args.on_time_intervals, lead_s=args.lead,
        connections=args.connections, timezone=args.timezone))

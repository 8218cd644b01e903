"""Options and handler of `watertel sim fleet` (watertel/cli.py only registers them).

The `sim` parser is shared by its actions: ``--seed`` comes from `sim run` and ``--interval``
(seconds, default 60) from `sim rtu`; the fleet reads both and adds its own here.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gateways", type=int, help="fleet: how many gateways (one station each) to play")
    p.add_argument("--broker", help="fleet: mqtt://HOST:PORT")
    p.add_argument("--duration", type=float, help="fleet: seconds of sampling (late envelopes follow after)")
    p.add_argument("--out", help="fleet: folder for keys, cloud.yaml, registry.yaml and oracle.json")
    for name, what in (("drop", "a reading is never sent"), ("late", "an envelope is published --late-by s late"),
                       ("duplicate", "an envelope is published twice"),
                       ("reorder", "an envelope goes after the gateway's next one")):
        p.add_argument(f"--{name}", type=float, default=0.0, help=f"fleet: probability that {what} (default: 0)")
    p.add_argument("--late-by", type=float, help="fleet: seconds after the sample time (default: twice the on-time window)")
    p.add_argument("--on-time-intervals", type=float, default=12.0,
                   help="fleet: the timeliness window in intervals, written to cloud.yaml (default: %(default)s)")
    p.add_argument("--lead", type=float, default=2.0, help="fleet: seconds from writing the configs to the first sample")
    p.add_argument("--connections", type=int, default=4, help="fleet: MQTT connections shared by the gateways")
    p.add_argument("--timezone", default="Asia/Shanghai", help="fleet: the rates calendar (default: %(default)s)")


def run_fleet_command(args: argparse.Namespace) -> int:
    from simulators.fleet import FleetOptions, run_fleet
    from watertel.errors import OperatorError

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

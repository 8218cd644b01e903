"""Arguments and handler of `watertel sim run` (kept here so watertel/cli.py only registers them)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from datetime import datetime
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of `watertel sim run`."""
    src = p.add_mutually_exclusive_group()
    src.add_argument("--config", help="run: simulator YAML with several devices (see deploy/sim.example.yaml)")
    src.add_argument("--profile", help="run: serve one device of this profile (name or YAML path)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--tcp", metavar="HOST:PORT", help="--profile: serve Modbus TCP here")
    where.add_argument("--rtu", action="store_true", help="--profile: serve Modbus RTU on a new pty (default)")
    p.add_argument("--link", help="--rtu: make the client end of the pty appear at this path")
    p.add_argument("--unit", type=int, help="--profile: unit id (default: the profile's)")
    p.add_argument("--seed", type=int, default=0, help="--profile: seed of the sensor noise (default: %(default)s)")
    p.add_argument("--model", choices=["inlet", "well", "pressure", "water_quality", "pump", "level", "energy"],
                   help="--profile: physics of the device (default: from the profile's kind)")
    p.add_argument("--tick", type=float, default=1.0, help="--profile: simulated seconds per physics step")
    p.add_argument("--scenario", help="scenario YAML: events at simulated times (leak, offline, crc, …)")
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per wall second (86400/60: a day a minute)")
    p.add_argument("--start", help="simulated start time, ISO 8601 with zone (default: the scenario's, or now)")
    p.add_argument("--served-log", help="append every value served to this JSONL file")
    p.add_argument("--truth", help="append the ground truth (events injected, simulated and wall time) to this JSONL")


def _config(args: argparse.Namespace):
    from simulators.config import SimConfig
    from simulators.single import profile_config
    from watertel.config import load_model
    from watertel.errors import OperatorError

    if args.profile:
        try:
            return profile_config(args.profile, tcp=args.tcp, link=Path(args.link) if args.link else None, unit=args.unit,
                                  seed=args.seed, model=args.model, tick_s=args.tick)
        except ValueError as err:
            raise OperatorError(str(err).splitlines()[0]) from err
    if not args.config:
        raise OperatorError("watertel sim run needs --config FILE or --profile FILE")
    return load_model(args.config, SimConfig)


def _clock(args: argparse.Namespace, scenario):
    from simulators.clock import SimClock
    from watertel.errors import OperatorError

    start = scenario.scenario.start_epoch
    if args.start:
        try:
            when = datetime.fromisoformat(args.start)
        except ValueError as err:
            raise OperatorError(f"--start: not an ISO 8601 time ({args.start!r}; e.g. 2024-06-01T00:00:00+08:00)") from err
        if when.tzinfo is None:
            raise OperatorError("--start needs a time zone (append +08:00 or Z)")
        start = when.timestamp()
    if args.speed <= 0:
        raise OperatorError(f"--speed must be > 0 (got {args.speed})")
    return SimClock(start, args.speed)


def run_sim_command(args: argparse.Namespace) -> int:
    """`watertel sim run`: serve until SIGINT/SIGTERM; print where to connect."""
    from simulators.run import run_simulators
    from simulators.scenario import empty_scenario, load_scenario

    cfg = _config(args)
    updates = {k: Path(v) for k, v in (("served_log", args.served_log), ("truth_log", args.truth)) if v}
    cfg = cfg.model_copy(update=updates) if updates else cfg
    scenario = load_scenario(args.scenario) if args.scenario else empty_scenario()
    clock = _clock(args, scenario)

    async def main() -> None:
        task = asyncio.create_task(run_simulators(cfg, clock=clock, scenario=scenario,
                                                  announce=lambda line: print(line, flush=True)))
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass

    asyncio.run(main())
    sys.stdout.flush()
    return 0

"""What `watertel sim run` does (declared in ``cli``): serve simulated Modbus devices."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from datetime import datetime
from pathlib import Path

from watertel.config import load_model
from watertel.errors import OperatorError
from watertel.simulators.clock import SimClock
from watertel.simulators.config import SimConfig
from watertel.simulators.run import run_simulators
from watertel.simulators.scenario import empty_scenario, load_scenario
from watertel.simulators.single import profile_config


def _config(args: argparse.Namespace):
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


def run(args: argparse.Namespace) -> int:
    """`watertel sim run`: serve until SIGINT/SIGTERM; print where to connect."""
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


"""`watertel cloud rtu-gateway --config rtu.yaml [--listen HOST:PORT]`."""

from __future__ import annotations

import argparse
import asyncio


def run(args: argparse.Namespace) -> int:
    from cloud.rtu_gateway.config import load_rtu_config
    from cloud.rtu_gateway.service import run_rtu_gateway

    asyncio.run(run_rtu_gateway(load_rtu_config(args.config, args.listen)))
    return 0

"""What `watertel edge` and `watertel forward` do (declared in ``cli``; `rtu-gateway` is in
``rtu_gateway.service``, which needs no Modbus stack)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from watertel.edge_agent.agent import run_agent
from watertel.edge_agent.config import load_edge_config
from watertel.edge_agent.forward.config import load_forward_config
from watertel.edge_agent.forward.service import run_forwarder
from watertel.edge_agent.health import read_status, summary_lines
from watertel.errors import OperatorError


def edge(args: argparse.Namespace) -> int:
    cfg = load_edge_config(args.config)
    if args.action == "check":
        devices = sum(len(b.devices) for b in cfg.buses)
        print(f"{args.config}: ok (gateway {cfg.gateway_id}, {len(cfg.buses)} buses, {devices} devices)")
        return 0
    if args.action == "status":
        return _status(cfg.status_path, args.json)
    asyncio.run(run_agent(cfg, Path(args.config)))  # the path: set_config writes beside it
    return 0


def _status(path: Path, as_json: bool) -> int:
    """Print the agent's health; exit 1 when it is not running (for monitoring scripts)."""
    try:
        status = read_status(path)
    except FileNotFoundError:
        print(f"error: no status file at {path}: the agent has not run with this config yet", file=sys.stderr)
        return 1
    print(json.dumps(status, sort_keys=True) if as_json else "\n".join(summary_lines(status)))
    return 0 if status["running"] else 1


def forward(args: argparse.Namespace) -> int:
    cfg = load_forward_config(args.config)
    if args.check:
        print(f"{args.config}: ok")
        return 0
    try:
        asyncio.run(run_forwarder(cfg))
    except ValueError as err:  # a state file of another protocol
        raise OperatorError(str(err)) from err
    return 0

"""What `watertel edge` and `watertel forward` do (declared in ``cli``; `rtu-gateway` is in
``rtu_gateway.service``, which needs no Modbus stack)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

from watertel.edge_agent.agent import run_agent
from watertel.edge_agent.config import EdgeConfig, load_edge_config
from watertel.edge_agent.forward.config import load_forward_config
from watertel.edge_agent.forward.service import run_forwarder
from watertel.edge_agent.online import check_online
from watertel.edge_agent.preflight import EX_CONFIG, Problem, check_files
from watertel.edge_agent.health import cloud_refuses, read_status, summary_lines, uplink_down
from watertel.errors import ConfigError, OperatorError

log = logging.getLogger("watertel.edge")


def edge(args: argparse.Namespace) -> int:
    path = Path(args.config)
    if args.action == "run":
        return _run(path)
    cfg = load_edge_config(path)
    if args.action == "check":
        return _check(cfg, path, args.online)
    return _status(cfg.status_path, args.json)


def _run(path: Path) -> int:
    """Start only with what `edge check` passes; otherwise log each problem once and exit
    EX_CONFIG (the systemd unit does not restart on it: a restart would not fix a file)."""
    try:
        cfg = load_edge_config(path)
        problems = check_files(cfg, path)
    except ConfigError as err:
        cfg, problems = None, [Problem(line) for line in err.problems]
    for problem in problems:  # the same lines `edge check` prints, once, in the journal
        (log.error if problem.blocks_run else log.warning)("%s", problem.text)
    if cfg is None or any(p.blocks_run for p in problems):
        log.error("edge agent not started: fix the problems above in %s (`watertel edge check` lists them)", path)
        return EX_CONFIG
    asyncio.run(run_agent(cfg, path))  # the path: set_config writes beside it
    return 0


def _check(cfg: EdgeConfig, path: Path, online: bool) -> int:
    """Every problem on its own line (stderr), or one ok line; exit 1 on any problem."""
    problems = [p.text for p in check_files(cfg, path)]
    if online and not problems:  # (a broker check with a missing CA file would only repeat it)
        problems = asyncio.run(check_online(cfg, path))
    if problems:
        skipped = ["(--online not tried: fix these first)"] if online and not any("uplink.brokers" in p or
                                                                                   "devices." in p for p in problems) else []
        print("\n".join(problems + skipped), file=sys.stderr)
        return 1
    devices = sum(len(b.devices) for b in cfg.buses)
    checked = "brokers connected, devices answered" if online else "files checked; --online also tries brokers and devices"
    print(f"{path}: ok (gateway {cfg.gateway_id}, {len(cfg.buses)} buses, {devices} devices; {checked})")
    return 0


def _status(path: Path, as_json: bool) -> int:
    """Print the agent's health; exit 1 when it is not running, 2 when its uplink is down, 3 while
    the cloud refuses its envelopes (its signed notices say so: edge_agent/verdict.py), for
    monitoring scripts."""
    try:
        status = read_status(path)
    except FileNotFoundError:
        print(f"error: no status file at {path}: the agent has not run with this config yet", file=sys.stderr)
        return 1
    print(json.dumps(status, sort_keys=True) if as_json else "\n".join(summary_lines(status)))
    return 1 if not status["running"] else 2 if uplink_down(status) else 3 if cloud_refuses(status) else 0


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

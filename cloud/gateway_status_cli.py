"""`watertel cloud fleet` (every gateway's status, gateway_status.py) and `watertel cloud rollout`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from watertel.cloud.config import CloudConfig
from watertel.cloud.gateway_status import GatewayStatus, status_table
from watertel.cloud.rollout import rollout


def run(cfg: CloudConfig, args: argparse.Namespace) -> int:
    if args.action == "fleet":
        status = GatewayStatus(cfg.data_dir / "fleet")
        rows = [status.row(g.id) for g in sorted(cfg.gateways, key=lambda g: g.id)]
        print(json.dumps(rows, sort_keys=True) if args.json else status_table(rows))
        return 0
    report = asyncio.run(rollout(cfg, args.gateways, Path(args.push_file), args.stage, args.timeout))
    print(json.dumps(report, indent=1))
    if report["stopped"]:
        print(f"rollout stopped: {report['stopped']}; not attempted: {', '.join(report['not_attempted']) or 'none'}",
              file=sys.stderr)
    return 0 if report["ok"] else 1

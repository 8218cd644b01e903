"""The gateway side's subcommands: `edge` (the agent), `forward` (upward to a regulator's
platform) and `rtu-gateway` (field RTUs in, signed envelopes out). Declarations only; each handler
is named as ``"module:function"`` and imported when its command runs."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("edge", help="the gateway agent: poll, buffer, seal, forward")
    p.add_argument("action", choices=["run", "check", "status"])
    p.add_argument("--config", required=True, help="edge agent YAML (see deploy/edge.example.yaml)")
    p.add_argument("--json", action="store_true", help="status: print JSON")
    p.add_argument("--online", action="store_true",
                   help="check: also connect to each broker and read one block from each device")
    p.set_defaults(handler="watertel.edge_agent.actions:edge")

    p = sub.add_parser("forward", help="report stored readings to a regulator's platform in SZY 206 or SL 651")
    p.add_argument("--config", required=True, help="forwarder YAML (see deploy/forward.example.yaml)")
    p.add_argument("--check", action="store_true", help="validate the config and exit")
    p.set_defaults(handler="watertel.edge_agent.actions:forward")

    p = sub.add_parser("rtu-gateway", help="field RTUs (SZY 206, SL 651) over TCP, sealed into the signed ingest")
    p.add_argument("--config", required=True, help="rtu-gateway YAML (see deploy/rtu-gateway.example.yaml)")
    p.add_argument("--listen", help="HOST:PORT for the RTUs' TCP connections (overrides the config)")
    p.set_defaults(handler="watertel.edge_agent.rtu_gateway.service:command")

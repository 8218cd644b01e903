"""The simulators' subcommands: `sim run` (Modbus devices), `sim rtu` (a field RTU), `sim platform`
(a regulator's receiving platform) and `sim fleet` (many signed gateways over MQTT).
Declarations only; each handler is named as ``"module:function"`` and imported when it runs."""

from __future__ import annotations

import argparse

PROTOCOLS = ("szy206", "sl651")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sim", help="simulated devices, field RTUs, a receiving platform, a fleet of gateways")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    _add_run(actions.add_parser("run", help="serve Modbus devices (--config FILE, or one --profile)"))
    _add_rtu(actions.add_parser("rtu", help="a field RTU reporting in SZY 206 or SL 651 to --connect HOST:PORT"))
    _add_platform(actions.add_parser("platform", help="a regulator's receiving platform (SZY 206, SL 651) on --listen"))
    _add_fleet(actions.add_parser("fleet", help="N signed gateways over MQTT with drop-outs, late, duplicates,"
                                                " reordering, and an oracle of the rates"))


def _add_run(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group()
    src.add_argument("--config", help="simulator YAML with several devices (see deploy/sim.example.yaml)")
    src.add_argument("--profile", help="serve one device of this profile (name or YAML path)")
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
    p.set_defaults(handler="watertel.simulators.actions:run")


def _add_rtu(p: argparse.ArgumentParser) -> None:
    p.add_argument("--protocol", choices=PROTOCOLS, help="SZY 206-2016 or SL 651-2014")
    p.add_argument("--connect", metavar="HOST:PORT", help="the centre (watertel rtu-gateway)")
    p.add_argument("--address", help="SZY 206 division-station (330102-1234); SL 651 10 digits")
    p.add_argument("--interval", type=float, default=60.0, help="seconds between reports (default: %(default)s)")
    p.add_argument("--count", type=int, help="stop after N acknowledged reports (default: never)")
    p.add_argument("--keepalive", type=float, default=40.0, help="keep-alive after S idle seconds")
    p.add_argument("--step", type=int, default=60, help="sample seconds between reports (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the reported values (default: %(default)s)")
    p.add_argument("--sent-log", help="append every acknowledged report to this JSONL file")
    p.add_argument("--password", default="0", help="SL 651: the password its frames carry, hex (default: 0)")
    p.set_defaults(handler="watertel.simulators.field_rtu:run_rtu_command")


def _add_platform(p: argparse.ArgumentParser) -> None:
    p.add_argument("--listen", metavar="HOST:PORT", help="where to accept reporting stations")
    p.add_argument("--protocol", choices=PROTOCOLS, help="only this protocol (default: both, by the start bytes)")
    p.add_argument("--record", help="append every report received to this JSONL file")
    p.add_argument("--answer", choices=("ack", "nak", "silent"), default="ack",
                   help="ack reports (default), refuse them (SL 651 NAK) or stay silent")
    p.add_argument("--ack-delay", type=float, default=0.0, help="seconds before answering a report")
    p.add_argument("--query-every", type=float, metavar="S",
                   help="ask every connected station for its real-time values (B0H / 37H) every S s")
    p.add_argument("--set-clock-every", type=float, metavar="S",
                   help="set every connected station's clock (11H / 4AH) every S s")
    p.set_defaults(handler="watertel.simulators.platform:run_platform_command")


def _add_fleet(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gateways", type=int, help="how many gateways (one station each) to play")
    p.add_argument("--broker", help="mqtt://HOST:PORT")
    p.add_argument("--duration", type=float, help="seconds of sampling (late envelopes follow after)")
    p.add_argument("--out", help="folder for keys, cloud.yaml, registry.yaml and oracle.json")
    p.add_argument("--interval", type=float, default=60.0, help="whole seconds between samples (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the drop-outs and delays (default: %(default)s)")
    for name, what in (("drop", "a reading is never sent"), ("late", "an envelope is published --late-by s late"),
                       ("duplicate", "an envelope is published twice"),
                       ("reorder", "an envelope goes after the gateway's next one")):
        p.add_argument(f"--{name}", type=float, default=0.0, help=f"probability that {what} (default: 0)")
    p.add_argument("--late-by", type=float, help="seconds after the sample time (default: twice the on-time window)")
    p.add_argument("--on-time-intervals", type=float, default=12.0,
                   help="the timeliness window in intervals, written to cloud.yaml (default: %(default)s)")
    p.add_argument("--lead", type=float, default=2.0, help="seconds from writing the configs to the first sample")
    p.add_argument("--connections", type=int, default=4, help="MQTT connections shared by the gateways")
    p.add_argument("--timezone", default="Asia/Shanghai", help="the rates calendar (default: %(default)s)")
    p.set_defaults(handler="watertel.simulators.fleet_cli:run")

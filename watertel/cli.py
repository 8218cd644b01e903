"""The `watertel` command. Each subcommand imports its stage lazily, so a gateway installed with
``watertel[edge]`` runs ``watertel edge`` without the cloud's packages (FastAPI, numpy, …)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from watertel import __version__, logs
from watertel.config import ConfigError
from watertel.errors import OperatorError


def _keys_new(args: argparse.Namespace) -> int:
    from watertel.keys import write_key_pair

    if args.action == "new-sm4":
        return _keys_new_sm4(args)
    if not args.gateway:
        print("error: watertel keys new needs --gateway ID", file=sys.stderr)
        return 2
    try:
        private, public = write_key_pair(Path(args.out), args.key_id or args.gateway, args.force)
    except FileExistsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"private key: {private} (keep on the gateway only)\npublic key:  {public} (register it in the cloud)")
    return 0


def _keys_new_sm4(args: argparse.Namespace) -> int:
    """A new SM4 payload key file (32 hex digits, 0600); the key itself is never printed."""
    import re

    from watertel.crypto.sm4 import PayloadKey

    out = Path(args.out)
    key_id = args.key_id or out.stem
    if args.force:
        print("error: --force: an SM4 key file is never replaced (sealed envelopes may still need it)", file=sys.stderr)
        return 2
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", key_id):
        print(f"error: key id {key_id!r}: use letters, digits and _ . - (--key-id)", file=sys.stderr)
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        PayloadKey.generate(key_id).write(out)
    except FileExistsError:
        print(f"error: {out} exists (never replaced: sealed envelopes may still need it; write a new file)", file=sys.stderr)
        return 1
    print(f"SM4 payload key {key_id}: {out} (mode 0600; copy it to the gateway and the cloud over a secure channel)\n"
          f"config: payload_key: {{key_id: {key_id}, key_file: {out}}}  (see docs/envelope.md, key rotation)")
    return 0


def _edge(args: argparse.Namespace) -> int:
    from edge_agent.config import load_edge_config

    cfg = load_edge_config(args.config)
    if args.action == "check":
        devices = sum(len(b.devices) for b in cfg.buses)
        print(f"{args.config}: ok (gateway {cfg.gateway_id}, {len(cfg.buses)} buses, {devices} devices)")
        return 0
    if args.action == "status":
        return _edge_status(cfg.status_path, args.json)
    from edge_agent.agent import run_agent

    asyncio.run(run_agent(cfg, Path(args.config)))  # the path: set_config writes beside it
    return 0


def _forward(args: argparse.Namespace) -> int:
    if args.check:
        from edge_agent.forward.config import load_forward_config

        load_forward_config(args.config)
        print(f"{args.config}: ok")
        return 0
    from edge_agent.forward.service import run

    return run(args)


def _edge_status(path: Path, as_json: bool) -> int:
    """Print the agent's health; exit 1 when it is not running (for monitoring scripts)."""
    from edge_agent.health import read_status, summary_lines

    try:
        status = read_status(path)
    except FileNotFoundError:
        print(f"error: no status file at {path}: the agent has not run with this config yet", file=sys.stderr)
        return 1
    print(json.dumps(status, sort_keys=True) if as_json else "\n".join(summary_lines(status)))
    return 0 if status["running"] else 1


def _cloud(args: argparse.Namespace) -> int:
    if args.action == "hash-password":
        from cloud.api.auth import hash_password
        import getpass

        print(hash_password(getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")))
        return 0
    if args.action == "rtu-gateway":
        from cloud.rtu_gateway.cli import run

        return run(args)
    from cloud.config import load_cloud_config

    cfg = load_cloud_config(args.config)
    if args.action == "check":
        print(f"{args.config}: ok ({len(cfg.gateways)} gateways, {len(cfg.api.users)} users)")
        return 0
    if args.action in ("backup", "restore"):
        return _cloud_backup(cfg, args)
    if args.action in ("export", "import"):
        from cloud.registry_io import run as run_registry_io

        return run_registry_io(cfg, args)
    if args.action == "command":
        return _cloud_command(cfg, args)
    if args.action in ("fleet", "rollout"):
        from cloud.fleet_cli import run_fleet

        return run_fleet(cfg, args)
    if args.action == "migrate":
        from cloud.store import open_store
        from cloud.store.sql import SCHEMA_VERSION

        open_store(cfg, migrate=True).close()
        print(f"the {cfg.store.kind} store is at schema version {SCHEMA_VERSION}")
        return 0
    from cloud.service import PARTS, run_cloud

    if args.worker is not None:  # one of several ingest workers: each needs its own MQTT session
        cfg = cfg.model_copy(update={"mqtt": cfg.mqtt.model_copy(update={"client_id": f"{cfg.mqtt.client_id}-{args.worker}"})})
    asyncio.run(run_cloud(cfg, PARTS if args.action == "run" else frozenset({args.action}), args.metrics_port))
    return 0


def _cloud_command(cfg, args: argparse.Namespace) -> int:
    """Send a signed command; print the gateway's signed answer; exit 0 only when it was done."""
    from cloud.commands import send_command

    if not (args.gateway and args.file):
        print("error: watertel cloud command NAME --gateway ID [--args JSON]", file=sys.stderr)
        return 2
    try:
        answer = asyncio.run(send_command(cfg, args.gateway, args.file, json.loads(args.args), args.timeout or 30.0))
    except TimeoutError:
        print(f"error: no answer from {args.gateway} within {args.timeout or 30.0:g} s", file=sys.stderr)
        return 1
    print(json.dumps(answer.__dict__))
    return 0 if answer.status == "done" else 1


def _cloud_backup(cfg, args: argparse.Namespace) -> int:
    from cloud.store.backup import backup, restore

    args.file = args.file or args.out
    if not args.file:
        print(f"error: watertel cloud {args.action} needs a FILE (backup: --out FILE)", file=sys.stderr)
        return 2
    if args.action == "backup":
        size = backup(cfg, Path(args.file))
        print(f"backup written: {args.file} ({size} bytes)")
    else:
        restore(cfg, Path(args.file), args.force)
        print(f"restored {args.file} into the {cfg.store.kind} store")
    return 0


def _audit(args: argparse.Namespace) -> int:
    """verify: walk the audit log's SM3 chain; exit 1 at the first row that does not fit."""
    from cloud.audit import verify
    from cloud.config import load_cloud_config
    from cloud.store import open_store

    store = open_store(load_cloud_config(args.config))
    try:
        verdict = verify(store)
    finally:
        store.close()
    if not verdict.ok:
        print(f"audit log broken at row {verdict.broken_id}: {verdict.problem} ({verdict.entries} rows before it are intact)")
        return 1
    print(f"ok: {verdict.entries} entries")
    return 0


def _soak(args: argparse.Namespace) -> int:
    from watertel.soak import run_soak

    return run_soak(Path(args.data_dir), args.minutes, args.seed, args.ingest_workers, args.postgres)


def _broker(args: argparse.Namespace) -> int:
    import signal

    from cloud.broker import run_broker

    host, _, port = args.listen.rpartition(":")

    async def main() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await run_broker(host or "127.0.0.1", int(port), stop)

    asyncio.run(main())
    return 0


def _sim(args: argparse.Namespace) -> int:
    if args.action == "platform":
        from simulators.platform import run_platform_command

        return run_platform_command(args)
    if args.action == "rtu":
        from simulators.field_rtu import run_rtu_command

        return run_rtu_command(args)
    if args.action == "fleet":
        from simulators.fleet_cli import run_fleet_command

        return run_fleet_command(args)
    from simulators.cli import run_sim_command

    return run_sim_command(args)


def _profile(args: argparse.Namespace) -> int:
    import firmware_profiles
    from firmware_profiles.codec import plan

    if args.action == "doc":
        from firmware_profiles.doc import render

        print(render(), end="")
        return 0
    if args.action == "schema":
        from firmware_profiles.schema import render

        print(render(), end="")
        return 0
    if args.action == "probe":
        from firmware_profiles.probe import run

        return run(args)
    if args.action == "list":
        for path in firmware_profiles.profile_paths():
            p = firmware_profiles.load(path)
            print(f"{path.stem:24} {p.kind:14} {p.vendor} {p.model} ({len(p.points)} points, {len(plan(p))} reads)")
        return 0
    failed = 0
    for path in args.paths:
        try:
            firmware_profiles.load(Path(path))
            print(f"{path}: ok")
        except ConfigError as err:
            failed += 1
            print("\n".join(err.problems), file=sys.stderr)
    return 1 if failed else 0


def _report(args: argparse.Namespace) -> int:
    if args.action == "rates":
        from cloud.quality.cli import run

        return run(args)
    if args.action == "permits":
        from cloud.quality.permits_report import run as run_permits

        return run_permits(args)
    if args.format == "xlsx":
        print("error: watertel report summary writes json or csv", file=sys.stderr)
        return 2
    from cloud.config import load_cloud_config
    from cloud.report import station_summary

    rows = station_summary(load_cloud_config(args.config))
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        import csv

        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["station"])
        writer.writeheader()
        writer.writerows(rows)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from watertel.demo import run_demo

    return run_demo(Path(args.data_dir), args.duration, args.broker_url, args.postgres)


def _frame(args: argparse.Namespace) -> int:
    """decode: one SZY 206 / SL 651 frame as JSON; a bad frame is `error: <reason>`, exit 1."""
    from watertel.protocols import FrameError, decode_hex

    try:
        print(json.dumps(decode_hex(args.hex, args.protocol), ensure_ascii=False, indent=1))
    except FrameError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="watertel", description="Signed water telemetry from the well to the regulator.")
    parser.add_argument("--version", action="version", version=f"watertel {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for libraries too)")
    parser.add_argument("--log-format", choices=logs.FORMATS, default=None,
                        help="logfmt (default) or json lines; also $WATERTEL_LOG_FORMAT")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="run the whole system on this machine (broker, cloud, simulators, 2 gateways)")
    p.add_argument("--duration", type=float, help="run headless for SECONDS, then print a JSON summary")
    p.add_argument("--data-dir", default="demo-data", help="where keys, configs and databases go (default: %(default)s)")
    p.add_argument("--postgres", metavar="DSN", help="store in this PostgreSQL database instead of SQLite")
    p.add_argument("--broker-url", help="use this MQTT broker (mqtt://host:port) instead of the embedded one")
    p.set_defaults(func=_demo)

    p = sub.add_parser("edge", help="the gateway agent: poll, buffer, seal, forward")
    p.add_argument("action", choices=["run", "check", "status"])
    p.add_argument("--config", required=True, help="edge agent YAML (see deploy/edge.example.yaml)")
    p.add_argument("--json", action="store_true", help="status: print JSON")
    p.set_defaults(func=_edge)

    p = sub.add_parser("forward", help="report stored readings to a regulator's platform in SZY 206 or SL 651")
    p.add_argument("--config", required=True, help="forwarder YAML (see deploy/forward.example.yaml)")
    p.add_argument("--check", action="store_true", help="validate the config and exit")
    p.set_defaults(func=_forward)

    p = sub.add_parser("cloud", help="the cloud service: ingest, store, alarms, API and console")
    p.add_argument("action", choices=["run", "ingest", "api", "check", "hash-password", "backup", "restore", "command",
                                      "migrate", "rtu-gateway", "fleet", "rollout", "export", "import"],
                   help="run: ingest + API in one process; ingest / api: one part (scale ingest out); "
                        "backup FILE: online copy of the store; restore FILE: into an empty store; "
                        "command NAME: a signed command to --gateway; migrate: upgrade the store's schema; "
                        "rtu-gateway: field RTUs (SZY 206, SL 651) over TCP into ingest (--config rtu.yaml); "
                        "fleet: every gateway's version, config, clock, buffer, last contact; "
                        "rollout: push --file to --gateways GLOB, --stage N first; "
                        "export: the station registry as --format yaml|csv (to --out FILE); "
                        "import FILE: replace the registry from a .yaml or .csv (validated first, previous kept as .bak)")
    p.add_argument("file", nargs="?", help="backup / restore: the backup file; command: its name")
    p.add_argument("--gateway", help="command: the gateway id")
    p.add_argument("--args", default="{}", help='command: its arguments as JSON, e.g. \'{"device": "fm-1"}\'')
    p.add_argument("--timeout", type=float, help="command: seconds to wait for the answer (30); rollout: per gateway (300)")
    p.add_argument("--gateways", help="rollout: gateway ids, a glob such as 'gw-*'")
    p.add_argument("--file", dest="push_file", help="rollout: the edge YAML to push (${gateway} becomes each id)")
    p.add_argument("--stage", type=int, default=1, help="rollout: gateways that must succeed before the rest (1)")
    p.add_argument("--json", action="store_true", help="fleet: print JSON")
    p.add_argument("--out", help="backup: the file to write (same as FILE); export: write here instead of stdout")
    p.add_argument("--force", action="store_true", help="restore: replace what the store holds")
    p.add_argument("--format", choices=["yaml", "csv"], default="yaml", help="export: yaml (the registry file's format) or csv")
    p.add_argument("--dry-run", action="store_true", help="import: validate and show the changes, write nothing")
    p.add_argument("--config", help="cloud YAML (see deploy/cloud.example.yaml)")
    p.add_argument("--worker", help="ingest: this worker's name, appended to mqtt.client_id (e.g. 1, 2, …)")
    p.add_argument("--metrics-port", type=int, help="ingest: serve Prometheus /metrics on 127.0.0.1:PORT")
    p.add_argument("--listen", help="rtu-gateway: HOST:PORT for the RTUs' TCP connections (overrides the config)")
    p.set_defaults(func=_cloud)

    p = sub.add_parser("audit", help="the API's audit log")
    p.add_argument("action", choices=["verify"], help="verify: check its SM3 hash chain (exit 1 at the first broken row)")
    p.add_argument("--config", required=True, help="cloud YAML")
    p.set_defaults(func=_audit)

    p = sub.add_parser("soak", help="the whole system under seeded random faults, then a reading-by-reading account")
    p.add_argument("--minutes", type=float, default=10.0, help="how long (default: %(default)s)")
    p.add_argument("--seed", type=int, default=1, help="the fault schedule's seed (default: %(default)s)")
    p.add_argument("--data-dir", default="soak-data", help="configs, databases and logs (default: %(default)s)")
    p.add_argument("--ingest-workers", type=int, default=1, help="ingest worker processes (default: %(default)s)")
    p.add_argument("--postgres", action="store_true", help="the cloud on a throw-away PostgreSQL (initdb)")
    p.set_defaults(func=_soak)

    p = sub.add_parser("broker", help="the embedded MQTT broker (amqtt), loopback only")
    p.add_argument("--listen", default="127.0.0.1:1883", help="HOST:PORT (default: %(default)s)")
    p.set_defaults(func=_broker)

    p = sub.add_parser("sim", help="simulated Modbus devices (TCP and RTU over a pseudo-terminal)")
    p.add_argument("action", choices=["run", "rtu", "fleet", "platform"], help="run: serve Modbus devices (--config FILE or --profile FILE); "
                   "rtu: a field RTU reporting in SZY 206 or SL 651 to --connect HOST:PORT; "
                   "platform: a regulator's receiving platform (SZY 206, SL 651) on --listen HOST:PORT; "
                   "fleet: N signed gateways over MQTT with drop-outs, late, duplicates, reordering, and an oracle")
    from simulators.cli import add_arguments as add_sim_arguments
    from simulators.field_rtu import add_arguments as add_rtu_arguments

    add_sim_arguments(p)
    add_rtu_arguments(p)
    from simulators.platform import add_arguments as add_platform_arguments

    add_platform_arguments(p)
    from simulators.fleet_cli import add_arguments as add_fleet_arguments

    add_fleet_arguments(p)
    p.set_defaults(func=_sim)

    p = sub.add_parser("keys", help="SM2 gateway keys, SM4 payload keys")
    p.add_argument("action", choices=["new", "new-sm4"], help="new: an SM2 key pair; new-sm4: an SM4 payload key file")
    p.add_argument("--gateway", help="gateway id (new)")
    p.add_argument("--out", required=True, help="new: folder for <gateway>.key.pem and <gateway>.pub.pem; "
                   "new-sm4: the key file to write (mode 0600)")
    p.add_argument("--key-id", help="new: name the files after this key id (a rotated key beside the old one); "
                   "new-sm4: the key's id (default: the file name without its extension)")
    p.add_argument("--force", action="store_true", help="replace an existing key")
    p.set_defaults(func=_keys_new)

    from watertel.envelope_cli import add_parser as add_envelope_parser

    add_envelope_parser(sub)

    p = sub.add_parser("frame", help="field RTU protocols (SZY 206-2016, SL 651-2014 HEX or ASCII): decode a frame")
    p.add_argument("action", choices=["decode"])
    p.add_argument("hex", help="the frame in hex (spaces allowed)")
    p.add_argument("--protocol", choices=["szy206", "sl651"],
                   help="default: from the start bytes (68 / 7E7E / SOH 01 = SL 651 ASCII)")
    p.set_defaults(func=_frame)

    p = sub.add_parser("profile", help="firmware profiles (device register maps)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = actions.add_parser("check", help="validate profile files (file:line: key: problem (fix); exit 1 on error)")
    a.add_argument("paths", nargs="+", help="profile YAML files")
    actions.add_parser("list", help="the shipped profiles")
    actions.add_parser("doc", help="print firmware_profiles/README.md (register tables) from the YAML")
    actions.add_parser("schema", help="print the profile format's JSON Schema")
    a = actions.add_parser("probe", help="read every point of a profile from a device: raw, value, range, time")
    from firmware_profiles.probe import add_arguments

    add_arguments(a)
    p.set_defaults(func=_profile)

    p = sub.add_parser("report", help="reports from the cloud store")
    p.add_argument("action", choices=["summary", "rates", "permits"],
                   help="summary: per-station totals; rates: completeness, upload, timeliness, abnormal rates;"
                        " permits: withdrawal against each permit (json or csv)")
    p.add_argument("--year", type=int, help="permits: the permit year starting in this calendar year (default: now)")
    p.add_argument("--config", required=True, help="cloud YAML")
    p.add_argument("--format", choices=["json", "csv", "xlsx"], default="json")
    from cloud.quality.cli import add_arguments as add_rates_arguments

    add_rates_arguments(p)
    p.set_defaults(func=_report)

    from cloud.quality.cli import add_offline_arguments, run_offline

    p = sub.add_parser("rates", help="data-quality rates offline, from CSV files of arrivals and stations")
    add_offline_arguments(p)
    p.set_defaults(func=run_offline)

    p = sub.add_parser("alarms", help="alarm rules offline: backtest them over historical readings (CSV)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = actions.add_parser("backtest", help="the alarms the rules would have raised over --readings (JSON or CSV);"
                           " formats in cloud/alarms/backtest.py")
    from cloud.alarms.cli import add_arguments as add_backtest_arguments, run as run_backtest

    add_backtest_arguments(a)
    a.set_defaults(func=run_backtest)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "cloud" and args.action != "hash-password" and not args.config:
        print(f"error: watertel cloud {args.action} needs --config FILE", file=sys.stderr)
        return 2
    logs.setup(args.verbose, args.log_format)
    try:
        return args.func(args)
    except ConfigError as err:
        print("\n".join(err.problems), file=sys.stderr)
        return 1
    except OperatorError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130

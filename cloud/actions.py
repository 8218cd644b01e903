"""What the `watertel cloud …`, `audit` and `broker` subcommands do (declared in ``cli``); the
reports and the offline rates are in report_actions.py, the backtest beside its code."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import signal
import sys
from pathlib import Path

from watertel.cloud import audit as audit_log
from watertel.cloud import registry_io
from watertel.cloud.api.auth import hash_password as hash_console_password
from watertel.cloud.broker import run_broker
from watertel.cloud.commands import send_command
from watertel.cloud.config import CloudConfig, load_cloud_config
from watertel.cloud.gateway_status_cli import run as run_gateways
from watertel.cloud.service import PARTS, run_cloud
from watertel.cloud.store import backup as store_backup
from watertel.cloud.store import SCHEMA_VERSION, open_store
from watertel.errors import OperatorError
from watertel.ports import host_port


def service(args: argparse.Namespace) -> int:
    """`cloud run`, `cloud ingest`, `cloud api`."""
    cfg = load_cloud_config(args.config)
    worker = getattr(args, "worker", None)
    if worker is not None:  # one of several ingest workers: each needs its own MQTT session
        cfg = cfg.model_copy(update={"mqtt": cfg.mqtt.model_copy(update={"client_id": f"{cfg.mqtt.client_id}-{worker}"})})
    parts = PARTS if args.action == "run" else frozenset({args.action})
    asyncio.run(run_cloud(cfg, parts, getattr(args, "metrics_port", None)))
    return 0


def check(args: argparse.Namespace) -> int:
    cfg = load_cloud_config(args.config)
    print(f"{args.config}: ok ({len(cfg.gateways)} gateways, {len(cfg.api.users)} users)")
    return 0


def hash_password(args: argparse.Namespace) -> int:
    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    if not password:
        raise OperatorError("no password given (type it at the prompt, or pipe one line: "
                            "printf '%s\\n' \"$PW\" | watertel cloud hash-password)")
    print(hash_console_password(password))
    return 0


def backup(args: argparse.Namespace) -> int:
    out = args.file or args.out
    if not out:
        raise OperatorError("watertel cloud backup needs a FILE (or --out FILE)")
    cfg = load_cloud_config(args.config)
    size = store_backup.backup(cfg.store, cfg.data_dir, Path(out))
    print(f"backup written: {out} ({size} bytes)")
    return 0


def restore(args: argparse.Namespace) -> int:
    cfg = load_cloud_config(args.config)
    store_backup.restore(cfg.store, cfg.data_dir, Path(args.file), args.force)
    print(f"restored {args.file} into the {cfg.store.kind} store")
    return 0


def command(args: argparse.Namespace) -> int:
    """Send a signed command; print the gateway's signed answer; exit 0 only when it was done."""
    cfg = load_cloud_config(args.config)
    try:
        arguments = json.loads(args.args)
    except ValueError as err:
        raise OperatorError(f"--args: not JSON ({err})") from None
    try:
        answer = asyncio.run(send_command(cfg, args.gateway, args.file, arguments, args.timeout))
    except TimeoutError:
        print(f"error: no answer from {args.gateway} within {args.timeout:g} s", file=sys.stderr)
        return 1
    print(json.dumps(answer.__dict__))
    return 0 if answer.status == "done" else 1


def migrate(args: argparse.Namespace) -> int:
    cfg = load_cloud_config(args.config)
    open_store(cfg.store, cfg.data_dir, migrate=True).close()
    print(f"the {cfg.store.kind} store is at schema version {SCHEMA_VERSION}")
    return 0


def fleet(args: argparse.Namespace) -> int:
    """`cloud fleet` and `cloud rollout`."""
    return run_gateways(load_cloud_config(args.config), args)


def registry(args: argparse.Namespace) -> int:
    """`cloud export` and `cloud import`."""
    return registry_io.run(load_cloud_config(args.config), args)


def audit(args: argparse.Namespace) -> int:
    """verify: walk the audit log's SM3 chain; exit 1 at the first row that does not fit."""
    cfg: CloudConfig = load_cloud_config(args.config)
    store = open_store(cfg.store, cfg.data_dir)
    try:
        verdict = audit_log.verify(store)
    finally:
        store.close()
    if not verdict.ok:
        print(f"audit log broken at row {verdict.broken_id}: {verdict.problem} ({verdict.entries} rows before it are intact)")
        return 1
    print(f"ok: {verdict.entries} entries")
    return 0


def broker(args: argparse.Namespace) -> int:
    host, port = host_port(args.listen, "--listen")

    async def main() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await run_broker(host, port, stop)

    asyncio.run(main())
    return 0

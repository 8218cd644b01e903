"""What the `watertel cloud …`, `audit` and `broker` subcommands do (declared in ``cli``); the
reports and the offline rates are in report_actions.py, the backtest beside its code."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from watertel.cloud import registry_io
from watertel.cloud.audit.commands import REFUSED, record_restore, run_audited
from watertel.cloud.audit.trail import AuditTrail
from watertel.cloud.audit.verify import describe
from watertel.cloud.api.auth import hash_password as hash_console_password
from watertel.cloud.broker import run_broker
from watertel.cloud.commands import send_command
from watertel.cloud.config import CloudConfig, load_cloud_config
from watertel.cloud.gateway_status_cli import run as run_gateways
from watertel.cloud.passwords import MESSAGES, weakness
from watertel.cloud.service import PARTS, run_cloud
from watertel.cloud.store import backup as store_backup
from watertel.cloud.store import SCHEMA_VERSION, open_store
from watertel.crypto import sm3
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
    """Print the argon2 hash of a password that follows cloud/passwords.py (the user name aside,
    which this command is not told: the API's user writes check that too)."""
    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    if not password:
        raise OperatorError("no password given (type it at the prompt, or pipe one line: "
                            "printf '%s\\n' \"$PW\" | watertel cloud hash-password)")
    if (weak := weakness(password)) is not None:
        raise OperatorError(f"not hashed: {MESSAGES[weak]}")
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


def audited(cfg: CloudConfig, command: str, summary: str, act: Callable[[], int]) -> int:
    """``act()`` recorded in the audit log (cloud/audit/commands.py), its exit status in the row."""
    return run_audited(cfg.store, cfg.data_dir, cfg.audit, cfg.command_key, command,
                       lambda status: f"{summary}: {'ok' if status == 0 else f'failed (exit {status})'}", act)


def restore(args: argparse.Namespace) -> int:
    cfg = load_cloud_config(args.config)
    summary = f"restore {Path(args.file).name}{' (--force)' if args.force else ''}"
    try:
        store_backup.restore(cfg.store, cfg.data_dir, Path(args.file), args.force)
    except REFUSED:  # refused before it touched the store (not empty without --force, no such file): no row
        raise
    except BaseException:
        try:
            record_restore(cfg.store, cfg.data_dir, cfg.audit, cfg.command_key, f"{summary}: failed", 1)
        except Exception as err:  # the store unusable: say so, and why the restore failed
            print(f"error: the failed restore could not be audited ({err})", file=sys.stderr)
        raise
    record_restore(cfg.store, cfg.data_dir, cfg.audit, cfg.command_key, f"{summary}: ok", 0)
    print(f"restored {args.file} into the {cfg.store.kind} store")
    return 0


def command(args: argparse.Namespace) -> int:
    """Send a signed command; print the gateway's signed answer; exit 0 only when it was done."""
    cfg = load_cloud_config(args.config)
    try:
        arguments = json.loads(args.args)
    except ValueError as err:
        raise OperatorError(f"--args: not JSON ({err})") from None
    return audited(cfg, "watertel cloud command", command_summary(args.file, args.gateway, arguments),
                   lambda: _send(cfg, args, arguments))


def command_summary(name: str, gateway: str, arguments: object) -> str:
    """The command, gateway and argument names, and an SM3 of the arguments (their values, such
    as an edge config pushed, may hold secrets: the digest matches them without showing them)."""
    canonical = json.dumps(arguments, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    names = ", ".join(sorted(arguments)) if isinstance(arguments, dict) else type(arguments).__name__
    return f"{name} to {gateway} (args: {names or 'none'}; sm3 {sm3(canonical).hex()[:16]})"[:180]


def _send(cfg: CloudConfig, args: argparse.Namespace, arguments: dict) -> int:
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
    """`cloud fleet` and `cloud rollout` (audited)."""
    cfg = load_cloud_config(args.config)
    if args.action != "rollout":
        return run_gateways(cfg, args)
    summary = f"rollout {Path(args.push_file).name} to {args.gateways} (stage {args.stage})"
    return audited(cfg, "watertel cloud rollout", summary, lambda: run_gateways(cfg, args))


def registry(args: argparse.Namespace) -> int:
    """`cloud export` and `cloud import` (audited unless a dry run)."""
    cfg = load_cloud_config(args.config)
    if args.action != "import" or args.dry_run:
        return registry_io.run(cfg, args)
    return audited(cfg, "watertel cloud import", f"import {Path(args.file).name} into the registry",
                   lambda: registry_io.run(cfg, args))


def audit(args: argparse.Namespace) -> int:
    """verify: walk the audit log's chain against its key and signed checkpoints; exit 1 at the
    first row that does not fit (named, with the last checkpoint the log still matched)."""
    cfg: CloudConfig = load_cloud_config(args.config)
    store = open_store(cfg.store, cfg.data_dir)
    try:
        verdict = AuditTrail.reader(store, cfg.audit, cfg.data_dir, cfg.command_key).verify()
    finally:
        store.close()
    trusted = f"last trusted checkpoint: {describe(verdict.trusted)}"
    if verdict.broken_id is not None:
        print(f"audit log broken at row {verdict.broken_id}: {verdict.problem} ({verdict.entries} rows before it"
              f" are intact); {trusted}")
    for note in verdict.notes:
        print(f"audit checkpoints: {note}")
    if not verdict.ok:
        return 1
    if verdict.trusted is None:  # keyed logs always have one (notes otherwise): this one predates keys
        print(f"ok: {verdict.entries} entries (plain SM3 and no checkpoint yet: the service makes the audit key"
              " and signs checkpoints from its next start)")
        return 0
    legacy = f", the first {verdict.legacy} from before the key (plain SM3)" if verdict.legacy else ""
    print(f"ok: {verdict.entries} entries{legacy}; {trusted}")
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

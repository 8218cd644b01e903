"""The shell's own subcommands: the demo and the soak (every part at once), and the tools that
need only the core (keys, envelopes, RTU frames). Declarations only; handlers are named."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the whole system on this machine (broker, cloud, simulators, 2 gateways)")
    p.add_argument("--duration", type=float, help="run headless for SECONDS, then print a JSON summary")
    p.add_argument("--data-dir", default="demo-data", help="where keys, configs and databases go (default: %(default)s)")
    p.add_argument("--postgres", metavar="DSN", help="store in this PostgreSQL database instead of SQLite")
    p.add_argument("--broker-url", help="use this MQTT broker (mqtt://host:port) instead of the embedded one")
    p.add_argument("--history-days", type=int, default=7, choices=range(0, 29), metavar="DAYS",
                   help="days of the region's history replayed before the live parts start, 0-28 (default: %(default)s)")
    p.set_defaults(handler="watertel.shell.demo:command")

    p = sub.add_parser("soak", help="the whole system under seeded random faults, then a reading-by-reading account")
    p.add_argument("--minutes", type=float, default=10.0, help="how long (default: %(default)s)")
    p.add_argument("--seed", type=int, default=1, help="the fault schedule's seed (default: %(default)s)")
    p.add_argument("--data-dir", default="soak-data", help="configs, databases and logs (default: %(default)s)")
    p.add_argument("--ingest-workers", type=int, default=1, help="ingest worker processes (default: %(default)s)")
    p.add_argument("--postgres", action="store_true", help="the cloud on a throw-away PostgreSQL (initdb)")
    p.set_defaults(handler="watertel.shell.soak:command")

    p = sub.add_parser("keys", help="SM2 gateway keys, SM4 payload keys")
    p.add_argument("action", choices=["new", "new-sm4"], help="new: an SM2 key pair; new-sm4: an SM4 payload key file")
    p.add_argument("--gateway", help="gateway id (new)")
    p.add_argument("--out", required=True, help="new: folder for <gateway>.key.pem and <gateway>.pub.pem; "
                   "new-sm4: the key file to write (mode 0600)")
    p.add_argument("--key-id", help="new: name the files after this key id (a rotated key beside the old one); "
                   "new-sm4: the key's id (default: the file name without its extension)")
    p.add_argument("--force", action="store_true", help="replace an existing key")
    p.set_defaults(handler="watertel.shell.tools:keys")

    _add_envelope(sub)

    p = sub.add_parser("frame", help="field RTU protocols (SZY 206-2016, SL 651-2014 HEX or ASCII): decode a frame")
    p.add_argument("action", choices=["decode"])
    p.add_argument("hex", help="the frame in hex (spaces allowed)")
    p.add_argument("--protocol", choices=["szy206", "sl651"],
                   help="default: from the start bytes (68 / 7E7E / SOH 01 = SL 651 ASCII)")
    p.set_defaults(handler="watertel.shell.tools:frame")


def _add_envelope(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("envelope", help="seal or inspect one envelope offline")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    s = actions.add_parser("seal", help="seal a JSON list of readings (stdin) into an envelope (stdout)")
    s.add_argument("--key", required=True, help="SM2 private key, PKCS#8 PEM")
    s.add_argument("--gateway", required=True, help="gateway id")
    s.add_argument("--key-id", default="k1", help="key id the cloud registered (default: %(default)s)")
    s.add_argument("--seq", type=int, required=True, help="sequence number, 1 for a gateway's first")
    s.add_argument("--prev", help="SM3 hash of the previous envelope, hex (default: 32 zero bytes)")
    s.add_argument("--created-ms", type=int, help="creation time, Unix ms (default: now)")
    s.set_defaults(handler="watertel.shell.envelope_cli:seal_command")
    i = actions.add_parser("inspect", help="decode and verify one envelope; exit 0 only when verified")
    i.add_argument("file", help="envelope bytes")
    i.add_argument("--pubkey", help="the gateway's SM2 public key, PEM (without it: not verified)")
    i.add_argument("--json", action="store_true", help="print JSON")
    i.set_defaults(handler="watertel.shell.envelope_cli:inspect_command")

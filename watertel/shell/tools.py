"""`watertel keys` and `watertel frame`: tools that need only the core."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from watertel.crypto.sm4 import PayloadKey
from watertel.keys import write_key_pair
from watertel.protocols import FrameError, decode_hex


def keys(args: argparse.Namespace) -> int:
    if args.action == "new-sm4":
        return _new_sm4(args)
    if not args.gateway:
        print("error: watertel keys new needs --gateway ID", file=sys.stderr)
        return 2
    if Path(args.out).exists() and not Path(args.out).is_dir():
        print(f"error: --out {args.out} is a file: name a folder for the key pair", file=sys.stderr)
        return 2
    try:
        private, public = write_key_pair(Path(args.out), args.key_id or args.gateway, args.force)
    except FileExistsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except ValueError as err:  # not an id: it would name a file elsewhere
        print(f"error: --key-id/--gateway: {err}", file=sys.stderr)
        return 2
    print(f"private key: {private} (keep on the gateway only)\npublic key:  {public} (register it in the cloud)")
    return 0


def _new_sm4(args: argparse.Namespace) -> int:
    """A new SM4 payload key file (32 hex digits, 0600); the key itself is never printed."""
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


def frame(args: argparse.Namespace) -> int:
    """decode: one SZY 206 / SL 651 frame as JSON; a bad frame is `error: <reason>`, exit 1."""
    try:
        print(json.dumps(decode_hex(args.hex, args.protocol), ensure_ascii=False, indent=1))
    except FrameError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0

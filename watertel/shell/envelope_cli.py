"""`watertel envelope seal|inspect`: make and check one envelope offline (vendors, auditors).

``seal`` reads a JSON list of readings on stdin and writes the envelope's bytes on stdout, with any
SM2 private key in PKCS#8 PEM (``watertel keys new`` or ``openssl genpkey -algorithm SM2``).
``inspect`` prints an envelope as JSON with the hex of the exact signed bytes and of the DER
signature, so that a third party can check it with its own tools, e.g.
``openssl pkeyutl -verify -pubin -inkey gw.pub.pem -rawin -digest sm3 -pkeyopt
distid:1234567812345678 -in signed.bin -sigfile sig.der``. Exit status 0 only when verified.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from watertel.crypto import SM2PrivateKey, SM2PublicKey, SignatureError
from watertel.envelope import GENESIS_HASH, ChainState, EnvelopeError, decode_payload, open_envelope, parse, seal
from watertel.readings import Quality, Reading

QUALITY_NAMES = {q.name.lower(): q for q in Quality}


class InputError(ValueError):
    """Readings JSON or an argument that cannot be sealed; the message names the reading and field."""


def reading_from_json(item: Any, index: int) -> Reading:
    """One reading: station, point, ts (ISO 8601 with offset), value (number or null), unit, quality."""
    where = f"reading {index}"
    if not isinstance(item, dict):
        raise InputError(f"{where}: expected an object")
    missing = [k for k in ("station", "point", "ts", "value", "unit", "quality") if k not in item]
    if missing:
        raise InputError(f"{where}: missing {', '.join(missing)}")
    try:
        ts = datetime.fromisoformat(item["ts"])
    except (TypeError, ValueError):
        raise InputError(f"{where}: ts: not ISO 8601 (got {item['ts']!r})") from None
    if ts.tzinfo is None:
        raise InputError(f"{where}: ts: needs a UTC offset, e.g. +08:00 (got {item['ts']!r})")
    value = item["value"]
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise InputError(f"{where}: value: a number or null (got {value!r})")
    quality = QUALITY_NAMES.get(str(item["quality"]).lower())
    if quality is None:
        raise InputError(f"{where}: quality: one of {', '.join(QUALITY_NAMES)} (got {item['quality']!r})")
    return Reading(str(item["station"]), str(item["point"]), round(ts.timestamp() * 1000),
                   math.nan if value is None else float(value), str(item["unit"]), quality)


def reading_to_json(r: Reading) -> dict[str, Any]:
    ts = datetime.fromtimestamp(r.t_ms / 1000).astimezone().isoformat(timespec="milliseconds")
    return {"station": r.station, "point": r.point, "ts": ts, "t_ms": r.t_ms,
            "value": None if math.isnan(r.value) else r.value, "unit": r.unit, "quality": r.quality.name.lower()}


def _said(err: Exception) -> str:
    """An error in words: ``FILE: reason`` for a file that cannot be read."""
    return f"{err.filename}: {err.strerror}" if isinstance(err, OSError) and err.filename else str(err)


def seal_command(args: argparse.Namespace) -> int:
    try:
        key = SM2PrivateKey.from_pem(Path(args.key).read_text())
        try:
            items = json.load(sys.stdin)
        except ValueError as err:
            raise InputError(f"stdin: not JSON ({err}): give a JSON list of readings") from err
        if not isinstance(items, list) or not items:
            raise InputError("stdin: expected a non-empty JSON list of readings")
        readings = [reading_from_json(item, i) for i, item in enumerate(items)]
        prev = bytes.fromhex(args.prev) if args.prev else GENESIS_HASH
        if len(prev) != 32 or args.seq < 1:
            raise InputError("--prev must be 64 hex digits (an SM3 hash) and --seq at least 1")
        created = args.created_ms if args.created_ms is not None else int(time.time() * 1000)
        data, _ = seal(readings, key, args.gateway, args.key_id, ChainState(args.seq, prev), created)
    except (OSError, SignatureError, InputError, ValueError) as err:  # json.JSONDecodeError is a ValueError
        print(f"error: {_said(err)}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(data)
    return 0


def inspect(data: bytes, public: SM2PublicKey | None) -> dict[str, Any]:
    """What the envelope says, whether it verifies, and the bytes a third party needs to check it."""
    report: dict[str, Any] = {"verified": False, "reason": None, "size": len(data)}
    try:
        parts = parse(data)
    except EnvelopeError as err:
        return {**report, "reason": err.reason, "detail": err.detail}
    report.update(gateway_id=parts.gateway_id, key_id=parts.key_id, seq=parts.seq, prev_hash=parts.prev_hash.hex(),
                  created_ms=parts.created_ms, encrypted=parts.sm4_key_id is not None, sm4_key_id=parts.sm4_key_id,
                  signed_data=parts.signed.hex(), signature=parts.signature.hex(), readings=None)
    if parts.sm4_key_id is None:
        try:
            report["readings"] = [reading_to_json(r) for r in decode_payload(parts.payload)]
        except EnvelopeError as err:
            report.update(reason=err.reason, detail=err.detail)
    if public is None:
        return {**report, "reason": report["reason"] or "no_public_key"}
    try:
        env = open_envelope(data, lambda g, k: public, lambda g, k: None)
    except EnvelopeError as err:
        if err.reason != "no_payload_key":  # the signature held; only the SM4 key is not here
            return {**report, "reason": err.reason, "detail": err.detail}
        return {**report, "verified": True, "reason": None}
    return {**report, "verified": True, "reason": None, "hash": env.hash.hex()}


def inspect_command(args: argparse.Namespace) -> int:
    try:
        data = Path(args.file).read_bytes()
        public = SM2PublicKey.from_pem(Path(args.pubkey).read_text()) if args.pubkey else None
    except (OSError, SignatureError) as err:
        print(f"error: {_said(err)}", file=sys.stderr)
        return 2
    if not data:
        print(f"error: {args.file} is empty (an envelope is the bytes a gateway published, e.g. saved with "
              "mosquitto_sub -C 1 > FILE)", file=sys.stderr)
        return 2
    report = inspect(data, public)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        print(f"{args.file}: {'verified' if report['verified'] else 'NOT verified: ' + str(report['reason'])}")
        for r in report.get("readings") or []:
            print(f"  {r['ts']} {r['station']}/{r['point']} = {r['value']} {r['unit']} ({r['quality']})")
    return 0 if report["verified"] else 1

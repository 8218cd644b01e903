"""What `watertel profile check|list|doc|schema` do (declared in ``cli``; `probe` is in ``probe``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from watertel.config import ConfigError
from watertel.firmware_profiles import doc as profile_doc
from watertel.firmware_profiles import schema as profile_schema
from watertel.firmware_profiles.codec import plan
from watertel.firmware_profiles.loading import load, profile_paths


def check(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.paths:
        try:
            load(Path(path))
            print(f"{path}: ok")
        except ConfigError as err:
            failed += 1
            print("\n".join(err.problems), file=sys.stderr)
    return 1 if failed else 0


def list_profiles(args: argparse.Namespace) -> int:
    for path in profile_paths():
        p = load(path)
        print(f"{path.stem:24} {p.kind:14} {p.vendor} {p.model} ({len(p.points)} points, {len(plan(p))} reads)")
    return 0


def doc(args: argparse.Namespace) -> int:
    print(profile_doc.render(), end="")
    return 0


def schema(args: argparse.Namespace) -> int:
    print(profile_schema.render(), end="")
    return 0

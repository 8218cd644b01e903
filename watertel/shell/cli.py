"""The `watertel` command: assembles the subcommands each part registers, then runs one.

Every part has a ``cli`` module that only declares its subcommands (argparse, nothing else) and
names each one's handler as ``"module:function"``. The handler's module is imported when its
command runs, so ``watertel edge run`` on a gateway installed with ``watertel[edge]`` never imports
the cloud's packages (FastAPI, numpy, …), and ``--help`` imports none of them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable

from watertel import __version__, logs
from watertel.cloud import cli as cloud_cli
from watertel.edge_agent import cli as edge_cli
from watertel.errors import ConfigError, OperatorError
from watertel.firmware_profiles import cli as profiles_cli
from watertel.shell import tools_cli
from watertel.simulators import cli as sim_cli

PARTS = (tools_cli, edge_cli, cloud_cli, sim_cli, profiles_cli)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="watertel", description="Signed water telemetry from the well to the regulator.")
    parser.add_argument("--version", action="version", version=f"watertel {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for libraries too)")
    parser.add_argument("--log-format", choices=logs.FORMATS, default=None,
                        help="logfmt (default) or json lines; also $WATERTEL_LOG_FORMAT")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for part in PARTS:
        part.add_parser(sub)
    return parser


def handler(spec: str) -> Callable[[argparse.Namespace], int]:
    """The function a subcommand named, ``"package.module:function"``, imported now."""
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.setup(args.verbose, args.log_format)
    try:
        return handler(args.handler)(args)
    except ConfigError as err:
        print("\n".join(err.problems), file=sys.stderr)
        return 1
    except OperatorError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # a file named on the command line or in a config: missing, a folder, not ours
        if err.filename is None:
            raise
        other = f" → {err.filename2}" if err.filename2 else ""
        print(f"error: {err.filename}{other}: {err.strerror or err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `watertel … | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141

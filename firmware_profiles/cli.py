"""`watertel profile check|list|doc|schema|probe`: the device register maps. Declarations only;
each handler is named as ``"module:function"`` and imported when its command runs."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("profile", help="firmware profiles (device register maps)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = actions.add_parser("check", help="validate profile files (file:line: key: problem (fix); exit 1 on error)")
    a.add_argument("paths", nargs="+", help="profile YAML files")
    a.set_defaults(handler="watertel.firmware_profiles.actions:check")
    a = actions.add_parser("list", help="the shipped profiles")
    a.set_defaults(handler="watertel.firmware_profiles.actions:list_profiles")
    a = actions.add_parser("doc", help="print firmware_profiles/README.md (register tables) from the YAML")
    a.set_defaults(handler="watertel.firmware_profiles.actions:doc")
    a = actions.add_parser("schema", help="print the profile format's JSON Schema")
    a.set_defaults(handler="watertel.firmware_profiles.actions:schema")
    a = actions.add_parser("probe", help="read every point of a profile from a device: raw, value, range, time")
    a.add_argument("--profile", required=True, help="profile YAML (or a shipped profile's name)")
    where = a.add_mutually_exclusive_group(required=True)
    where.add_argument("--tcp", metavar="HOST:PORT", help="Modbus TCP device")
    where.add_argument("--serial", metavar="PORT", help="Modbus RTU serial port (/dev/ttyUSB0)")
    a.add_argument("--baud", type=int, help="baud rate (default: the profile's)")
    a.add_argument("--parity", choices=["N", "E", "O"], help="parity (default: the profile's)")
    a.add_argument("--stopbits", type=int, choices=[1, 2], help="stop bits (default: the profile's)")
    a.add_argument("--unit", type=int, help="unit id (default: the profile's)")
    a.add_argument("--timeout", type=float, default=1.0, help="seconds to wait for each answer (default: %(default)s)")
    a.add_argument("--json", action="store_true", help="print the results as JSON")
    a.set_defaults(handler="watertel.firmware_profiles.probe:run")

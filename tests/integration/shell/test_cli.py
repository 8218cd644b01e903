"""The command line: subcommands listed, config errors that name file/line/key, keys, what a gateway command imports, Ctrl-C.

This file holds the tests that need a real server or run a command; the others are in
tests/system/test_cli.py."""

from __future__ import annotations

import subprocess
import sys

from tests.support.paths import ROOT


def watertel(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "watertel", *args], capture_output=True, text=True, cwd=ROOT, **kw)


def test_help_lists_every_subcommand():
    out = watertel("--help")
    assert out.returncode == 0
    for command in ("demo", "edge", "cloud", "broker", "sim", "keys", "profile", "report"):
        assert f"    {command}" in out.stdout, command


def test_keys_new_writes_private_key_readable_by_owner_only(tmp_path):
    out = watertel("keys", "new", "--gateway", "gw-9", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    private = tmp_path / "gw-9.key.pem"
    assert private.stat().st_mode & 0o777 == 0o600
    assert "BEGIN PUBLIC KEY" in (tmp_path / "gw-9.pub.pem").read_text()
    again = watertel("keys", "new", "--gateway", "gw-9", "--out", str(tmp_path))
    assert again.returncode == 1 and "exists" in again.stderr


def test_edge_check_names_file_line_and_key(tmp_path):
    watertel("keys", "new", "--gateway", "gw-1", "--out", str(tmp_path))
    config = tmp_path / "edge.yaml"
    config.write_text(
        "gateway_id: gw-1\n"
        "key: {private_key: gw-1.key.pem, key_id: k1}\n"
        "uplink: {brokers: ['http://broker:1883']}\n"
        "buffer: {path: buf.db}\n"
        "buses:\n"
        "  - name: b1\n"
        "    transport: {kind: tcp, host: 127.0.0.1}\n"
        "    devices:\n"
        "      - {name: d1, profile: emf_flow_meter, unit_id: 1, station: S1, poll_interval_s: -5}\n"
        "      - {name: d2, profile: no_such_profile, unit_id: 2, station: S1, colour: red}\n"
    )
    out = watertel("edge", "check", "--config", str(config))
    assert out.returncode == 1
    assert f"{config}:3: uplink.brokers: " in out.stderr and "mqtt://host:1883" in out.stderr
    assert f"{config}:9: buses.0.devices.0.poll_interval_s: " in out.stderr and "-5" in out.stderr
    assert f"{config}:10: buses.0.devices.1.colour: unknown key" in out.stderr


def test_edge_check_reports_a_missing_profile(tmp_path):
    watertel("keys", "new", "--gateway", "gw-1", "--out", str(tmp_path))
    config = tmp_path / "edge.yaml"
    config.write_text(
        "gateway_id: gw-1\nkey: {private_key: gw-1.key.pem, key_id: k1}\n"
        "uplink: {brokers: ['mqtt://127.0.0.1:1883']}\nbuffer: {path: buf.db}\n"
        "buses: [{name: b1, transport: {kind: tcp, host: 127.0.0.1},"
        " devices: [{name: d2, profile: no_such_profile, unit_id: 2, station: S1}]}]\n"
    )
    out = watertel("edge", "check", "--config", str(config))
    assert out.returncode == 1
    assert "buses.0.devices.0.profile: cannot load 'no_such_profile'" in out.stderr


def test_edge_check_refuses_two_buses_on_one_endpoint(tmp_path):
    watertel("keys", "new", "--gateway", "gw-1", "--out", str(tmp_path))
    config = tmp_path / "edge.yaml"
    bus = lambda name, unit: (f"  - {{name: {name}, transport: {{kind: tcp, host: 10.0.0.5, port: 502}},"
                              f" devices: [{{name: {name}-d, profile: emf_flow_meter, unit_id: {unit}, station: S1}}]}}\n")
    config.write_text("gateway_id: gw-1\nkey: {private_key: gw-1.key.pem, key_id: k1}\n"
                      "uplink: {brokers: ['mqtt://127.0.0.1:1883']}\nbuffer: {path: buf.db}\nbuses:\n"
                      + bus("plc-a", 1) + bus("plc-b", 2))
    out = watertel("edge", "check", "--config", str(config))
    assert out.returncode == 1
    assert "buses 'plc-a' and 'plc-b' both use 10.0.0.5:502: put their devices on one bus" in out.stderr


def test_a_gateway_command_loads_only_the_clouds_declarations():
    """`watertel edge run` imports its own handler; of the cloud, only its argparse declarations."""
    code = ("import sys; from watertel.shell.cli import build_parser, handler;"
            "handler(build_parser().parse_args(['edge', 'run', '--config', 'edge.yaml']).handler);"
            "print(sorted(m for m in sys.modules if m.startswith('watertel.cloud')"
            " or m.split('.')[0] in ('fastapi', 'numpy', 'scipy', 'uvicorn')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['watertel.cloud', 'watertel.cloud.cli']"

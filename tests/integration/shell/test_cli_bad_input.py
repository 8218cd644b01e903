"""No traceback from any `watertel` subcommand on bad input (issue 22).

The real command, in a subprocess, over a table of realistic mistakes: missing and extra
arguments, host:port forms without a port or with a word for one, ports already in use, missing
and empty files, a GBK station table, a wrong unit id against a real `sim run`, garbage hex. Each
case must end with a non-zero exit, a short error (the expected words in it) and no "Traceback";
a server on a busy port must refuse before it claims to serve.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest

from watertel.keys import write_key_pair
from watertel.ports import free_port, port_open
from watertel.shell.demo import Demo
from watertel.shell.processes import Child, wait_until

WATERTEL = [sys.executable, "-m", "watertel"]
MAX_LINES = 8  # argparse's usage and its error line, or our own lines: a short block, not a dump
GBK_STATIONS = "station,region,interval_minutes,commissioned,decommissioned,name\nST-0001,zj/hz/xh,60,,,三墩水厂取水口\n"
GBK_READINGS = "station,point,sample_time,value,quality\nST-0001,flow,2026-10-01T00:00:00+08:00,1.5,ok\n"
GBK_BACKTEST_STATIONS = "station,region,kind,interval_minutes\nST-0001,西湖区,inlet,60\n"


@dataclass(frozen=True)
class Case:
    args: str  # split on spaces; {dir}, {busy}, {sim}, {cloud} are filled in; '' is an empty argument
    says: str  # words the error must hold (case-insensitive)
    timeout: float = 20.0
    status: int | None = None  # the exit status, when a particular one is promised
    stdin: str = ""
    serves: bool = True  # False: nothing may claim to serve (stdout stays empty)


CASES = {
    # missing and extra arguments (argparse: usage and one error line, exit 2)
    "no command": Case("", "required: COMMAND"),
    "keys without action": Case("keys", "required"),
    "keys new without gateway": Case("keys new --out {dir}/k", "--gateway"),
    "envelope without action": Case("envelope", "required"),
    "frame without hex": Case("frame decode", "required: hex"),
    "frame extra argument": Case("frame decode 68 69", "unrecognized arguments: 69"),
    "edge without config": Case("edge check", "--config"),
    "edge unknown action": Case("edge start --config {dir}/edge.yaml", "invalid choice: 'start'"),
    "edge extra argument": Case("edge check --config {dir}/edge.yaml now", "unrecognized arguments: now"),
    "forward without config": Case("forward", "--config"),
    "rtu-gateway without config": Case("rtu-gateway", "--config"),
    "cloud without action": Case("cloud", "required"),
    "audit without config": Case("audit verify", "--config"),
    "report without action": Case("report", "required"),
    "rates without files": Case("rates --period 2026-10", "--arrivals"),
    "alarms without readings": Case("alarms backtest --stations {dir}/empty.csv", "--readings"),
    "sim without action": Case("sim", "required"),
    "sim fleet without arguments": Case("sim fleet", "--gateways"),
    "sim rtu without arguments": Case("sim rtu", "--connect"),
    "profile without action": Case("profile", "required"),
    "profile probe without device": Case("profile probe --profile emf_flow_meter", "--tcp"),
    "soak negative minutes": Case("soak --minutes -1", "--minutes must be > 0"),
    "demo negative duration": Case("demo --duration 0 --data-dir {dir}/demo-x", "--duration must be > 0"),
    # host:port forms
    "probe tcp without port": Case("profile probe --profile emf_flow_meter --tcp 127.0.0.1", "HOST:PORT"),
    "probe tcp port a word": Case("profile probe --profile emf_flow_meter --tcp :x", "HOST:PORT"),
    "probe tcp port too big": Case("profile probe --profile emf_flow_meter --tcp 127.0.0.1:70000", "HOST:PORT"),
    "sim run tcp without port": Case("sim run --profile emf_flow_meter --tcp 127.0.0.1", "HOST:PORT"),
    "sim run tcp port a word": Case("sim run --profile emf_flow_meter --tcp :x", "HOST:PORT"),
    "sim rtu connect without port": Case("sim rtu --protocol szy206 --connect 127.0.0.1 --address 330102-1234",
                                         "HOST:PORT"),
    "sim platform listen port a word": Case("sim platform --listen 127.0.0.1:x", "HOST:PORT"),
    "broker listen without port": Case("broker --listen 127.0.0.1", "HOST:PORT"),
    "rtu-gateway missing config and bad listen": Case("rtu-gateway --config {dir}/missing.yaml --listen :x",
                                                      "missing.yaml"),
    "sim fleet broker not a url": Case("sim fleet --gateways 2 --interval 5 --broker localhost --duration 5 "
                                       "--out {dir}/fleet", "mqtt://"),
    # ports in use: refused before anything claims to serve
    "sim run on a busy port": Case("sim run --profile emf_flow_meter --tcp 127.0.0.1:{busy}", "in use", serves=False),
    "sim platform on a busy port": Case("sim platform --listen 127.0.0.1:{busy}", "in use", serves=False),
    "broker on a busy port": Case("broker --listen 127.0.0.1:{busy}", "in use", serves=False),
    # missing files
    "edge check missing config": Case("edge check --config {dir}/missing.yaml", "missing.yaml: cannot read"),
    "edge status missing config": Case("edge status --config {dir}/missing.yaml", "missing.yaml: cannot read"),
    "forward missing config": Case("forward --check --config {dir}/missing.yaml", "missing.yaml"),
    "cloud check missing config": Case("cloud check --config {dir}/missing.yaml", "missing.yaml"),
    "audit missing config": Case("audit verify --config {dir}/missing.yaml", "missing.yaml"),
    "report summary missing config": Case("report summary --config {dir}/missing.yaml", "missing.yaml"),
    "envelope inspect missing file": Case("envelope inspect {dir}/missing.bin", "missing.bin: No such file"),
    "envelope seal missing key": Case("envelope seal --key {dir}/missing.pem --gateway gw-1 --seq 1",
                                      "missing.pem: No such file"),
    "profile check missing file": Case("profile check {dir}/missing.yaml", "missing.yaml"),
    "profile probe missing profile": Case("profile probe --profile {dir}/missing.yaml --tcp 127.0.0.1:{sim}",
                                          "missing.yaml"),
    "sim run missing config": Case("sim run --config {dir}/missing.yaml", "missing.yaml"),
    "sim run missing scenario": Case("sim run --profile emf_flow_meter --tcp 127.0.0.1:{free} "
                                     "--scenario {dir}/missing.yaml", "missing.yaml"),
    "rates missing files": Case("rates --arrivals {dir}/missing.csv --stations {dir}/missing.csv "
                                "--period 2026-10-01/2026-11-01", "missing.csv"),
    "backtest missing files": Case("alarms backtest --readings {dir}/missing.csv --stations {dir}/missing.csv",
                                   "missing.csv"),
    "cloud import missing file": Case("cloud import {dir}/missing.csv --config {cloud}", "missing.csv"),
    "cloud restore missing file": Case("cloud restore {dir}/missing.db --config {cloud}", "missing.db"),
    # empty files
    "edge check empty config": Case("edge check --config {dir}/empty.yaml", "required key is missing"),
    "cloud check empty config": Case("cloud check --config {dir}/empty.yaml", "required key is missing"),
    "profile check empty file": Case("profile check {dir}/empty.yaml", "empty.yaml"),
    "sim run empty config": Case("sim run --config {dir}/empty.yaml", "empty.yaml"),
    "envelope inspect empty file": Case("envelope inspect {dir}/empty.csv", "empty.csv is empty"),
    "rates empty files": Case("rates --arrivals {dir}/empty.csv --stations {dir}/empty.csv "
                              "--period 2026-10-01/2026-11-01", "empty.csv"),
    "backtest empty files": Case("alarms backtest --readings {dir}/empty.csv --stations {dir}/empty.csv", "empty.csv"),
    "cloud import empty csv": Case("cloud import {dir}/empty.csv --config {cloud} --dry-run", "empty.csv"),
    # GBK CSV (Excel on Chinese Windows): read, or refused with the fix; never a UnicodeDecodeError
    "backtest GBK readings": Case("alarms backtest --readings {dir}/gbk-readings.csv --stations {dir}/gbk-bt.csv "
                                  "--format csv --rules {dir}/missing.yaml", "missing.yaml"),
    "cloud import GBK csv": Case("cloud import {dir}/gbk-stations.csv --config {cloud} --dry-run", "gbk-stations.csv"),
    # wrong values
    "frame decode empty": Case("frame decode ''", "no bytes"),
    "frame decode garbage": Case("frame decode zz", "not hexadecimal"),
    "frame decode short": Case("frame decode 6801", "truncated"),
    "frame decode unknown start": Case("frame decode ff02030405060708090a0b0c", "start bytes: FF02 is neither"),
    "rates bad period": Case("rates --arrivals {dir}/gbk-stations.csv --stations {dir}/gbk-stations.csv "
                             "--period October", "period"),
    "cloud command bad json": Case("cloud command read_now --gateway gw-1 --args {{ --config {cloud}", "--args"),
    "report rates bad period": Case("report rates --config {cloud} --period 2026-13", "2026-13"),
    "cloud run missing config": Case("cloud run --config {dir}/missing.yaml", "missing.yaml"),
    "cloud ingest missing config": Case("cloud ingest --config {dir}/missing.yaml", "missing.yaml"),
    "cloud api missing config": Case("cloud api --config {dir}/missing.yaml", "missing.yaml"),
    "cloud migrate missing config": Case("cloud migrate --config {dir}/missing.yaml", "missing.yaml"),
    "cloud fleet missing config": Case("cloud fleet --config {dir}/missing.yaml", "missing.yaml"),
    "cloud backup without file": Case("cloud backup --config {cloud}", "FILE"),
    "cloud rollout missing file": Case("cloud rollout --gateways gw-* --file {dir}/missing.yaml --config {cloud}",
                                       "missing.yaml"),
    "cloud export into no folder": Case("cloud export --config {cloud} --out {dir}/no/such/registry.yaml", "no/such"),
    "cloud hash-password without input": Case("cloud hash-password", "password"),
    "keys new-sm4 over a file": Case("keys new-sm4 --out {dir}/empty.csv", "empty.csv"),
    "keys new out is a file": Case("keys new --gateway gw-1 --out {dir}/empty.csv", "empty.csv is a file"),
    "envelope seal not json": Case("envelope seal --key {dir}/keys/gw-1.key.pem --gateway gw-1 --seq 1", "JSON",
                                   stdin="not json"),
    "envelope seal empty list": Case("envelope seal --key {dir}/keys/gw-1.key.pem --gateway gw-1 --seq 1",
                                     "non-empty JSON list", stdin="[]"),
    "forward empty config": Case("forward --check --config {dir}/empty.yaml", "required key is missing"),
    "rtu-gateway empty config": Case("rtu-gateway --config {dir}/empty.yaml", "required key is missing"),
    "edge status never ran": Case("edge status --config {demo}/edge-gw-1.yaml", "no status file"),
    "sim run speed 0": Case("sim run --profile emf_flow_meter --tcp 127.0.0.1:{free} --speed 0", "--speed"),
    "sim run unit 300": Case("sim run --profile emf_flow_meter --tcp 127.0.0.1:{free} --unit 300", "unit"),
    "sim run bad start": Case("sim run --profile emf_flow_meter --tcp 127.0.0.1:{free} --start yesterday", "--start"),
    "sim fleet no gateways": Case("sim fleet --gateways 0 --interval 5 --broker mqtt://127.0.0.1:{free} "
                                  "--duration 5 --out {dir}/fleet0", "--gateways"),
    "sim platform not this machine": Case("sim platform --listen 192.0.2.1:9000", "192.0.2.1:9000"),
    "probe missing serial port": Case("profile probe --profile emf_flow_meter --serial {dir}/ttyUSB9 --timeout 0.2",
                                      "ttyUSB9"),
    "probe unit 0": Case("profile probe --profile emf_flow_meter --tcp 127.0.0.1:{sim} --unit 0", "--unit"),
    "backtest bad time zone": Case("alarms backtest --readings {dir}/gbk-readings.csv --stations {dir}/gbk-bt.csv "
                                   "--tz Mars/Olympus", "Mars/Olympus"),
    "rates GBK stations, empty arrivals": Case("rates --arrivals {dir}/empty.csv --stations {dir}/gbk-stations.csv "
                                               "--period 2026-10-01/2026-11-01", "empty.csv"),
    # a real device, the wrong unit id: a hint to check it, not pymodbus hex dumps, and an end
    "probe wrong unit id": Case("profile probe --profile emf_flow_meter --tcp 127.0.0.1:{sim} --unit 9 "
                                "--timeout 0.2", "unit id"),
    "probe nothing listening": Case("profile probe --profile emf_flow_meter --tcp 127.0.0.1:{free} --timeout 0.2",
                                    "127.0.0.1:{free}"),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Files, a busy port, a simulated flow meter, and the demo's cloud.yaml to point commands at."""
    folder = tmp_path_factory.mktemp("bad-input")
    (folder / "empty.yaml").write_text("")
    (folder / "empty.csv").write_text("")
    (folder / "gbk-stations.csv").write_bytes(GBK_STATIONS.encode("gbk"))
    (folder / "gbk-readings.csv").write_bytes(GBK_READINGS.encode("gbk"))
    (folder / "gbk-bt.csv").write_bytes(GBK_BACKTEST_STATIONS.encode("gbk"))
    write_key_pair(folder / "keys", "gw-1")
    demo = Demo(folder / "demo", f"mqtt://127.0.0.1:{free_port()}")
    demo.prepare()
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    sim_port = free_port()
    sim = Child("sim", [*WATERTEL, "sim", "run", "--profile", "emf_flow_meter", "--tcp", f"127.0.0.1:{sim_port}"],
                folder / "logs")
    try:
        wait_until(lambda: port_open(sim_port), "the simulated flow meter", sim)
        yield {"dir": str(folder), "busy": busy.getsockname()[1], "sim": sim_port, "free": free_port(),
               "cloud": str(demo.dir / "cloud.yaml"), "demo": str(demo.dir)}
    finally:
        sim.stop()
        busy.close()


def _argv(args: str, values: dict) -> list[str]:
    if args == "":
        return []
    return ["" if part == "''" else part.format(**values) for part in args.split(" ")]


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gets_a_clear_error_and_no_traceback(name, world):
    case = CASES[name]
    began = time.monotonic()
    try:
        done = subprocess.run([*WATERTEL, *_argv(case.args, world)], capture_output=True, text=True,
                              timeout=case.timeout, input=case.stdin, cwd=world["dir"])
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"still running after {case.timeout:g} s (it should have refused): {err.stdout}{err.stderr}")
    out = done.stdout + done.stderr
    assert "Traceback" not in out, out
    assert done.returncode != 0, f"exit 0 on bad input:\n{out}"
    if case.status is not None:
        assert done.returncode == case.status, out
    assert case.says.format(**world).lower() in done.stderr.lower(), done.stderr
    assert len(done.stderr.strip().splitlines()) <= MAX_LINES, done.stderr
    assert case.serves or not done.stdout, f"claimed to serve on a port it could not take: {done.stdout}"
    assert time.monotonic() - began < case.timeout

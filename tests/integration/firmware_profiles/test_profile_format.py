"""The extended profile format: BCD, bits, composite totalisers, writable points with safety
limits, registers claimed twice, the JSON Schema, and errors that read `file:line: key: problem (fix)`.

This file holds the tests that need a real server or run a command; the others are in
tests/unit/firmware_profiles/test_profile_format.py."""

from __future__ import annotations

import subprocess
import sys

from tests.support.paths import ROOT

HEAD = "vendor: V\nmodel: M\nkind: pump\npoints:\n"


def test_cli_check_reports_every_bad_file_and_exits_1(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(HEAD + "  - {name: a, address: 0, type: u16}\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text(HEAD + "  - {name: a, function: input, address: 0, type: bit}\n  - {name: b, address: 0, type: u16}\n"
                   "  - {name: c, address: 0, type: u16}\n")
    out = subprocess.run([sys.executable, "-m", "watertel", "profile", "check", str(good), str(bad)],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 1 and out.stdout == f"{good}: ok\n"
    assert out.stderr.splitlines() == [
        f"{bad}:5: points.0: a bit of a input register needs its number (add bit: 0..15)"]
    bad.write_text(HEAD + "  - {name: b, address: 0, type: u16}\n  - {name: c, address: 0, type: u16}\n")
    out = subprocess.run([sys.executable, "-m", "watertel", "profile", "check", str(bad)],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 1 and out.stderr.splitlines() == [
        f"{bad}:6: points.1: holding register 0 is already used by b "
        "(move one of them, or make both bit points with different bits)"]

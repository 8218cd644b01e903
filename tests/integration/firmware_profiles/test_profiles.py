"""Firmware profiles: the shipped ones load, the codec's word orders, read planning, and errors that
name the file, line and key (library and `watertel profile check`).

This file holds the tests that need a real server or run a command; the others are in
tests/unit/firmware_profiles/test_profiles.py."""

from __future__ import annotations

import subprocess
import sys

from watertel import firmware_profiles

from tests.support.paths import ROOT
from tests.support.profiles import GOOD, write

SHIPPED = firmware_profiles.profile_paths()


def watertel(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "watertel", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def test_cli_check_good_and_bad(tmp_path):
    good = write(tmp_path, GOOD, "good.yaml")
    bad = write(tmp_path, GOOD.replace("scale: 2.5", "scale: 0") + "    colour: red\n", "bad.yaml")
    out = watertel("profile", "check", str(good), str(bad))
    assert out.returncode == 1
    assert f"{good}: ok" in out.stdout and str(bad) not in out.stdout
    lines = out.stderr.splitlines()
    assert (f"{bad}:9: points.0.scale: must be a finite non-zero number, got 0 "
            "(use the value of one raw step, e.g. 0.01)") in lines
    assert f"{bad}:10: points.0.colour: unknown key (remove it or check its spelling)" in lines
    assert "Traceback" not in out.stderr


def test_cli_check_good_files_exit_0(tmp_path):
    good = write(tmp_path, GOOD, "good.yaml")
    out = watertel("profile", "check", str(good), *map(str, SHIPPED))
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    assert out.stdout.splitlines() == [f"{f}: ok" for f in (good, *SHIPPED)]


def test_cli_check_invalid_yaml(tmp_path):
    bad = write(tmp_path, "vendor: [unclosed\n", "broken.yaml")
    out = watertel("profile", "check", str(bad))
    assert out.returncode == 1
    assert out.stderr.startswith(f"{bad}:2: not valid YAML")

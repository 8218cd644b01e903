"""The three commands that read station CSVs (`watertel rates`, `watertel alarms backtest`,
`watertel cloud import FILE.csv`) on the files operators actually have: a file in neither
encoding through a real ``python -m watertel`` prints one clear line, never a traceback.

This file holds the tests that need a real server or run a command; the others (each command in
process on every kind of file) are in tests/unit/cloud/csv_tables/test_csv_commands.py."""

from __future__ import annotations

import subprocess
import sys

from tests.support.csv_commands import COMMANDS, NEITHER, text


def test_the_real_command_line_prints_no_traceback(tmp_path):
    table = tmp_path / "stations.csv"
    table.write_bytes(text(COMMANDS[0], "neither").encode("latin-1"))
    done = subprocess.run([sys.executable, "-m", "watertel", *COMMANDS[0].argv(tmp_path, table)], capture_output=True,
                          text=True, timeout=60)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith(f"{table}:3: {NEITHER}") and "Traceback" not in done.stderr

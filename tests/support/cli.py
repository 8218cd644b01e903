"""`watertel …` run as a command from the repository root."""

from __future__ import annotations

import subprocess
import sys

from tests.support.paths import ROOT


def watertel(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "watertel", *args], capture_output=True, text=True, cwd=ROOT)

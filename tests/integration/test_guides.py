"""The three guides (docs/integrator.md, docs/vendor.md, docs/operator.md) run as written.

Every fenced block whose info string is ``sh run`` is run, in order, with bash (``-euo pipefail``)
in one temporary folder per guide that stands for the root of a clone (``deploy/`` and
``firmware_profiles/`` are links to the repository's), with the real `watertel` command first on
PATH, and must exit 0. A ``text`` block right after a run block is the output the guide shows:
each of its lines must appear in the block's output, in order, ``…`` standing for any text.
Plain ``sh`` blocks are illustrative (sudo, a real serial port, a broker on another host).

The guides use the ports a reader would (5020 and 5021 simulators, 1883 the broker, 8080 the
console); the test gives each a free loopback port instead, so that it runs beside other tests.
Servers a guide starts in the background keep running across its blocks until the guide stops
them; any left when a guide ends (or fails) are killed with the process group of their block.
That each guide is linked and has blocks to run is checked in tests/unit/test_guide_blocks.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.guides import run_blocks, shown_in, with_ports
from tests.support.paths import ROOT
from watertel.ports import free_port

GUIDES = ("integrator", "vendor", "operator")
GUIDE_PORTS = (5020, 5021, 1883, 8080)  # as written in the guides; replaced by free ports when run
BLOCK_TIMEOUT_S = 90


def clone_like(folder: Path) -> None:
    """The guide's working folder: what a reader has at the root of a clone."""
    for name in ("deploy", "firmware_profiles"):
        (folder / name).symlink_to(ROOT / name)


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "WATERTEL_LOG"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.mark.timeout(600)
@pytest.mark.parametrize("guide", GUIDES)
def test_guide_runs_as_written(guide, tmp_path):
    blocks = run_blocks((ROOT / "docs" / f"{guide}.md").read_text())
    ports = {p: free_port() for p in GUIDE_PORTS}
    clone_like(tmp_path)
    env = environment()
    groups: list[int] = []
    try:
        for block in blocks:
            proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", with_ports(block.script, ports)], cwd=tmp_path,
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    start_new_session=True)
            groups.append(proc.pid)
            try:
                output, _ = proc.communicate(timeout=BLOCK_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                output, _ = proc.communicate()
                pytest.fail(f"docs/{guide}.md:{block.line}: still running after {BLOCK_TIMEOUT_S} s\n{output[-3000:]}")
            where = f"docs/{guide}.md:{block.line}"
            assert proc.returncode == 0, f"{where}: exit {proc.returncode}\n{block.script}\n--- output:\n{output[-4000:]}"
            assert "Traceback" not in output, f"{where}: a traceback\n{output[-4000:]}"
            missing = shown_in([with_ports(line, ports) for line in block.expected], output)
            assert missing is None, f"{where}: the guide shows {missing!r}, the command printed:\n{output[-4000:]}"
    finally:
        for group in groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass

"""The three guides (docs/integrator.md, docs/vendor.md, docs/operator.md) run as written.

Every fenced block whose info string is ``sh run`` is run, in order, with bash (``-euo pipefail``)
in one temporary folder per guide that stands for the root of a clone (``deploy/`` and
``firmware_profiles/`` are links to the repository's), with the real `watertel` command first on
PATH, and must exit 0. A ``text`` block right after a run block is the output the guide shows:
each of its lines must appear in the block's output, in order, ``…`` standing for any text.
Plain ``sh`` blocks are illustrative (sudo, a real serial port, a broker on another host).

The guides use the ports a reader would (5020 and 5021 simulators, 1883 the broker, 8080 the
console); the test gives each a free loopback port instead, so that it runs beside other tests. Servers a
guide starts in the background keep running across its blocks until the guide stops them; any
left when a guide ends (or fails) are killed with the process group of their block.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.paths import ROOT
from watertel.ports import free_port

GUIDES = ("integrator", "vendor", "operator")
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.M | re.S)
GUIDE_PORTS = (5020, 5021, 1883, 8080)  # as written in the guides; replaced by free ports when run
BLOCK_TIMEOUT_S = 90


@dataclass
class Block:
    line: int  # where the block starts in the guide (for failure messages)
    script: str
    expected: list[str]  # lines of the output shown after it ("…" = anything)


def run_blocks(text: str) -> list[Block]:
    """The ``sh run`` blocks of a guide, each with the ``text`` block that directly follows it."""
    fences = [(m.group(1).split(), m.group(2), m.start(), m.end()) for m in FENCE.finditer(text)]
    blocks = []
    for i, (info, body, start, end) in enumerate(fences):
        if info[:2] != ["sh", "run"]:
            continue
        expected: list[str] = []
        if i + 1 < len(fences):
            n_info, n_body, n_start, _ = fences[i + 1]
            if n_info[:1] == ["text"] and not text[end:n_start].strip():
                expected = [line.strip() for line in n_body.splitlines() if line.strip()]
        blocks.append(Block(text.count("\n", 0, start) + 1, body, expected))
    return blocks


def shown_in(expected: list[str], output: str) -> str | None:
    """None when every expected line appears in ``output`` in order, else the first one missing."""
    pos = 0
    for line in expected:
        pattern = r"[^\n]*?".join(re.escape(part) for part in line.split("…"))
        found = re.compile(pattern).search(output, pos)
        if found is None:
            return line
        pos = found.end()
    return None


def with_ports(script: str, ports: dict[int, int]) -> str:
    return re.sub(r"\b(%s)\b" % "|".join(map(str, ports)), lambda m: str(ports[int(m.group(1))]), script)


def clone_like(folder: Path) -> None:
    """The guide's working folder: what a reader has at the root of a clone."""
    for name in ("deploy", "firmware_profiles"):
        (folder / name).symlink_to(ROOT / name)


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "WATERTEL_LOG"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def test_every_guide_block_is_found():
    """Each guide exists, is linked from the README and has blocks to run (a renamed fence would
    otherwise silence the test below)."""
    readme = (ROOT / "README.md").read_text()
    for guide in GUIDES:
        assert f"(docs/{guide}.md)" in readme, f"README.md does not link docs/{guide}.md"
        blocks = run_blocks((ROOT / "docs" / f"{guide}.md").read_text())
        assert len(blocks) >= 3, f"docs/{guide}.md: only {len(blocks)} `sh run` blocks"
        assert any(b.expected for b in blocks), f"docs/{guide}.md shows no output to check"


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

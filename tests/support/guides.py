"""The runnable blocks of the guides (docs/integrator.md, vendor.md, operator.md) and the output
they show: parsed here, run by tests/integration/test_guides.py, the parsing checked in
tests/unit/test_guide_blocks.py.

A block runs when its fence's info string starts with ``sh run``; a ``text`` block directly after
it (nothing but blank lines between) is the output it must print, ``…`` standing for any text
within a line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.M | re.S)


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
    """The port numbers a guide writes (whole numbers only: 15020 is not 5020) replaced by ``ports``."""
    return re.sub(r"\b(%s)\b" % "|".join(map(str, ports)), lambda m: str(ports[int(m.group(1))]), script)

"""The worked examples of docs/envelope.md, read from the page."""

from __future__ import annotations

import re

from tests.support.paths import ROOT

DOC = ROOT / "docs" / "envelope.md"
TEXT = DOC.read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", TEXT, re.M | re.S)


def examples() -> list[bytes]:
    return [bytes.fromhex("".join(block.split())) for block in blocks("hex")]

"""Where things are: the repository root (the tests read deploy/, docs/ and the profiles from it)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

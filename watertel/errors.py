"""Errors an operator can act on: the command line prints their message, without a traceback.

Kept free of third-party imports, so the command line can name them before it loads anything.
"""

from __future__ import annotations

from pathlib import Path


class OperatorError(Exception):
    """Something to fix outside the code (a file, a database, a version); the message says what."""


class ConfigError(Exception):
    """A configuration file that cannot be used; ``problems`` holds one line per error."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.path = str(path)
        self.problems = problems

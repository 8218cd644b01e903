"""Identifiers that come in from outside and end up in file names, MQTT topics and log lines:
gateway and key ids, user names, station, device and point names.

One rule everywhere (issue 21): a letter or digit first, then letters, digits, ``.``, ``_`` or
``-``. So no ``.`` or ``..`` (a gateway id ``..`` wrote its key file outside gateway-keys/), no
``/``, no MQTT wildcard, no space or control character, never a hidden file.
"""

from __future__ import annotations

import re

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"  # for pydantic ``Field(pattern=…)``
_ID = re.compile(ID_PATTERN)


def is_id(value: object) -> bool:
    """Whether ``value`` is a valid identifier (the whole string; a final newline is not allowed)."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None and not value.endswith("\n")


def check_id(value: str, what: str = "id") -> str:
    """``value`` if valid, else ValueError naming ``what`` and the rule (for names not read
    through a pydantic model: command-line arguments, topics)."""
    if not is_id(value):
        raise ValueError(f"{what} {value!r}: use letters, digits, '.', '_' or '-', starting with a letter or digit")
    return value

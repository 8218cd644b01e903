"""What a new console password must be (the API's user writes and `watertel cloud hash-password`).

- at least ``MIN_LENGTH`` (10) characters: the login limits (cloud/api/login_limits.py) bound
  online guessing, the length bounds offline guessing of a leaked users file; 10 rather than
  NIST SP 800-63B's floor of 8 because these accounts acknowledge alarms and manage users, and a
  passphrase of a few words passes easily;
- at least ``MIN_DISTINCT`` (5) different characters (``aaaaaaaaaa``, ``abababab12`` are one
  guess each in any cracking list);
- not the user name, and not containing it when it has 4 characters or more (a user name is
  public within the bureau; a 2-letter surname such as ``li`` may well be part of a phrase);
- not in the common-password list shipped beside this module (common-passwords.txt), nor one of
  its words followed by digits and symbols (``password2024!``): the first guesses of any spraying.

No rule on character classes: NIST advises against composition rules (they give ``Password1!``),
and a Chinese passphrase in pinyin or characters is fine.
"""

from __future__ import annotations

import re
from enum import Enum
from functools import cache
from pathlib import Path

MIN_LENGTH = 10
MIN_DISTINCT = 5
COMMON_FILE = Path(__file__).with_name("common-passwords.txt")
TRAILER = re.compile(r"[\d\W_]+$")  # digits and symbols added at the end of a common word


class Weakness(str, Enum):
    """Why a password is refused (the API's error code is ``password.<value>``)."""

    SHORT = "short"
    SIMPLE = "simple"
    USER_NAME = "user_name"
    COMMON = "common"


MESSAGES = {
    Weakness.SHORT: f"a password needs at least {MIN_LENGTH} characters (a few words are easiest)",
    Weakness.SIMPLE: f"a password needs at least {MIN_DISTINCT} different characters",
    Weakness.USER_NAME: "a password may not be or contain the user name",
    Weakness.COMMON: "that password is in the list of common passwords: choose another",
}


@cache
def common() -> frozenset[str]:
    """The common passwords (lower case), read once."""
    lines = COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def weakness(password: str, username: str = "") -> Weakness | None:
    """The first rule ``password`` breaks for ``username`` (None: it may be used)."""
    lowered = password.lower()
    if len(password) < MIN_LENGTH:
        return Weakness.SHORT
    if len(set(lowered)) < MIN_DISTINCT:
        return Weakness.SIMPLE
    name = username.lower()
    if name and (lowered == name or (len(name) >= 4 and name in lowered)):  # "li" may be in a passphrase
        return Weakness.USER_NAME
    stem = TRAILER.sub("", lowered)
    if lowered in common() or stem in common() or lowered.strip() in common():
        return Weakness.COMMON
    return None

"""Is the gateway's clock synchronised? The kernel knows: ``adjtimex`` returns TIME_ERROR while no
time service (chrony, systemd-timesyncd, ntpd) disciplines the clock. A gateway without a
battery-backed clock boots in 1970 or wherever it stopped; its readings must say so."""

from __future__ import annotations

import ctypes
import ctypes.util

TIME_ERROR = 5
_TIMEX_BYTES = 512  # struct timex is 208 bytes on 64-bit Linux; room to spare


def _adjtimex() -> int | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        return libc.adjtimex(ctypes.create_string_buffer(_TIMEX_BYTES))  # modes 0: read only
    except (OSError, AttributeError):
        return None


def clock_synchronised() -> bool | None:
    """True or False from the kernel, None where it cannot tell (not Linux)."""
    state = _adjtimex()
    return None if state is None or state < 0 else state != TIME_ERROR

"""Is the gateway's clock synchronised? The kernel knows: ``adjtimex`` returns TIME_ERROR while no
time service (chrony, systemd-timesyncd, ntpd) disciplines the clock. A gateway without a
battery-backed clock boots in 1970 or wherever it stopped; its readings must say so."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import time

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


# --- offset against a signed timestamp, and adjusting the clock (check_clock / set_time) ----------

CAP_SYS_TIME = 25


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


def has_cap_sys_time() -> bool:
    """Whether this process may set the clock (CAP_SYS_TIME in its effective set)."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> CAP_SYS_TIME & 1)
    except OSError:
        pass
    return False


def adjust_clock(offset_ms: int, max_slew_ms: int) -> str:
    """Remove ``offset_ms`` (gateway minus reference): slew small offsets (adjtime, the clock stays
    monotonic), step larger ones (clock_settime). Returns "slewed" or "stepped"; OSError (EPERM
    without CAP_SYS_TIME) is the caller's to report."""
    if abs(offset_ms) <= max_slew_ms:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        delta_us = -offset_ms * 1000
        seconds = int(delta_us / 1_000_000)  # toward zero; glibc adds tv_sec and tv_usec with their signs
        delta = _Timeval(seconds, delta_us - seconds * 1_000_000)
        if libc.adjtime(ctypes.byref(delta), None) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        return "slewed"
    time.clock_settime(time.CLOCK_REALTIME, time.clock_gettime(time.CLOCK_REALTIME) - offset_ms / 1000)
    return "stepped"

"""A clock the test moves by hand (``clock.t_ms``); called, it gives Unix seconds like time.time."""

from __future__ import annotations


class Clock:
    def __init__(self, t_ms: int) -> None:
        self.t_ms = t_ms

    def __call__(self) -> float:
        return self.t_ms / 1000

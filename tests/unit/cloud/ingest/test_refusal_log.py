"""Refusal logs are counts, not one line each (issue 21: every refused message logged a warning)."""

from __future__ import annotations

import logging

from watertel.cloud.ingest.refusals import MAX_SENDERS, RefusalLog


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "watertel.cloud.ingest"]


def test_a_flood_is_one_line_then_one_count_per_period(caplog):
    caplog.set_level(logging.WARNING)
    clock = Clock()
    refusals = RefusalLog(10.0, clock)
    for i in range(100):
        clock.t = i * 0.01
        refusals.refused("gw-b", "too_large", f"envelope refused: too_large {i}", {})
    clock.t = 10.5
    refusals.flush()
    assert lines(caplog) == ["envelope refused: too_large 0", "refused 100 messages from gw-b (too_large) in the last 10 s"]
    caplog.clear()
    for period in range(3):  # the flood goes on: no first line again, one count a period
        for i in range(50):
            refusals.refused("gw-b", "too_large", "again", {})
        clock.t += 10
        refusals.flush()
    assert lines(caplog) == ["refused 50 messages from gw-b (too_large) in the last 10 s"] * 3
    caplog.clear()
    clock.t += 20
    refusals.flush()  # a quiet period: nothing; the next refusal is said in full again
    refusals.refused("gw-b", "too_large", "back", {})
    assert lines(caplog) == ["back"]


def test_senders_named_by_the_topic_cannot_buy_lines(caplog):
    caplog.set_level(logging.WARNING)
    clock = Clock()
    refusals = RefusalLog(10.0, clock)
    for i in range(1000):
        refusals.refused(f"gw-{i}", "bad_magic", f"refused from gw-{i}", {})
    clock.t = 10
    refusals.flush()
    logged = lines(caplog)
    assert len(logged) == 2 * MAX_SENDERS + 1
    assert logged[-1] == f"refused {1000 - MAX_SENDERS} messages from {1000 - MAX_SENDERS} more senders (bad_magic 980) in the last 10 s"

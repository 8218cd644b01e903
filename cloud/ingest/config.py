"""The ingest's own settings: the ``ingest:`` section of the cloud config.

Everything here bounds what a sender can make the cloud keep or say about messages it refuses
(issue 21): the quarantine holds a digest and the first bytes of each refused message, never
the whole body, and is capped and pruned by age; refusals are logged as counts per sender and
reason, not one line each; sample times far from the arrival time are refused; the gateway is
told of its refused envelopes in signed notices, at most one per reason per period (issue 22)::

    ingest:
      quarantine: {max_rows: 50000, keep_days: 30}
      refusal_log_every_s: 10
      sample_time: {past_days: 180, future_s: 86400}
      notices: {enabled: true, every_s: 10, valid_s: 300, max_per_period: 100}
"""

from __future__ import annotations

from pydantic import Field, model_validator

from watertel.config import Strict

QUARANTINE_PREFIX_BYTES = 256  # of a refused message kept for inspection (its SM3 and size are kept too)
QUARANTINE_TEXT_CHARS = 512  # of its topic and detail: both may be chosen by the sender


class QuarantineConfig(Strict):
    """``ingest.quarantine``: a row is at most ~1.3 KB (256 bytes of the message, topic and detail
    cut to 512 characters each), so ``max_rows`` also bounds its size: 50,000 rows ≤ 65 MB, ~20 MB
    in practice. The oldest rows go first; rows older than ``keep_days`` are pruned every
    ``prune_every_s``."""

    max_rows: int = Field(50_000, ge=100)
    keep_days: float = Field(30.0, gt=0)
    prune_every_s: float = Field(60.0, gt=0)


class SampleTimeConfig(Strict):
    """``ingest.sample_time``: the window around the arrival time a reading's sample time must fall
    in; readings outside it are not stored (the rest of their envelope is), counted and quarantined
    with the reason ``sample_time``.

    ``past_days`` (180) must let a gateway's backlog in after a long outage: the edge buffer keeps
    unsent readings until its ``max_mb`` (512 MB by default, ~40 days of a busy pump house at 20
    points every 10 s, far longer for a small station) is full, and a resend can ask for any of
    them. What lies further back is a clock that reset (1970, 2000) rather than a backlog.
    ``future_s`` (1 day): a gateway's clock a few minutes or hours fast still delivers (the
    timeliness rate counts those readings as ``future``); a day ahead is a broken clock, and a
    reading dated 2100 would keep a station "reporting" until then."""

    past_days: float = Field(180.0, gt=0)
    future_s: float = Field(86_400.0, gt=0)


class NoticesConfig(Strict):
    """``ingest.notices``: the cloud's verdict told to gateways (needs ``command_key``; a gateway
    verifies notices with the key it verifies commands with, ``commands.cloud_public_key``)."""

    enabled: bool = True
    every_s: float = Field(10.0, gt=0)  # at most one notice per gateway and reason per period
    # a refusal not renewed (or cleared) within this lapses on the gateway: longer than the longest gap
    # between a gateway's envelopes (its slowest poll interval), or a steady refusal would come and go
    valid_s: float = Field(300.0, gt=0)
    max_per_period: int = Field(100, ge=1)  # notices per period over all gateways

    @model_validator(mode="after")
    def _renewed_in_time(self) -> NoticesConfig:
        if self.valid_s < 2 * self.every_s:
            raise ValueError(f"valid_s ({self.valid_s:g}) must be at least twice every_s ({self.every_s:g}): a refusal"
                             " is renewed once per every_s and must not lapse in between")
        return self


class IngestConfig(Strict):
    """``ingest:`` (all optional)."""

    quarantine: QuarantineConfig = QuarantineConfig()
    refusal_log_every_s: float = Field(10.0, gt=0)  # per sender and reason: the first refusal, then a count per period
    sample_time: SampleTimeConfig = SampleTimeConfig()
    notices: NoticesConfig = NoticesConfig()  # refusals told to the gateway, signed (cloud/ingest/notices.py)

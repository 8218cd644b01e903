"""What the cloud says of this gateway's envelopes, from its signed notices (watertel/notices.py).

The broker's PUBACK only says the broker has a batch; the cloud may still refuse it (a key that is
not registered, a revoked key, a station it does not know). Ingest tells the gateway in notices
signed with the cloud's command key; this keeps, per refusal reason, since when, how many
envelopes and until when (a refusal lapses at its ``until_ms`` unless renewed), clears them all
on an ``accepted`` notice, and counts the notices it does not believe:

- ``bad_signature`` / ``bad_format`` / ``oversized``: not signed by ``commands.cloud_public_key``;
- ``wrong_gateway``: addressed to another gateway; ``expired``: past its ``until_ms``;
- ``replayed``: one already applied, or older by more than REORDER_MS than the newest applied for
  its reason (several ingest workers send their own notices, so a little disorder is normal);
- ``not_ours``: the refused message is not one this gateway sealed: the cloud could not frame it
  as an envelope, or its digest is not that of the batch sent under its sequence number (someone
  else published on this gateway's topic: check the broker's ACL);
- ``unattributed``: a count of refusals (no digest) for a reason no message of ours was refused for.

The state goes into the status file (`edge status`, exit 3 while the cloud refuses) and the
textfile metrics (a counter per reason); a new agent takes over the unexpired part of it.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from watertel.commands import CommandError
from watertel.crypto import SM2PublicKey, sm3
from watertel.notices import Notice

log = logging.getLogger("watertel.edge.verdict")
SEEN = 64  # notices remembered as applied (a few minutes of notices at one per reason per 10 s)
ENTRY = ("since_ms", "envelopes", "last_ms", "until_ms")  # what a refusal shown keeps (and a new run takes over)
REORDER_MS = 60_000  # a notice this much older than the newest of its reason is a replay, not disorder
HINTS = {  # what a field engineer does about a refusal reason
    "unknown_key": "register this gateway's public key and key id in the cloud (gateways file or admin page)",
    "bad_signature": "the key registered for this key id is not this gateway's: register the right public key",
    "key_revoked": "this key was revoked in the cloud: make a new key and register it",
    "key_expired": "this key was rotated out in the cloud: configure the gateway's current key",
    "unknown_station": "a station this gateway reports is not registered for it in the cloud",
    "not_encrypted": "the cloud requires SM4-encrypted payloads: configure key.payload_key",
    "chain_mismatch": "the buffer does not continue the chain the cloud has (a buffer replaced or restored)",
    "seq_reused": "the buffer reuses sequence numbers the cloud has (a buffer replaced or restored)",
}


class CloudVerdict:
    """``lookup(seq)``: the bytes of a sent batch still in the buffer, to tell our refusals from
    refusals of messages someone else published on our topic."""

    def __init__(self, gateway_id: str, cloud_key: SM2PublicKey, lookup: Callable[[int], bytes | None],
                 previous: dict[str, Any] | None = None, clock: Callable[[], float] = time.time) -> None:
        self.gateway_id, self.cloud_key, self.lookup, self.clock = gateway_id, cloud_key, lookup, clock
        self.refusing: dict[str, dict[str, Any]] = {}  # reason -> since_ms, last_ms, until_ms, envelopes, seq, key_id
        self.refused: Counter[str] = Counter()  # envelopes refused per reason (a counter for the metrics)
        self.ignored: Counter[str] = Counter()  # notices not believed, per reason
        self.accepted_ms: int | None = None  # the last "accepted again"
        self.newest: dict[str, int] = {}  # per reason (and "accepted"): t_ms of the newest notice applied
        self.seen: list[str] = []  # the last SEEN notices applied (their identity): an exact copy is a replay
        try:
            self._restore(previous if isinstance(previous, dict) else {})
        except (AttributeError, TypeError, ValueError):  # a status file edited by hand: start afresh
            self.__init__(gateway_id, cloud_key, lookup, None, clock)

    def _restore(self, previous: dict[str, Any]) -> None:
        """Carry the last run's counters and unexpired refusals over (a restart changes nothing the cloud said)."""
        now = self._now()
        self.refusing = {r: dict(e) for r, e in (previous.get("refusing") or {}).items()
                         if all(type(e.get(k)) is int for k in ENTRY) and e["until_ms"] > now}
        self.refused.update(previous.get("refused_envelopes") or {})
        self.ignored.update(previous.get("ignored_notices") or {})
        self.accepted_ms = previous.get("accepted_ms")
        self.newest = dict(previous.get("newest") or {})
        self.seen = [str(k) for k in previous.get("seen") or []][-SEEN:]

    def handle(self, message: bytes) -> bool:
        """Apply one notice if it is believed; True when what `edge status` shows changed."""
        try:
            notice = Notice.unpack(message, self.cloud_key)
        except CommandError as err:
            return self._ignore(err.reason, err.detail)
        if notice.gateway != self.gateway_id:
            return self._ignore("wrong_gateway", f"addressed to {notice.gateway!r}")
        key = notice.reason if notice.kind == "refused" else "accepted"
        identity = f"{notice.kind}:{notice.reason}:{notice.t_ms}:{notice.seq}:{notice.count}:{notice.digest}"
        if identity in self.seen or notice.t_ms < self.newest.get(key, 0) - REORDER_MS:
            return self._ignore("replayed", f"{notice.kind} {notice.reason} of {notice.t_ms}: applied already, or too old")
        if notice.kind == "accepted":
            self._applied(key, identity, notice.t_ms)
            return self._accepted(notice)
        if notice.until_ms <= self._now():
            return self._ignore("expired", f"{notice.reason} valid until {notice.until_ms} (check this gateway's clock)")
        if not notice.digest and notice.reason not in self.refusing:
            return self._ignore("unattributed", f"{notice.count} {notice.reason} refusals without the message's digest,"
                                " and no refusal of that reason from a message of this gateway")
        if not self._ours(notice):
            return self._ignore("not_ours", f"seq {notice.seq}: the cloud refused a message this gateway did not send"
                                " (someone else publishes on its topic: check the broker's ACL)")
        self._applied(key, identity, notice.t_ms)
        if notice.reason not in self.refusing and notice.t_ms <= (self.accepted_ms or 0):
            self.refused[notice.reason] += notice.count  # told after an acceptance made later: counted, over
            return True
        return self._refused(notice)

    def _applied(self, key: str, identity: str, t_ms: int) -> None:
        self.newest[key] = max(t_ms, self.newest.get(key, 0))
        self.seen = [*self.seen, identity][-SEEN:]

    def _ours(self, notice: Notice) -> bool:
        """Whether the refused message can be this gateway's: it was an envelope (the sealer never
        makes one the cloud cannot frame, so no seq means someone else's bytes) and, if the batch
        of that seq is still here, has its digest. A notice without a digest counts toward a
        refusal already shown (the refusals counted between two notices)."""
        if not notice.digest:
            return True
        if notice.seq is None:
            return False
        data = self.lookup(notice.seq)
        return data is None or sm3(data)[:16].hex() == notice.digest

    def _refused(self, notice: Notice) -> bool:
        entry = self.refusing.get(notice.reason)
        if entry is None:
            entry = self.refusing[notice.reason] = {"since_ms": notice.t_ms, "envelopes": 0}
            log.error("the cloud refuses this gateway's envelopes: %s (seq %s, key id %s): %s", notice.reason,
                      notice.seq, notice.key_id or "?", HINTS.get(notice.reason, "see the cloud's quarantine"),
                      extra={"reason": notice.reason})
        entry["envelopes"] += notice.count
        entry["last_ms"] = max(notice.t_ms, entry.get("last_ms", 0))  # two workers' notices may come out of order
        entry["until_ms"] = max(notice.until_ms, entry.get("until_ms", 0))
        entry.update({k: v for k, v in (("seq", notice.seq), ("key_id", notice.key_id)) if v})
        self.refused[notice.reason] += notice.count
        return True

    def _accepted(self, notice: Notice) -> bool:
        self.accepted_ms = notice.t_ms
        cleared = [r for r, e in self.refusing.items() if e["last_ms"] <= notice.t_ms]
        for reason in cleared:
            del self.refusing[reason]
        if cleared:
            log.info("the cloud accepts this gateway's envelopes again (seq %s; was: %s)", notice.seq, ", ".join(cleared))
        return bool(cleared)

    def _ignore(self, reason: str, detail: str) -> bool:
        """Count a notice not believed; the first of each reason is logged as a warning, the rest at debug."""
        (log.debug if self.ignored[reason] else log.warning)("cloud notice ignored: %s: %s", reason, detail)
        self.ignored[reason] += 1
        return True

    def lapse(self) -> bool:
        """Drop refusals past their ``until_ms`` (no renewal came); True if any went."""
        now = self._now()
        gone = [r for r, e in self.refusing.items() if e["until_ms"] <= now]
        for reason in gone:
            del self.refusing[reason]
            log.info("cloud refusal %s lapsed: no notice renewed it", reason)
        return bool(gone)

    def status(self) -> dict[str, Any]:
        """For the status file (and `_restore` at the next start)."""
        self.lapse()
        return {"verified": True, "refusing": self.refusing, "refused_envelopes": dict(self.refused),
                "ignored_notices": dict(self.ignored), "accepted_ms": self.accepted_ms, "newest": self.newest,
                "seen": self.seen}

    def _now(self) -> int:
        return int(self.clock() * 1000)


NOT_VERIFIED = {"verified": False}  # no commands.cloud_public_key: the cloud's notices cannot be believed

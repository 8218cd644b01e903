"""Envelopes in: exactly once, chain checked, refused ones kept in quarantine.

Exactly-once: an envelope is keyed by (gateway, seq) and a reading by (station, point, sample
time), so a re-delivered envelope changes nothing. The chain is checked against the neighbours
already stored, which also works when envelopes arrive out of order. A back-end supplies the
insert of an envelope's row and readings (``_insert``: one statement on PostgreSQL).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass

from watertel.cloud.store.database import Database, now_ms
from watertel.crypto.sm3 import sm3
from watertel.envelope import GENESIS_HASH, Envelope
from watertel.readings import Reading


@dataclass(frozen=True)
class Accepted:
    """What became of an envelope: stored (with new readings and duplicates), or a duplicate."""

    status: str  # "stored" | "duplicate" | "refused"
    new_readings: tuple[Reading, ...] = ()
    duplicate_readings: int = 0
    reason: str = ""  # for "refused": chain_mismatch, seq_reused
    gap_before: bool = False  # the previous envelope has not arrived (yet)


class Envelopes(Database):
    @abstractmethod
    def _insert(self, env: Envelope, received_ms: int) -> list[Reading]:
        """Insert the envelope's row and those of its readings not stored yet; return the latter."""

    def _envelope_row(self, env: Envelope, received_ms: int) -> tuple:
        return (env.gateway_id, self._seq(env.seq), env.hash, env.prev_hash, env.key_id, env.created_ms, received_ms,
                len(env.readings))

    def _neighbours(self, env: Envelope) -> dict[int, tuple[bytes, bytes]]:
        """(hash, prev_hash) of the stored envelopes at seq - 1, seq and seq + 1: one round trip."""
        seqs = [self._seq(s) for s in (env.seq - 1, env.seq, env.seq + 1) if 0 <= s < 2**64]
        rows = self._rows(f"SELECT seq, hash, prev_hash FROM envelopes WHERE gateway_id=? AND seq IN ({','.join('?' * len(seqs))})",
                          (env.gateway_id, *seqs))
        return {self._from_seq(seq): (bytes(h), bytes(p)) for seq, h, p in rows}

    @staticmethod
    def _chain_ok(env: Envelope, near: dict[int, tuple[bytes, bytes]]) -> tuple[bool, bool]:
        """(links with its stored neighbours, previous envelope missing).

        An envelope linked to the genesis hash starts a chain: a new gateway, or one whose buffer
        was replaced, starts at a time-based sequence number above any it used before.
        """
        before = GENESIS_HASH if env.prev_hash == GENESIS_HASH else near.get(env.seq - 1, (None,))[0]
        if before is not None and before != env.prev_hash:
            return False, False
        after = near.get(env.seq + 1)
        if after is not None and after[1] != env.hash:
            return False, False
        return True, before is None

    def accept(self, env: Envelope) -> Accepted:
        """Store an opened envelope and its readings atomically."""
        return self.accept_many([env])[0]

    def accept_many(self, envs: list[Envelope], received_ms: int | None = None) -> list[Accepted]:
        """Store several envelopes in one transaction (one commit, one fsync), in the given order.

        Chains are locked in gateway order, so two workers with overlapping batches never deadlock.
        ``received_ms``: when they arrived (the timeliness rate counts from it); now unless the
        ingest handler runs on a clock of its own (a replay of past traffic, see Handler).
        """
        now = now_ms() if received_ms is None else received_ms
        with self._write():
            for gateway_id in sorted({env.gateway_id for env in envs}):
                self._lock_chain(gateway_id)
            return [self._accept_one(env, now) for env in envs]

    def _accept_one(self, env: Envelope, now: int) -> Accepted:
        near = self._neighbours(env)
        if env.seq in near:
            return Accepted("duplicate") if near[env.seq][0] == env.hash else Accepted("refused", reason="seq_reused")
        linked, gap = self._chain_ok(env, near)
        if not linked:
            return Accepted("refused", reason="chain_mismatch")
        new = self._insert(env, now)
        self._changed("envelopes")  # the live events read the latest values again (changes.py)
        return Accepted("stored", tuple(new), len(env.readings) - len(new), gap_before=gap)

    def chain_gaps(self, received_before_ms: int) -> dict[str, list[int]]:
        """Per gateway, the sequence numbers still missing just before an envelope that arrived
        by ``received_before_ms`` (a late envelope gets that long to fill its hole)."""
        return {gw: [last for _, last in holes] for gw, holes in self.chain_holes(received_before_ms).items()}

    def chain_holes(self, received_before_ms: int, max_span: int = 10_000) -> dict[str, list[tuple[int, int]]]:
        """Per gateway, each run of missing sequence numbers ``(first, last)`` before an envelope
        that arrived by ``received_before_ms``: from the stored one below it (or ``max_span`` back
        when none is) to the one just before it."""
        rows = self._rows(
            "SELECT e.gateway_id, e.seq, (SELECT max(b.seq) FROM envelopes b WHERE b.gateway_id = e.gateway_id"
            " AND b.seq < e.seq) FROM envelopes e WHERE e.prev_hash != ? AND e.received_ms <= ?"
            " AND NOT EXISTS (SELECT 1 FROM envelopes p WHERE p.gateway_id = e.gateway_id AND p.seq = e.seq - 1)"
            " ORDER BY e.gateway_id, e.seq", (GENESIS_HASH, received_before_ms))
        holes: dict[str, list[tuple[int, int]]] = {}
        for gateway_id, seq, below in rows:
            last = self._from_seq(seq) - 1
            first = self._from_seq(below) + 1 if below is not None else max(1, last - max_span + 1)
            holes.setdefault(gateway_id, []).append((first, last))
        return holes

    def arrival_marker(self) -> tuple[int | None, int]:
        """(newest arrival time, envelopes that arrived in that millisecond): two index lookups
        that change whenever an envelope is stored, so ``latest()`` is read again only then."""
        newest = self._rows("SELECT max(received_ms) FROM envelopes")[0][0]
        return newest, self._rows("SELECT count(*) FROM envelopes WHERE received_ms = ?", (newest,))[0][0]

    def quarantine(self, topic: str, payload: bytes, reason: str, detail: str, *, max_rows: int | None = None,
                   keep_bytes: int = 256, text_chars: int = 512) -> None:
        """Keep a refused message's size, SM3 digest and first ``keep_bytes`` (never the whole
        body: 100 messages of 1 MB must not add 100 MB); topic and detail, chosen by the sender,
        cut to ``text_chars``. ``max_rows``: the oldest rows beyond it go in the same transaction
        (a range of the key: no count, no scan)."""
        row = (now_ms(), topic[:text_chars], reason, detail[:text_chars], payload[:keep_bytes], len(payload),
               sm3(payload).hex())
        with self._write():
            self._execute("INSERT INTO quarantine (received_ms, topic, reason, detail, payload, size, sm3)"
                          " VALUES (?,?,?,?,?,?,?)", row)
            if max_rows is not None:
                self._execute("DELETE FROM quarantine WHERE id <= (SELECT max(id) FROM quarantine) - ?", (max_rows,))

    def prune_quarantine(self, before_ms: int) -> int:
        """Drop quarantine rows that arrived before ``before_ms``; how many went."""
        with self._write():
            return self._execute("DELETE FROM quarantine WHERE received_ms < ?", (before_ms,)).rowcount

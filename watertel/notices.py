"""The cloud's verdict on a gateway's envelopes, told to the gateway: signed notices.

A broker's PUBACK says the broker has an envelope, not that the cloud stored it: a gateway whose
key is not registered looked healthy while every envelope was refused (issue 22). So ingest
answers refusals with a notice on the gateway's command topic (``<prefix>/<gateway>/cmd``),
signed with the cloud's command key, and the agent shows it in `edge status`.

Byte layout: the command format of watertel/commands.py with its own magic::

    +------+---------+-------------+-----------------+------------------------------+
    | "WN" | u8 ver  | u32 length  | UTF-8 JSON body | DER SM2 signature (the rest) |
    +------+---------+-------------+-----------------+------------------------------+

Why a sibling format and not a command kind ``notice``: a notice asks nothing and gets no answer,
so it must not go through the command path (allow list, replay store written to disk, signed
answer); the agent tells the two apart by the first two bytes, and as the signature covers the
magic, a notice can never pass for a command, nor a command for a notice, though one key signs both.

Body: ``{"gateway", "kind", "reason", "seq", "key_id", "count", "digest", "t_ms", "until_ms"}``.
``kind`` is ``refused`` (``reason``: the refusal code, e.g. unknown_key; ``count``: refusals of that
reason since the previous notice, this one included; ``seq``, ``key_id`` and ``digest``, the first
16 bytes of the refused message's SM3 in hex, as far as the message could be read) or ``accepted``
(an envelope of the gateway was stored again after refusals: every reason noticed before clears).
``until_ms``: a refusal not renewed by then is over (the backstop when an ``accepted`` notice is lost,
or came from another ingest worker than the refusals).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from watertel.commands import CommandError, pack, unpack
from watertel.crypto import SM2PrivateKey, SM2PublicKey

MAGIC = b"WN"
KINDS = ("refused", "accepted")
REASON = re.compile(r"[a-z_]{1,40}")  # a metrics label and a word in `edge status`: nothing else gets through


@dataclass(frozen=True)
class Notice:
    gateway: str
    kind: str
    reason: str
    seq: int | None
    key_id: str
    count: int
    digest: str
    t_ms: int
    until_ms: int

    def pack(self, key: SM2PrivateKey) -> bytes:
        return pack(asdict(self), key, MAGIC)

    @classmethod
    def unpack(cls, message: bytes, key: SM2PublicKey) -> Notice:
        """The notice if ``key`` signed it and every field has its type; CommandError otherwise."""
        body = unpack(message, key, MAGIC)
        try:
            notice = cls(**{k: body[k] for k in cls.__dataclass_fields__})
        except KeyError as err:
            raise CommandError("bad_format", f"notice without {err}") from err
        problem = notice.problem()
        if problem:
            raise CommandError("bad_format", problem)
        return notice

    def problem(self) -> str:
        """What is wrong with the fields' types or values ("" when nothing)."""
        checks: list[tuple[bool, str]] = [
            (self.kind in KINDS, f"kind must be one of {', '.join(KINDS)}"),
            (self.kind == "accepted" or bool(REASON.fullmatch(str(self.reason))), "reason must be a code of a-z and _"),
            (all(isinstance(v, str) for v in (self.gateway, self.key_id, self.digest)), "gateway, key_id, digest: text"),
            (all(type(v) is int for v in (self.count, self.t_ms, self.until_ms)), "count, t_ms, until_ms: integers"),
            (self.seq is None or type(self.seq) is int, "seq: an integer or null"),
            (type(self.count) is int and self.count >= 0, "count must be >= 0"),
        ]
        return next((why for ok, why in checks if not ok), "")


def is_notice(message: bytes) -> bool:
    """Whether ``message`` claims to be a notice (its signature is still to be checked)."""
    return message[:2] == MAGIC

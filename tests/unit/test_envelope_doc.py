"""docs/envelope.md lets a third party write a verifier: its worked examples must be real.

The hex blocks open with the public key on the page (and the SM4 key it names), the annotated
tables match the bytes at their offsets, the layout drawing is the module's, and the `openssl`
commands on the page verify the first example's signature.


This file holds the tests that need no server and start no process; the others are in
tests/integration/test_envelope_doc.py."""

from __future__ import annotations

import re

import watertel.envelope as envelope_module
from watertel.crypto import SM2PublicKey, sm3, sm4
from watertel.crypto.sm2 import KAT_PUBLIC
from watertel.crypto.sm4 import PayloadKey
from watertel.envelope import GENESIS_HASH, open_envelope, parse
from watertel.readings import Quality, Reading

from tests.support.envelope_doc import TEXT, blocks, examples


def public_key() -> SM2PublicKey:
    (pem,) = blocks("pem")
    return SM2PublicKey.from_pem(pem)


def tables() -> list[list[tuple[int, int, str]]]:
    """(offset, size, hex cell) of each row of the page's field tables, table by table."""
    found, current = [], None
    for line in TEXT.splitlines():
        row = re.match(r"^\| (\d+) \| (\d+) \| `([^`]*)` \|", line)
        if row:
            if current is None:
                current = []
                found.append(current)
            current.append((int(row[1]), int(row[2]), row[3]))
        else:
            current = None
    return found


def test_the_page_holds_two_examples_and_the_standards_example_key():
    assert len(examples()) == 2
    assert public_key().point == KAT_PUBLIC  # GB/T 32918.5 Annex A, as the page says


def test_the_first_example_opens_with_the_key_on_the_page():
    clear, _ = examples()
    key = public_key()
    env = open_envelope(clear, lambda gateway, key_id: key if (gateway, key_id) == ("gw-demo", "gw-demo-k1") else None)
    t = 1714521540000
    assert (env.gateway_id, env.key_id, env.seq, env.prev_hash, env.created_ms) == (
        "gw-demo", "gw-demo-k1", 1, GENESIS_HASH, 1714521600000)
    assert env.readings == (Reading("S1", "flow", t, 12.5, "m3/h"),
                            Reading("S1", "turbidity", t, 0.7, "NTU", Quality.SENSOR_FAULT))
    assert env.hash.hex() == "55c9ade3b689d0af9715d5ca07de7f02f8a89859d4674ae0526db8f05b4e9f37"
    assert env.hash.hex() in TEXT
    parts = parse(clear)
    assert len(parts.signed) == 154 and len(parts.signature) == 71  # the page's head -c / tail -c
    assert key.z.hex() in TEXT and key.digest(parts.signed).hex() in TEXT  # Z_A and e as printed


def test_the_second_example_chains_to_the_first_and_decrypts_with_the_key_on_the_page():
    clear, encrypted = examples()
    key = public_key()
    sm4_key = PayloadKey("gw-demo-e1", bytes.fromhex("0123456789abcdeffedcba9876543210"))
    assert sm4_key.key.hex() in TEXT
    env = open_envelope(encrypted, lambda g, k: key, lambda g, k: sm4_key if k == "gw-demo-e1" else None)
    assert env.seq == 2 and env.prev_hash == sm3(clear) and env.payload_key_id == "gw-demo-e1"
    assert env.readings == open_envelope(clear, lambda g, k: key).readings
    # by hand, with the page's offsets: AAD = 0..93, nonce = 82..93, payload = 98..192
    plain = sm4.decrypt(sm4_key.key, encrypted[82:94], encrypted[98:193], encrypted[:94])
    assert plain == parse(clear).payload


def test_the_field_tables_match_the_bytes():
    first, second = examples()
    field_tables = tables()
    assert len(field_tables) == 2
    for data, rows in zip((first, second), field_tables):
        ends = [offset + size for offset, size, _ in rows]
        assert [offset for offset, _, _ in rows[1:]] == ends[:-1] and ends[-1] == len(data)  # contiguous, complete
        for offset, size, cell in rows:
            field = data[offset : offset + size].hex()
            head, _, tail = cell.partition("…")
            assert field.startswith(head) and field.endswith(tail), (offset, cell)
            assert "…" in cell or field == cell, (offset, cell)


def test_the_layout_drawing_is_the_modules():
    drawing = blocks("text")[0]
    for line in envelope_module.__doc__.splitlines():
        if line.strip().startswith(("+--", "| u16 n", "|        |")):
            assert line.strip() in drawing, line

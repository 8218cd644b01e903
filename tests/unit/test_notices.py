"""The cloud's signed notices (watertel/notices.py): verified with the cloud's key, never taken
for a command (nor a command for a notice), every field typed."""

from __future__ import annotations

import dataclasses

import pytest

from watertel.commands import CommandError, command, pack, unpack
from watertel.crypto import SM2PrivateKey
from watertel.notices import MAGIC, Notice, is_notice

KEY = SM2PrivateKey.generate()
REFUSED = Notice("gw-1", "refused", "unknown_key", 7, "gw-1-k1", 37, "ab" * 16, 1_000, 301_000)


def test_a_notice_round_trips_and_says_what_it_is():
    message = REFUSED.pack(KEY)
    assert message[:2] == MAGIC and is_notice(message)
    assert Notice.unpack(message, KEY.public) == REFUSED


def test_a_notice_signed_by_another_key_or_changed_in_one_byte_is_refused():
    message = REFUSED.pack(KEY)
    with pytest.raises(CommandError, match="bad_signature"):
        Notice.unpack(message, SM2PrivateKey.generate().public)
    changed = message.replace(b'"count":37', b'"count":99')
    assert changed != message
    with pytest.raises(CommandError, match="bad_signature"):
        Notice.unpack(changed, KEY.public)


def test_a_command_is_not_a_notice_and_a_notice_is_not_a_command():
    _, cmd = command("gw-1", "read_now", {"device": "fm-1"}, KEY)
    assert not is_notice(cmd)
    with pytest.raises(CommandError, match="bad_format"):
        Notice.unpack(cmd, KEY.public)
    with pytest.raises(CommandError, match="bad_format"):
        unpack(REFUSED.pack(KEY), KEY.public)  # the command path refuses a notice by its magic
    relabelled = b"WC" + REFUSED.pack(KEY)[2:]  # the same body and signature under the command magic
    with pytest.raises(CommandError, match="bad_signature"):
        unpack(relabelled, KEY.public)


@pytest.mark.parametrize("change, problem", [
    ({"kind": "forgiven"}, "kind must be one of"),
    ({"reason": "unknown key\nlevel=error"}, "reason must be a code"),
    ({"reason": 'x"} 1\nwatertel_fake{a="'}, "reason must be a code"),
    ({"count": -1}, "count must be >= 0"),
    ({"count": "37"}, "integers"),
    ({"seq": "7"}, "seq: an integer or null"),
    ({"gateway": 1}, "text"),
])
def test_a_signed_notice_with_a_wrong_field_is_refused(change, problem):
    with pytest.raises(CommandError, match=problem):
        Notice.unpack(dataclasses.replace(REFUSED, **change).pack(KEY), KEY.public)


def test_a_signed_body_without_a_field_is_refused():
    body = {k: v for k, v in dataclasses.asdict(REFUSED).items() if k != "until_ms"}
    with pytest.raises(CommandError, match="notice without 'until_ms'"):
        Notice.unpack(pack(body, KEY, MAGIC), KEY.public)

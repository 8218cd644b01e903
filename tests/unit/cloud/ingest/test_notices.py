"""Refusals told to gateways (cloud/ingest/notices.py): one notice per gateway and reason per
period carrying the count since the last, a budget over all gateways, an accepted notice once
refusals end, and every notice signed with the cloud's command key."""

from __future__ import annotations

import pytest
import yaml

from watertel.cloud.ingest.config import IngestConfig, NoticesConfig
from watertel.cloud.ingest.notices import MAX_TRACKED, NoticeSender
from watertel.config import ConfigError, load_model
from watertel.crypto import SM2PrivateKey, sm3
from watertel.envelope import ChainState, seal
from watertel.notices import Notice
from watertel.readings import Reading

KEY = SM2PrivateKey.generate()


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def opened(sent: list[tuple[str, bytes]]) -> list[tuple[str, Notice]]:
    return [(gw, Notice.unpack(message, KEY.public)) for gw, message in sent]


def envelope(seq: int) -> bytes:
    data, _ = seal([Reading("ST-1", "flow", 1_000, 1.0, "m3/h")], SM2PrivateKey.generate(), "gw-1", "gw-1-k9",
                   ChainState(seq=seq), 1_000)
    return data


def test_a_flood_is_one_notice_per_period_with_the_count_since_the_last():
    clock = Clock()
    sender = NoticeSender(NoticesConfig(), KEY, clock)
    first = envelope(5)
    sender.refused("gw-1", "unknown_key", first)
    [(gw, notice)] = opened(sender.take())
    assert gw == "gw-1" and (notice.kind, notice.reason, notice.count) == ("refused", "unknown_key", 1)
    assert (notice.seq, notice.key_id, notice.digest) == (5, "gw-1-k9", sm3(first)[:16].hex())
    assert notice.until_ms - notice.t_ms == 300_000
    for i in range(1000):  # a flood within the period: counted, not told
        clock.t += 0.009
        sender.refused("gw-1", "unknown_key", b"garbage")
    assert sender.take() == []
    clock.t += 1.1  # the period ended: the next refusal is told with every one since the last notice
    sender.refused("gw-1", "unknown_key", b"garbage")
    [(_, notice)] = opened(sender.take())
    assert notice.count == 1001 and notice.seq is None and notice.key_id == ""


def test_counts_left_at_the_end_of_a_period_go_out_with_the_next_take():
    clock = Clock()
    sender = NoticeSender(NoticesConfig(every_s=10, valid_s=60), KEY, clock)
    for _ in range(3):
        sender.refused("gw-1", "bad_signature", b"x")
    assert [n.count for _, n in opened(sender.take())] == [1]
    clock.t += 10
    assert [(n.reason, n.count) for _, n in opened(sender.take())] == [("bad_signature", 2)]
    assert sender.take() == []


def test_reasons_and_gateways_are_limited_apart_and_a_budget_caps_them_all():
    clock = Clock()
    sender = NoticeSender(NoticesConfig(max_per_period=5), KEY, clock)
    sender.refused("gw-1", "unknown_key", b"x")
    sender.refused("gw-1", "bad_format", b"x")
    sender.refused("gw-2", "unknown_key", b"x")
    for i in range(100):  # a publisher varying the topic's gateway buys two more notices, not a hundred
        sender.refused(f"gw-x{i}", "bad_magic", b"x")
    sent = opened(sender.take())
    assert [(gw, n.reason) for gw, n in sent] == [("gw-1", "unknown_key"), ("gw-1", "bad_format"),
                                                  ("gw-2", "unknown_key"), ("gw-x0", "bad_magic"), ("gw-x1", "bad_magic")]
    sender.refused("gw-9", "not/a/gateway", b"x")
    sender.refused("../etc", "unknown_key", b"x")  # no gateway has such a name: nobody to tell
    assert ("../etc", "unknown_key") not in sender.counts


def test_an_accepted_notice_follows_refusals_once():
    clock = Clock()
    sender = NoticeSender(NoticesConfig(), KEY, clock)
    sender.accepted("gw-1", 4)  # never refused: nothing to say
    assert sender.take() == []
    sender.refused("gw-1", "unknown_key", b"x")
    sender.take()
    clock.t += 3
    sender.refused("gw-1", "unknown_key", b"x")  # within the period: not told yet
    sender.accepted("gw-1", 9)
    sender.accepted("gw-1", 10)
    clock.t += 20
    told = opened(sender.take())
    assert [(gw, n.kind, n.seq, n.count) for gw, n in told] == [("gw-1", "refused", None, 1), ("gw-1", "accepted", 9, 0)]
    assert told[0][1].t_ms == told[1][1].t_ms == told[1][1].until_ms == 1_000_003_000  # the acceptance clears both


def test_what_is_remembered_is_bounded():
    clock = Clock()
    sender = NoticeSender(NoticesConfig(max_per_period=1), KEY, clock)
    for i in range(MAX_TRACKED + 50):
        sender.refused(f"gw-{i}", "bad_magic", b"x")
    assert len(sender.counts) == MAX_TRACKED and len(sender.noticed) == 1


def test_the_settings_are_checked(tmp_path):
    path = tmp_path / "ingest.yaml"
    path.write_text(yaml.safe_dump({"notices": {"every_s": 10, "valid_s": 15}}))
    with pytest.raises(ConfigError, match="valid_s .* at least twice every_s"):
        load_model(path, IngestConfig)
    path.write_text(yaml.safe_dump({"notices": {"enabled": False}}))
    assert load_model(path, IngestConfig).notices.enabled is False

"""The cloud's verdict on the gateway (edge_agent/verdict.py, health.py): a refusal notice shows
in `edge status` with its reason, time and count until the cloud accepts again or it lapses; a
notice not signed by the cloud, addressed elsewhere, replayed, expired or about a message this
gateway did not send changes nothing but a counter."""

from __future__ import annotations

import time

from watertel.crypto import SM2PrivateKey, sm3
from watertel.edge_agent.health import cloud_refuses, prometheus_text, summary_lines
from watertel.edge_agent.verdict import CloudVerdict
from watertel.notices import Notice

CLOUD = SM2PrivateKey.generate()
SENT = {5: b"envelope five"}  # what this gateway's buffer holds, by sequence number


class Clock:
    def __init__(self) -> None:
        self.t = time.time()

    def __call__(self) -> float:
        return self.t

    def ms(self, ahead_s: float = 0) -> int:
        return int((self.t + ahead_s) * 1000)


def refused(clock: Clock, count: int = 1, seq: int | None = 5, digest: str | None = None, key=CLOUD,
            gateway: str = "gw-1", reason: str = "unknown_key", t_s: float = 0, valid_s: float = 300) -> bytes:
    digest = sm3(SENT[5])[:16].hex() if digest is None else digest
    return Notice(gateway, "refused", reason, seq, "gw-1-k1", count, digest, clock.ms(t_s), clock.ms(t_s + valid_s)).pack(key)


def accepted(clock: Clock, t_s: float = 0) -> bytes:
    return Notice("gw-1", "accepted", "", 9, "", 0, "", clock.ms(t_s), clock.ms(t_s)).pack(CLOUD)


def verdict(clock: Clock, previous: dict | None = None) -> CloudVerdict:
    return CloudVerdict("gw-1", CLOUD.public, SENT.get, previous, clock)


def status_of(v: CloudVerdict) -> dict:
    buffer = {"unsealed": 0, "batches_pending": 0, "bytes": 4096}
    return {"gateway_id": "gw-1", "running": True, "age_s": 1.0, "pid": 1, "version": "x", "devices": {},
            "uplink": {"connected": True, "broker": "mqtt://b", "last_ack_ms": int(time.time() * 1000)},
            "buffer": buffer, "cloud": v.status()}


def test_refusals_add_up_until_the_cloud_accepts_again():
    clock = Clock()
    v = verdict(clock)
    assert v.handle(refused(clock, count=1))
    clock.t += 10
    assert v.handle(refused(clock, count=36))
    status = status_of(v)
    assert cloud_refuses(status)
    [line] = [l for l in summary_lines(status) if l.startswith("cloud")]
    since = time.strftime("%H:%M", time.localtime(clock.t - 10))
    assert line.startswith(f"cloud refuses: unknown_key since {since}, 37 envelopes (last seq 5, key id gw-1-k1): register")
    assert any("last broker acknowledgement" in l for l in summary_lines(status))
    text = prometheus_text(status)
    assert 'watertel_edge_cloud_refused_envelopes_total{gateway="gw-1",reason="unknown_key"} 37' in text
    assert 'watertel_edge_cloud_refusing{gateway="gw-1",reason="unknown_key"} 1' in text

    clock.t += 1
    assert v.handle(accepted(clock))
    status = status_of(v)
    assert not cloud_refuses(status) and "cloud: no refusal notified; accepted again since" in "\n".join(summary_lines(status))
    assert 'watertel_edge_cloud_refusing{gateway="gw-1",reason="unknown_key"} 0' in prometheus_text(status)
    assert 'refused_envelopes_total{gateway="gw-1",reason="unknown_key"} 37' in prometheus_text(status)  # a counter


def test_an_accepted_notice_older_than_a_refusal_does_not_clear_it():
    clock = Clock()
    v = verdict(clock)
    v.handle(refused(clock))
    v.handle(accepted(clock, t_s=-1))
    assert cloud_refuses(status_of(v))


def test_a_refusal_not_renewed_lapses():
    clock = Clock()
    v = verdict(clock)
    v.handle(refused(clock, valid_s=20))
    clock.t += 19
    assert cloud_refuses(status_of(v))
    clock.t += 2
    assert not cloud_refuses(status_of(v)) and v.refusing == {}


def test_notices_not_believed_are_counted_and_change_nothing():
    clock = Clock()
    v = verdict(clock)
    v.handle(refused(clock, key=SM2PrivateKey.generate()))  # forged: another key
    v.handle(refused(clock, gateway="gw-2"))  # addressed to another gateway
    v.handle(refused(clock, t_s=-400))  # expired
    v.handle(refused(clock, digest="00" * 16))  # seq 5 here is another message: not ours
    v.handle(b"WN\x01garbage")
    assert v.refusing == {}
    v.handle(refused(clock))
    v.handle(refused(clock))  # the same notice again: replayed
    status = status_of(v)
    assert status["cloud"]["ignored_notices"] == {"bad_signature": 1, "wrong_gateway": 1, "expired": 1, "not_ours": 1,
                                                  "bad_format": 1, "replayed": 1}
    assert status["cloud"]["refusing"]["unknown_key"]["envelopes"] == 1
    assert "cloud notices ignored: 6 (bad_format 1, bad_signature 1, expired 1, not_ours 1, replayed 1, wrong_gateway 1)" \
        in summary_lines(status)
    assert 'watertel_edge_cloud_notices_ignored_total{gateway="gw-1",reason="bad_signature"} 1' in prometheus_text(status)


def test_a_refusal_of_a_batch_no_longer_here_counts_and_garbage_on_the_topic_does_not():
    clock = Clock()
    v = verdict(clock)
    v.handle(refused(clock, seq=None, digest="22" * 16, reason="bad_magic"))  # not an envelope: not ours
    v.handle(refused(clock, seq=None, digest="", reason="bad_magic", count=40, t_s=1))  # its count: not ours either
    assert v.refusing == {} and v.ignored == {"not_ours": 1, "unattributed": 1}
    v.handle(refused(clock, seq=77, digest="11" * 16))  # pruned from the buffer: cannot tell, believed
    v.handle(refused(clock, seq=None, digest="", count=3, t_s=1))  # the count since: added
    assert v.refusing["unknown_key"]["envelopes"] == 4


def test_notices_of_two_ingest_workers_out_of_order_both_count_but_an_old_one_is_a_replay():
    clock = Clock()
    v = verdict(clock)
    v.handle(refused(clock, count=3, t_s=1))  # worker A
    v.handle(refused(clock, count=2, t_s=0.5))  # worker B, sent a little earlier, heard later
    assert v.refusing["unknown_key"]["envelopes"] == 5
    v.handle(refused(clock, count=9, t_s=-61))  # a copy from before: more than a minute older
    assert v.refusing["unknown_key"]["envelopes"] == 5 and v.ignored == {"replayed": 1}
    assert v.refusing["unknown_key"]["last_ms"] == clock.ms(1)
    v.handle(accepted(clock, t_s=2))  # worker A stored one; worker B's last refusal, made before, heard after
    v.handle(refused(clock, count=1, t_s=1.5))
    assert v.refusing == {} and v.refused["unknown_key"] == 6


def test_a_new_run_takes_over_what_the_cloud_said():
    clock = Clock()
    v = verdict(clock)
    message = refused(clock, count=4)
    v.handle(message)
    v.handle(refused(clock, key=SM2PrivateKey.generate()))
    again = verdict(clock, previous=v.status())
    assert again.refusing["unknown_key"]["envelopes"] == 4 and again.ignored["bad_signature"] == 1
    again.handle(message)  # the very notice the last run applied: still a replay
    assert again.ignored["replayed"] == 1 and again.refusing["unknown_key"]["envelopes"] == 4
    assert verdict(clock, previous={"refusing": "nonsense"}).refusing == {}  # a hand-edited file: afresh
    assert verdict(clock, previous={"refusing": {"unknown_key": {"until_ms": clock.ms(60)}}}).refusing == {}


def test_without_the_cloud_key_the_status_says_the_verdict_is_unknown():
    status = {**status_of(verdict(Clock())), "cloud": {"verified": False}}
    [line] = [l for l in summary_lines(status) if l.startswith("cloud")]
    assert line.startswith("cloud: verdict unknown (no commands.cloud_public_key")
    assert not cloud_refuses(status)

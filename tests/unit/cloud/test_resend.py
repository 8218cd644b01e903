"""Envelopes a broker acknowledged but lost come back: the cloud finds the hole in the gateway's
chain and sends a signed ``resend``; the agent publishes its sent batches again (cloud/resend.py).

The end-to-end case is the real loss: a gateway publishing to Mosquitto while no ingest is
subscribed (the broker acknowledges and drops, as after a restart that forgot the workers' `$share`
subscriptions). Nothing is faked: the demo's simulators and gw-1 agent, Mosquitto, `cloud ingest`.


This file holds the tests that need no server and start no process; the others are in
tests/system/test_resend.py."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from watertel.cloud.resend import ResendConfig
from watertel.cloud.resend import ResendRequester
from watertel.cloud.store import open_store
from watertel.edge_agent.buffer import Buffer
from watertel.commands import unpack
from watertel.crypto import SM2PrivateKey
from watertel.envelope import ChainState, open_envelope, seal
from watertel.readings import Reading

T0 = 1_700_000_000_000


def sealer(key: SM2PrivateKey):
    return lambda readings, state: seal(readings, key, "gw-1", "k1", state, T0)


def test_requeue_makes_sent_batches_unsent_and_counts_what_is_gone(tmp_path):
    key = SM2PrivateKey.generate()
    buffer = Buffer(tmp_path / "b.db", "gw-1")
    for i in range(5):
        buffer.add([Reading("S1", "flow", T0 + i * 1000, 1.0, "m3/h")])
        buffer.seal_next(1, sealer(key))
    seqs = [b.seq for b in buffer.unsent(10)]  # a new buffer starts its chain at a time-based number
    buffer.mark_sent(seqs[:4])
    assert [b.seq for b in buffer.unsent(10)] == seqs[4:]
    assert buffer.requeue(seqs[1], seqs[2]) == (2, 0)
    assert [b.seq for b in buffer.unsent(10)] == [seqs[1], seqs[2], seqs[4]]
    assert buffer.requeue(seqs[3], seqs[4] + 4) == (1, 4)  # past the last one: never sealed here
    assert buffer.requeue(seqs[1], seqs[2]) == (0, 0)  # already waiting: nothing changes
    buffer.close()


def test_the_store_names_each_hole_and_the_requester_asks_once_per_period(tmp_path):
    key = SM2PrivateKey.generate()
    store = open_store_at(tmp_path)
    state, sealed = ChainState(), []
    for i in range(1, 9):
        data, state = seal([Reading("S1", "flow", T0 + i * 1000, 1.0, "m3/h")], key, "gw-1", "k1", state, T0)
        sealed.append(data)
    for i in (3, 4, 7):  # 1, 2 (before the first stored), 5, 6 and 8 (after the last: not yet a hole) missing
        store.accept(open_envelope(sealed[i - 1], lambda g, k: key.public))
    arrived = int(time.time() * 1000)
    assert store.chain_holes(arrived + 1000) == {"gw-1": [(1, 2), (5, 6)]}
    assert store.chain_gaps(arrived + 1000) == {"gw-1": [2, 6]}
    assert store.chain_holes(arrived - 60_000) == {}  # the envelopes behind the holes arrived later than that

    now = [time.time() + 30]
    cloud_key = SM2PrivateKey.generate()
    requester = ResendRequester(store, ResendConfig(after_s=20, repeat_s=60), cloud_key, {"gw-1"}, lambda: now[0])
    (gw, message), = requester.messages()
    body = unpack(message, cloud_key.public)
    assert (gw, body["command"], body["gateway"], body["args"]) == ("gw-1", "resend", "gw-1", {"ranges": [[1, 2], [5, 6]]})
    now[0] += 30
    assert requester.messages() == []  # asked 30 s ago
    now[0] += 31
    assert len(requester.messages()) == 1
    assert ResendRequester(store, ResendConfig(), cloud_key, {"gw-9"}, lambda: now[0]).messages() == []  # unknown gateway
    store.close()


def open_store_at(tmp_path: Path):
    from watertel.cloud.config import CloudConfig

    cfg = CloudConfig(data_dir=tmp_path / "data")
    return open_store(cfg.store, cfg.data_dir)


@pytest.mark.parametrize("ranges", [None, [], [[3, 2]], [[0, 5]], [[1, 200_000]], [["1", 2]], [[1, 2, 3]],
                                    [[1, 2]] * 101, [[True, 2]]])
def test_a_resend_with_bad_ranges_is_refused_and_changes_nothing(tmp_path, ranges):
    import asyncio

    from watertel.edge_agent.commands import CommandExecutor
    from watertel.edge_agent.config import CommandsConfig
    from watertel.commands import Answer, command

    cloud_key, gateway_key = SM2PrivateKey.generate(), SM2PrivateKey.generate()
    (tmp_path / "cloud.pub.pem").write_text(cloud_key.public.to_pem())
    buffer = Buffer(tmp_path / "b.db", "gw-1")
    buffer.add([Reading("S1", "flow", T0, 1.0, "m3/h")])
    batch = buffer.seal_next(1, sealer(gateway_key))
    buffer.mark_sent([batch.seq])
    executor = CommandExecutor(CommandsConfig(cloud_public_key=tmp_path / "cloud.pub.pem"), "gw-1", gateway_key, buffer, [])
    answer = lambda args: Answer.unpack(asyncio.run(executor.handle(command("gw-1", "resend", args, cloud_key)[1])),
                                        gateway_key.public)
    refused = answer({"ranges": ranges} if ranges is not None else {})
    assert (refused.status, refused.reason) == ("refused", "bad_args") and buffer.unsent(10) == []
    done = answer({"ranges": [[batch.seq, batch.seq + 2]]})  # resend is allowed by default
    assert (done.status, done.result) == ("done", {"requeued": 1, "missing": 2})
    assert [b.seq for b in buffer.unsent(10)] == [batch.seq]
    buffer.close()

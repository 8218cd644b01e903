"""Envelopes a broker acknowledged but lost come back: the cloud finds the hole in the gateway's
chain and sends a signed ``resend``; the agent publishes its sent batches again (cloud/resend.py).

The end-to-end case is the real loss: a gateway publishing to Mosquitto while no ingest is
subscribed (the broker acknowledges and drops, as after a restart that forgot the workers' `$share`
subscriptions). Nothing is faked: the demo's simulators and gw-1 agent, Mosquitto, `cloud ingest`.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
import yaml

from watertel.cloud.resend import ResendConfig
from watertel.cloud.resend import ResendRequester
from watertel.cloud.store import open_store
from watertel.edge_agent.buffer import Buffer
from watertel.commands import unpack
from watertel.crypto import SM2PrivateKey
from watertel.shell.demo import Demo
from watertel.envelope import ChainState, open_envelope, seal
from watertel.ports import port_open
from watertel.shell.processes import Child, wait_until
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


def stored(db: Path) -> tuple[set[int], set[tuple[str, str, int]]]:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            from watertel.cloud.store.sqlite import SEQ_SHIFT

            seqs = {s + SEQ_SHIFT for (s,) in conn.execute("SELECT seq FROM envelopes WHERE gateway_id = 'gw-1'")}
            keys = set(conn.execute("SELECT station, point, t_ms FROM readings"))
            return seqs, keys
    except sqlite3.OperationalError:
        return set(), set()


@pytest.mark.server
@pytest.mark.timeout(150)
def test_envelopes_published_while_no_ingest_listened_are_asked_for_and_stored(mosquitto, tmp_path):
    demo = Demo(tmp_path / "demo", f"mqtt://127.0.0.1:{mosquitto}")
    demo.prepare()
    cloud_yaml = demo.dir / "cloud.yaml"
    cloud = yaml.safe_load(cloud_yaml.read_text())
    cloud["resend"] = {"after_s": 1, "repeat_s": 5}
    cloud_yaml.write_text(yaml.safe_dump(cloud))
    buffer_db = demo.dir / "gw-1-buffer.db"
    cloud_db = demo.dir / "cloud-data" / "watertel.db"
    sim = Child.watertel("sim", ["sim", "run", "--config", str(demo.dir / "sim.yaml")], demo.logs)
    agent = ingest = None
    try:
        wait_until(lambda: port_open(demo.tcp_ports["fm-1"]) and port_open(demo.tcp_ports["pump-1"]), "simulators", sim)
        agent = Child.watertel("edge", ["edge", "run", "--config", str(demo.dir / "edge-gw-1.yaml")], demo.logs)
        wait_until(lambda: sent_batches(buffer_db) >= 3, "gw-1 publishing to a broker no ingest listens to", agent)
        ingest = Child.watertel("ingest", ["cloud", "ingest", "--config", str(cloud_yaml)], demo.logs)
        wait_until(lambda: "ingest subscribed" in (demo.logs / "ingest.log").read_text(), "ingest", ingest)
        # the batches sent before the ingest came are gone from the broker: only a resend brings them
        first = first_seq(buffer_db)
        wait_until(lambda: first in stored(cloud_db)[0], "the first batch asked for and stored", ingest, timeout=60)
        time.sleep(2)
    finally:
        if agent:
            agent.stop()
        if ingest:
            ingest.stop()
        sim.stop()
    seqs, keys = stored(cloud_db)
    top = max(seqs)
    assert seqs == set(range(first, top + 1)), f"holes left: {sorted(set(range(first, top + 1)) - seqs)[:10]}"
    with sqlite3.connect(buffer_db) as conn:
        early = {tuple(r) for r in conn.execute("SELECT station, point, t_ms FROM readings WHERE seq <= ?", (top,))}
    assert early and early <= keys
    assert "asked gateway gw-1 to resend" in (demo.logs / "ingest.log").read_text()
    assert "resend done" in (demo.logs / "edge.log").read_text()


def first_seq(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT min(seq) FROM batches").fetchone()[0]


def sent_batches(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT count(*) FROM batches WHERE sent_ms IS NOT NULL").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


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

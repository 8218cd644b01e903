"""Envelopes a broker acknowledged but lost come back: the cloud finds the hole in the gateway's
chain and sends a signed ``resend``; the agent publishes its sent batches again (cloud/resend.py).

The end-to-end case is the real loss: a gateway publishing to Mosquitto while no ingest is
subscribed (the broker acknowledges and drops, as after a restart that forgot the workers' `$share`
subscriptions). Nothing is faked: the demo's simulators and gw-1 agent, Mosquitto, `cloud ingest`.


This file holds the kill -9 and whole-system tests; the others are in
tests/unit/cloud/test_resend.py."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
import yaml

from watertel.shell.demo import Demo
from watertel.ports import port_open
from watertel.shell.processes import Child, wait_until


def stored(db: Path) -> tuple[set[int], set[tuple[str, str, int]]]:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            from watertel.cloud.store.sqlite import SEQ_SHIFT

            seqs = {s + SEQ_SHIFT for (s,) in conn.execute("SELECT seq FROM envelopes WHERE gateway_id = 'gw-1'")}
            keys = set(conn.execute("SELECT station, point, t_ms FROM readings"))
            return seqs, keys
    except sqlite3.OperationalError:
        return set(), set()


def first_seq(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT min(seq) FROM batches").fetchone()[0]


def sent_batches(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT count(*) FROM batches WHERE sent_ms IS NOT NULL").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


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

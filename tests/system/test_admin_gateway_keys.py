"""Gateway keys changed through the API reach a separate, running ingest worker: `watertel cloud api`
and `watertel cloud ingest` started as processes from one cloud config with ``gateways_file`` and
``api.users_file``, envelopes published to a real Mosquitto. A key revoked through the API is then
refused (quarantined as key_revoked) and one registered through the API is stored, without a restart."""

from __future__ import annotations

import sqlite3
import time

import paho.mqtt.client as mqtt
import pytest
import yaml

from watertel.cloud.api.auth import hash_password
from watertel.crypto import SM2PrivateKey
from watertel.envelope import ChainState, seal
from watertel.keys import write_key_pair
from watertel.ports import free_port
from watertel.shell.processes import Child, wait_until
from watertel.readings import Reading

from tests.support.api import PASSWORD, bearer


def rows(db, sql: str) -> list[tuple]:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []


def write_config(tmp_path, broker: int, api_port: int) -> None:
    for key_id in ("k1", "k2", "g1"):
        write_key_pair(tmp_path / "keys", key_id)
    (tmp_path / "gateways.yaml").write_text(yaml.safe_dump({"gateways": [
        {"id": "gw-1", "key_id": "k2", "public_key": "keys/k2.pub.pem", "stations": ["S1"],
         "previous_keys": [{"key_id": "k1", "public_key": "keys/k1.pub.pem", "valid_until": "2999-01-01T00:00:00+08:00"}]}]}))
    (tmp_path / "users.yaml").write_text(yaml.safe_dump({"users": [
        {"username": "admin", "password_hash": hash_password(PASSWORD), "role": "admin"}]}))
    (tmp_path / "cloud.yaml").write_text(yaml.safe_dump({
        "data_dir": "data", "gateways_file": "gateways.yaml",
        "mqtt": {"host": "127.0.0.1", "port": broker, "client_id": "ingest"},
        "api": {"host": "127.0.0.1", "port": api_port, "users_file": "users.yaml"}}))


@pytest.mark.server
@pytest.mark.timeout(120)
def test_keys_revoked_and_registered_through_the_api_apply_in_a_running_ingest(mosquitto, tmp_path):
    api_port = free_port()
    write_config(tmp_path, mosquitto, api_port)
    config, logs, db = str(tmp_path / "cloud.yaml"), tmp_path / "logs", tmp_path / "data" / "watertel.db"
    ingest = Child.watertel("ingest", ["cloud", "ingest", "--config", config], logs)
    api = Child.watertel("api", ["cloud", "api", "--config", config], logs)
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="publisher")
    key = {k: SM2PrivateKey.from_pem((tmp_path / "keys" / f"{k}.key.pem").read_text()) for k in ("k1", "g1")}
    now = int(time.time() * 1000)

    def publish(gateway: str, key_id: str, station: str, seq: int) -> None:
        data, _ = seal([Reading(station, "flow", now + seq, 1.0, "m3/h")], key[key_id], gateway, key_id, ChainState(seq), now)
        publisher.publish(f"watertel/{gateway}/up", data, qos=1).wait_for_publish(10)

    try:
        wait_until(lambda: "ingest subscribed" in (logs / "ingest.log").read_text(), "the ingest subscribed", ingest)
        publisher.connect("127.0.0.1", mosquitto)
        publisher.loop_start()
        publish("gw-1", "k1", "S1", 1)  # the previous key is still valid: stored
        wait_until(lambda: rows(db, "SELECT gateway_id, key_id FROM envelopes") == [("gw-1", "k1")], "k1's envelope stored", ingest)

        wait_until(lambda: _up(api_port), "the API answering", api)
        admin = bearer(f"http://127.0.0.1:{api_port}", "admin")
        assert admin.call("POST", "/api/admin/gateways/gw-1/revoke", {"key_id": "k1"})[0] == 200
        status, body, _ = admin.call("POST", "/api/admin/gateways", {
            "id": "gw-2", "stations": ["S2"], "key_id": "g1", "public_key_pem": (tmp_path / "keys" / "g1.pub.pem").read_text()})
        assert status == 201, body
        wait_until(lambda: "gateway keys reloaded" in (logs / "ingest.log").read_text(), "the ingest reloading its keys",
                   ingest, timeout=20)

        publish("gw-1", "k1", "S1", 2)
        publish("gw-2", "g1", "S2", 1)
        wait_until(lambda: len(rows(db, "SELECT 1 FROM envelopes")) == 2 and rows(db, "SELECT reason FROM quarantine"),
                   "the revoked key refused and the new one stored", ingest)
        assert rows(db, "SELECT reason FROM quarantine") == [("key_revoked",)]
        assert sorted(rows(db, "SELECT gateway_id, key_id FROM envelopes")) == [("gw-1", "k1"), ("gw-2", "g1")]
        assert ingest.alive(), "no restart"
        summaries = [e["summary"] for e in admin.call("GET", "/api/audit")[1]]
        assert "revoke gateway gw-1 key k1" in summaries and "register gateway gw-2 key g1 (stations S2)" in summaries
    finally:
        publisher.disconnect()
        publisher.loop_stop()
        api.stop()
        ingest.stop()


def _up(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False



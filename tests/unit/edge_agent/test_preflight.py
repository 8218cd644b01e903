"""`edge check`'s file checks (edge_agent/preflight.py): each problem one line naming the config,
the key and the fix; `edge run` refuses on all of them but a missing serial port."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from watertel.edge_agent.config import load_edge_config
from watertel.edge_agent.preflight import check_files
from watertel.keys import write_key_pair

from tests.support.pki import cert, pem


def _ca(path: Path, valid_from: dt.timedelta = dt.timedelta(minutes=-5), valid_to: dt.timedelta = dt.timedelta(days=1)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pem(cert("test CA", ec.generate_private_key(ec.SECP256R1()), None, True, valid_from, valid_to)))


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A gateway folder that passes: key pair, CA, password (0600), a pty as the RS-485 adapter."""
    write_key_pair(tmp_path / "keys", "gw-1")
    _ca(tmp_path / "tls" / "ca.pem")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "mqtt").write_text("s3cret\n")
    (tmp_path / "secrets" / "mqtt").chmod(0o600)
    leader, follower = os.openpty()
    cfg = {
        "gateway_id": "gw-1", "key": {"private_key": "keys/gw-1.key.pem", "key_id": "gw-1-k1"},
        "uplink": {"brokers": ["mqtts://broker.example:8883"], "username": "gw-1", "password_file": "secrets/mqtt",
                   "tls": {"ca_file": "tls/ca.pem"}},
        "buffer": {"path": "data/buffer.db"},
        "buses": [{"name": "rs485", "transport": {"kind": "rtu", "port": os.ttyname(follower)},
                   "devices": [{"name": "pt-1", "profile": "pressure_4_20ma", "unit_id": 2, "station": "ST-1"}]}],
    }
    (tmp_path / "edge.yaml").write_text(yaml.safe_dump(cfg))
    yield tmp_path
    os.close(leader)
    os.close(follower)


def _problems(folder: Path, now: dt.datetime | None = None) -> list[str]:
    config = folder / "edge.yaml"
    return [p.text.removeprefix(f"{config}: ") for p in check_files(load_edge_config(config), config, now)]


def _edit(folder: Path, change) -> None:
    cfg = yaml.safe_load((folder / "edge.yaml").read_text())
    change(cfg)
    (folder / "edge.yaml").write_text(yaml.safe_dump(cfg))


def test_a_complete_gateway_folder_passes(site):
    assert _problems(site) == []


def test_secrets_open_to_group_or_others_are_refused(site):
    (site / "keys" / "gw-1.key.pem").chmod(0o640)  # what deploy/README.md used to say
    (site / "secrets" / "mqtt").chmod(0o604)
    assert _problems(site) == [
        f"key.private_key: {site}/keys/gw-1.key.pem is open to group or others (mode 0640) "
        f"(chmod 600 {site}/keys/gw-1.key.pem, owned by the agent's user)",
        f"uplink.password_file: {site}/secrets/mqtt is open to group or others (mode 0604) "
        f"(chmod 600 {site}/secrets/mqtt, owned by the agent's user)"]


def test_missing_and_empty_files_name_file_key_and_fix(site):
    (site / "secrets" / "mqtt").write_text(" \n")
    (site / "tls" / "ca.pem").unlink()
    assert _problems(site) == [
        f"uplink.password_file: {site}/secrets/mqtt is empty (write the gateway's broker password into it)",
        f"uplink.tls.ca_file: {site}/tls/ca.pem does not exist (copy the broker's CA certificate there, PEM)"]


def test_certificates_must_parse_and_be_valid_now(site):
    ca = site / "tls" / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n")
    assert _problems(site) == [f"uplink.tls.ca_file: {ca} holds no PEM certificate (copy the broker's CA certificate "
                               "there, `-----BEGIN CERTIFICATE-----`)"]
    _ca(ca, valid_from=dt.timedelta(days=-30), valid_to=dt.timedelta(days=-1))
    expired_on = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)).strftime("%Y-%m-%d")
    assert _problems(site) == [f"uplink.tls.ca_file: {ca}: certificate CN=test CA expired on {expired_on} "
                               "(get a current copy of the broker's CA certificate)"]
    _ca(ca, valid_from=dt.timedelta(days=2), valid_to=dt.timedelta(days=30))
    [problem] = _problems(site)
    assert problem.startswith(f"uplink.tls.ca_file: {ca}: certificate CN=test CA is valid only from ")
    assert problem.endswith("UTC (check the gateway's clock, or wait)")


def test_a_client_certificate_must_pair_with_its_key(site):
    ca_key, client_key, other = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    (site / "tls" / "gw.crt").write_bytes(pem(cert("gw-1", client_key, ("test CA", ca_key), False)))
    (site / "tls" / "gw.key").write_bytes(other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (site / "tls" / "gw.key").chmod(0o600)
    _edit(site, lambda cfg: cfg["uplink"]["tls"].update(cert_file="tls/gw.crt", key_file="tls/gw.key"))
    [problem] = _problems(site)
    assert problem.startswith(f"uplink.tls: {site}/tls/gw.crt: cannot load the client certificate and its key: ")
    assert problem.endswith("(check that cert_file and key_file are one pair, PEM)")


def test_the_private_key_must_match_the_public_key_filed_under_its_key_id(site):
    write_key_pair(site / "other", "gw-1-k1")
    os.replace(site / "other" / "gw-1-k1.pub.pem", site / "keys" / "gw-1-k1.pub.pem")  # another pair's public half
    [problem] = _problems(site)
    assert problem.startswith(f"key.private_key: {site}/keys/gw-1.key.pem does not match {site}/keys/gw-1-k1.pub.pem, "
                              "the public key of key id gw-1-k1 (the cloud would refuse every envelope")
    (site / "keys" / "gw-1.key.pem").write_text("not a key\n")
    assert _problems(site) == [f"key.private_key: {site}/keys/gw-1.key.pem is not an SM2 private key (not a PEM "
                               "private key (expected a '-----BEGIN PRIVATE KEY-----' block)) (run `watertel keys new`)"]


def test_a_missing_serial_port_is_a_problem_that_does_not_block_the_run(site):
    _edit(site, lambda cfg: cfg["buses"][0]["transport"].update(port=str(site / "ttyUSB9")))
    config = site / "edge.yaml"
    [problem] = check_files(load_edge_config(config), config)
    assert problem.text == (f"{config}: buses.0.transport.port: {site}/ttyUSB9 does not exist (plug the RS-485 adapter "
                            "in, or name its device: ls /dev/ttyUSB* /dev/ttyAMA* /dev/serial/by-id/)")
    assert not problem.blocks_run  # an adapter may appear after boot; the poller opens it again each poll
    (site / "ttyUSB9").write_text("")
    assert _problems(site) == [f"buses.0.transport.port: {site}/ttyUSB9 is not a serial device "
                               "(name the adapter's /dev/tty… file)"]


def test_a_buffer_file_must_be_a_sqlite_database(site):
    (site / "data").mkdir()
    (site / "data" / "buffer.db").write_text("readings.csv, renamed\n")
    assert _problems(site) == [f"buffer.path: {site}/data/buffer.db is not a SQLite database (point buffer.path at "
                               "a new file; keep this one if it is an older buffer with unsent readings)"]


def test_the_cloud_commands_key_must_be_a_public_key(site):
    (site / "keys" / "cloud.pub.pem").write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    _edit(site, lambda cfg: cfg.update(commands={"cloud_public_key": "keys/cloud.pub.pem"}))
    assert _problems(site) == [f"commands.cloud_public_key: {site}/keys/cloud.pub.pem is not an SM2 public key in PEM "
                               "(copy the cloud's commands public key, `-----BEGIN PUBLIC KEY-----`)"]

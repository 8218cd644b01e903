"""Issue 21, finding 4: the audit log rewritten with database write access.

A real `watertel cloud api` writes the rows (logins through its HTTP API) and its signed
checkpoints, and stops. Then the attacker opens the database the way the cloud does
(``open_store`` on the cloud config), changes an entry's actor and client, deletes a row and
recomputes the chain with SM3 as the log's documentation describes it (they do not hold the key,
which is a file outside the database); or cuts the newest rows off. The real `watertel audit
verify` must exit non-zero naming the first bad row and the last checkpoint it still trusts.
Every command that changes state (`cloud command`, `rollout`, `import`, `restore`) leaves a row
as ``cli:<os user>``; rows from before the key stay a plain-SM3 prefix that keeps verifying; the
service signs a checkpoint on its timer as well as every N rows. Both store back-ends."""

from __future__ import annotations

import getpass
import json
import socket

import pytest
import yaml

from watertel.cloud.api.auth import hash_password
from watertel.cloud.audit.chain import GENESIS, Entry, entry_of
from watertel.cloud.config import load_cloud_config
from watertel.cloud.store import open_store
from watertel.crypto import sm3
from watertel.keys import write_key_pair
from watertel.ports import free_port, port_open
from watertel.shell.processes import Child, wait_until

from tests.support.api import PASSWORD, REGISTRY, Client
from tests.support.audit import add
from tests.support.cli import watertel
from tests.support.stores import BACK_ENDS

ROWS = 10  # the rows the API writes below
EVERY = 3  # a checkpoint after every 3 rows (and at start and stop)


def write_cloud(tmp_path, dsn: str | None) -> tuple:
    write_key_pair(tmp_path / "keys", "cloud")  # the cloud's own SM2 key: signs commands and checkpoints
    argon2 = hash_password(PASSWORD)
    (tmp_path / "users.yaml").write_text(yaml.safe_dump({"users": [
        {"username": "boss", "password_hash": argon2, "role": "admin"},
        {"username": "ops", "password_hash": argon2, "role": "operator"}]}))
    port = free_port()
    (tmp_path / "cloud.yaml").write_text(yaml.safe_dump({
        "data_dir": "data", "command_key": "keys/cloud.key.pem",
        "api": {"host": "127.0.0.1", "port": port, "users_file": "users.yaml"},
        "audit": {"key_file": "secrets/audit.key", "checkpoint_every_entries": EVERY},
        **({"store": {"kind": "postgres", "dsn": dsn}} if dsn else {})}))
    return tmp_path / "cloud.yaml", port


@pytest.fixture(params=BACK_ENDS)
def audited_cloud(request, tmp_path):
    """The cloud config after a real API wrote ROWS audit rows and stopped (its checkpoints signed)."""
    config, port = write_cloud(tmp_path, request.getfixturevalue("postgres") if request.param == "postgres" else None)
    api = Child.watertel("api", ["cloud", "api", "--config", str(config)], tmp_path / "logs")
    try:
        wait_until(lambda: port_open(port), "the API answering", api, timeout=60)
        base = f"http://127.0.0.1:{port}"
        for i in range(ROWS):  # logins, right and wrong: each one a row
            assert Client(base).login("ops" if i % 2 else "boss", PASSWORD if i % 3 else "wrong")[0] in (200, 401)
    finally:
        assert api.stop() == 0, api.log_tail()
    return config


def verify(config) -> tuple[int, str]:
    done = watertel("audit", "verify", "--config", str(config))
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout


def attacker_store(config):
    cfg = load_cloud_config(config)
    return open_store(cfg.store, cfg.data_dir)


def rewrite(config, first: int) -> None:
    """Change actor and client of row 3, delete row 5, renumber and re-chain every row from
    ``first`` on with plain SM3, as someone without the key would."""
    store = attacker_store(config)
    try:
        rows = [entry_of(r) for batch in store.audit_batches() for r in batch]
        rows = [Entry(**{**e.public(), "actor": "nobody", "client": "203.0.113.9"}) if e.id == 3 else e
                for e in rows if e.id != 5]
        prev = GENESIS if first == 1 else rows[first - 2].hash
        forged = []
        for n, e in enumerate(rows[first - 1:], first):
            draft = Entry(**{**e.public(), "id": n, "prev_hash": prev})
            prev = draft.expected_hash()  # SM3 without a key: all the attacker can compute
            forged.append(Entry(**{**draft.public(), "hash": prev}))
        store._execute("DELETE FROM audit WHERE id >= ?", (first,))
        for e in forged:
            store._execute("INSERT INTO audit (id, t_ms, actor, role, client, method, path, summary, status, prev_hash, hash)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", tuple(e.public().values()))
        assert [r[0] for r in store._rows("SELECT id FROM audit ORDER BY id")] == list(range(1, ROWS))  # no gap left
    finally:
        store.close()


def test_the_untouched_log_verifies_with_its_checkpoints(audited_cloud):
    status, out = verify(audited_cloud)
    assert status == 0 and out.startswith(f"ok: {ROWS} entries; last trusted checkpoint: row {ROWS} signed "), out
    lines = (audited_cloud.parent / "data" / "audit-checkpoints.jsonl").read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [0, 3, 6, 9, 10]  # start, every 3 rows, stop
    assert (audited_cloud.parent / "secrets" / "audit.key").stat().st_mode & 0o777 == 0o600
    key = (audited_cloud.parent / "secrets" / "audit.key").read_text().strip()
    assert key not in (audited_cloud.parent / "logs" / "api.log").read_text()  # never logged
    assert "audit checkpoint" in (audited_cloud.parent / "logs" / "api.log").read_text()  # the checkpoints are


@pytest.mark.parametrize("first", [3, 1], ids=["rechained-from-the-changed-row", "rechained-from-the-start"])
def test_a_changed_actor_and_a_deleted_row_rechained_without_the_key_are_found(audited_cloud, first):
    rewrite(audited_cloud, first)
    status, out = verify(audited_cloud)
    assert status == 1, out
    assert out.startswith(f"audit log broken at row {first}: its hash was made without the audit key"), out
    assert "last trusted checkpoint: row 0 signed" in out, out  # the next one names row 3, rewritten


def test_rows_cut_off_the_end_are_found_by_the_last_checkpoint(audited_cloud):
    store = attacker_store(audited_cloud)
    try:
        store._execute("DELETE FROM audit WHERE id > ?", (ROWS - 2,))
    finally:
        store.close()
    status, out = verify(audited_cloud)
    assert status == 1, out
    assert out.startswith(f"audit log broken at row {ROWS - 1}: rows {ROWS - 1} to {ROWS} are missing: the checkpoint"
                          " signed "), out
    assert f"names row {ROWS} and the log ends at row {ROWS - 2}" in out, out
    assert "the newest rows were deleted" in out and "last trusted checkpoint: row 6 signed" in out, out


def test_a_forged_checkpoint_line_is_refused(audited_cloud):
    path = audited_cloud.parent / "data" / "audit-checkpoints.jsonl"
    last = json.loads(path.read_text().splitlines()[-1])
    path.write_text(path.read_text() + json.dumps({**last, "seq": 2}) + "\n")  # claims less, signature of another
    status, out = verify(audited_cloud)
    assert status == 1 and "audit-checkpoints.jsonl line 6: its signature does not verify" in out, out


def audit_rows(config) -> list[Entry]:
    store = attacker_store(config)
    try:
        return [entry_of(r) for batch in store.audit_batches() for r in batch]
    finally:
        store.close()


def write_fleet_cloud(tmp_path, dsn: str | None, broker: int):
    """A cloud config with one gateway, a registry and a broker: what command, rollout and import need."""
    config, _ = write_cloud(tmp_path, dsn)
    write_key_pair(tmp_path / "keys", "gw-1")
    (tmp_path / "registry.yaml").write_text(REGISTRY, encoding="utf-8")
    (tmp_path / "edge.yaml").write_text("gateway_id: ${gateway}\n")
    data = yaml.safe_load(config.read_text())
    data.update({"registry_file": "registry.yaml", "mqtt": {"host": "127.0.0.1", "port": broker},
                 "gateways": [{"id": "gw-1", "key_id": "gw-1", "public_key": "keys/gw-1.pub.pem", "stations": ["ST-XH"]}]})
    config.write_text(yaml.safe_dump(data))
    return config


@pytest.mark.parametrize("back_end", BACK_ENDS)
def test_every_state_changing_command_leaves_a_row_as_its_os_user(request, tmp_path, mosquitto, back_end):
    config = write_fleet_cloud(tmp_path, request.getfixturevalue("postgres") if back_end == "postgres" else None, mosquitto)
    c = ["--config", str(config)]
    assert watertel("cloud", "command", "nonsense", "--gateway", "gw-1", *c).returncode == 1  # refused: acted on nothing
    done = watertel("cloud", "command", "write_point", "--gateway", "gw-1", "--timeout", "0.5",
                    "--args", '{"device": "fm-1", "point": "valve", "value": 1}', *c)
    assert done.returncode == 1 and "no answer from gw-1" in done.stderr, done.stderr  # nobody home: failed, recorded
    assert watertel("cloud", "rollout", "--gateways", "gw-*", "--file", str(tmp_path / "edge.yaml"), "--timeout", "0.5",
                    *c).returncode == 1
    assert watertel("cloud", "backup", str(tmp_path / "before.bak"), *c).returncode == 0
    (tmp_path / "new-registry.yaml").write_text(REGISTRY.replace("西湖一号", "西湖二号"), encoding="utf-8")
    assert watertel("cloud", "import", str(tmp_path / "new-registry.yaml"), "--dry-run", *c).returncode == 0  # no change
    done = watertel("cloud", "import", str(tmp_path / "new-registry.yaml"), *c)
    assert done.returncode == 0, done.stderr
    who = f"cli:{getpass.getuser()}"
    rows = [(e.actor, e.role, e.method, e.path, e.summary, e.status) for e in audit_rows(config)]
    digest = sm3(b'{"device":"fm-1","point":"valve","value":1}').hex()[:16]
    assert rows == [
        (who, "cli", "CLI", "watertel cloud command",
         f"write_point to gw-1 (args: device, point, value; sm3 {digest}): failed (exit 1)", 1),
        (who, "cli", "CLI", "watertel cloud rollout", "rollout edge.yaml to gw-* (stage 1): failed (exit 1)", 1),
        (who, "cli", "CLI", "watertel cloud import", "import new-registry.yaml into the registry: ok", 0)]
    assert {e.client for e in audit_rows(config)} == {socket.gethostname()}

    done = watertel("cloud", "restore", str(tmp_path / "before.bak"), "--force", *c)
    assert done.returncode == 0, done.stderr
    rows = [(e.path, e.summary, e.status) for e in audit_rows(config)]
    assert rows[-1] == ("watertel cloud restore", "restore before.bak (--force): ok", 0)
    assert [p for p, _, _ in rows] == ["watertel cloud command", "watertel cloud rollout", "watertel cloud restore"]
    status, out = verify(config)  # the log went back with the backup: signed as a restore, so it still verifies
    assert status == 0 and "last trusted checkpoint: row 3 signed" in out and "(restore)" in out, out


@pytest.mark.parametrize("back_end", BACK_ENDS)
def test_an_upgraded_cloud_keeps_its_older_rows_as_a_plain_prefix_and_checkpoints_on_its_timer(request, tmp_path, back_end):
    config, port = write_cloud(tmp_path, request.getfixturevalue("postgres") if back_end == "postgres" else None)
    data = yaml.safe_load(config.read_text())
    data["audit"].update({"checkpoint_every_entries": 1000, "checkpoint_every_minutes": 0.01})  # every 0.6 s
    config.write_text(yaml.safe_dump(data))
    store = attacker_store(config)  # rows an older watertel wrote: plain SM3, no key yet
    try:
        add(store, 3)
    finally:
        store.close()
    checkpoints = tmp_path / "data" / "audit-checkpoints.jsonl"
    api = Child.watertel("api", ["cloud", "api", "--config", str(config)], tmp_path / "logs")
    try:
        wait_until(lambda: port_open(port), "the API answering", api, timeout=60)
        assert Client(f"http://127.0.0.1:{port}").login("boss")[0] == 200  # row 4, keyed
        wait_until(lambda: checkpoints.exists() and json.loads(checkpoints.read_text().splitlines()[-1])["seq"] == 4,
                   "a checkpoint of row 4 from the timer (1,000 rows are far off)", api, timeout=20)
    finally:
        assert api.stop() == 0, api.log_tail()
    first = json.loads(checkpoints.read_text().splitlines()[0])
    assert (first["seq"], first["legacy"]) == (3, 3)  # the start: three rows from before the key
    status, out = verify(config)
    assert status == 0 and out.startswith("ok: 4 entries, the first 3 from before the key (plain SM3);"), out
    rows = audit_rows(config)
    assert rows[3].hash != rows[3].expected_hash() and rows[2].hash == rows[2].expected_hash()

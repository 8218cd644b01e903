"""``/api/registry`` over real HTTP (uvicorn on a free loopback port, a real SQLite store, a real
registry file): reads within the user's regions; admin-only writes, validated like the file,
written atomically, audited, and seen at once by the running API; refusals for every other role,
for regions outside the user's scope and for a missing CSRF header."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from watertel.cloud import audit
from watertel.cloud.api.app import create_app
from watertel.cloud.config import ApiConfig
from watertel.cloud.users import UserEntry
from watertel.cloud.registry import load_registry

from tests.support.api import REGISTRY, ROLES, Client, bearer, gateways, serve


@pytest.fixture
def api(store, hashes, tmp_path):
    """A running API over a registry file; one user per role, a Hangzhou admin and a Hangzhou viewer."""
    (tmp_path / "registry.yaml").write_text(REGISTRY, encoding="utf-8")
    users = [UserEntry(username=role, password_hash=hashes["argon2"], role=role) for role in ROLES]
    users += [UserEntry(username="hz-admin", password_hash=hashes["argon2"], role="admin", regions=["zj-hz"]),
              UserEntry(username="hz-viewer", password_hash=hashes["argon2"], role="viewer", regions=["zj-hz"])]
    app = create_app(store, ApiConfig(users=users), registry_file=tmp_path / "registry.yaml", gateways=gateways(tmp_path))
    base, server, thread = serve(app)
    yield base
    server.should_exit = True
    thread.join(10)


def on_disk(tmp_path: Path) -> dict:
    return yaml.safe_load((tmp_path / "registry.yaml").read_text(encoding="utf-8"))


def last_audit(store, n: int = 1) -> list:
    return audit.recent(store, n)


def test_readers_see_the_registry_within_their_regions(api):
    for role in ROLES:
        status, whole, _ = bearer(api, role).call("GET", "/api/registry")
        assert status == 200 and [s["id"] for s in whole["stations"]] == ["ST-XH", "ST-BJ", "ST-NB"], role
    viewer = bearer(api, "hz-viewer")
    status, whole, _ = viewer.call("GET", "/api/registry")
    assert [s["id"] for s in whole["stations"]] == ["ST-XH", "ST-BJ"] and whole["permits"] == []
    assert [r["id"] for r in viewer.call("GET", "/api/registry/regions")[1]] == ["zj-hz", "zj-hz-xh", "zj-hz-bj"]
    assert [s["id"] for s in viewer.call("GET", "/api/registry/stations")[1]] == ["ST-XH", "ST-BJ"]
    status, xh, _ = viewer.call("GET", "/api/registry/stations/ST-XH")
    assert status == 200 and xh["interval_minutes"] == 5 and xh["region_path"] == "zj/zj-hz/zj-hz-xh" and xh["permit"] is None
    assert viewer.call("GET", "/api/registry/stations/ST-NB")[0] == 404  # outside: as if it did not exist
    status, nb, _ = bearer(api, "admin").call("GET", "/api/registry/stations/ST-NB")
    assert nb["permit"]["id"] == "P-NB" and nb["permit"]["meters"] == [{"station": "ST-NB", "point": "total",
                                                                       "coefficient": None, "wraps_at": None}]
    assert Client(api).call("GET", "/api/registry")[0] == 401


def test_an_admin_edits_a_station_the_file_the_audit_and_the_running_api_follow(api, store, tmp_path):
    admin = bearer(api, "admin")
    store.raise_alarm("ST-NB", "total", "data_stopped", "orange", "no data", 1_700_000_000_000)
    hz = bearer(api, "hz-viewer")
    assert hz.call("GET", "/api/alarms")[1] == []

    status, station, _ = admin.call("GET", "/api/registry/stations/ST-NB")
    station |= {"interval_minutes": 15, "region": "zj-hz-bj",
                "maintenance": [{"start": "2026-10-12T08:00", "end": "2026-10-12T20:00", "note": "泵更换"}]}
    status, answer, _ = admin.call("PUT", "/api/registry/stations/ST-NB", station)  # GET's answer sent back as is
    assert status == 200, answer
    assert answer["interval_minutes"] == 15 and answer["maintenance"][0]["note"] == "泵更换"
    assert answer["permit"]["id"] == "P-NB"  # no permit key change: the permit stays

    written = {s["id"]: s for s in on_disk(tmp_path)["stations"]}["ST-NB"]
    assert written["interval_minutes"] == 15 and written["region"] == "zj-hz-bj"
    assert (tmp_path / "registry.yaml.bak").read_text(encoding="utf-8") == REGISTRY
    assert load_registry(tmp_path / "registry.yaml").stations[2].interval_ms == 15 * 60_000
    assert not list(tmp_path.glob(".registry.yaml.*"))  # no temp file left

    entry = last_audit(store)[0]
    assert (entry.actor, entry.method, entry.path, entry.status) == ("admin", "PUT", "/api/registry/stations/ST-NB", 200)
    assert entry.summary == "update station ST-NB (region, interval_minutes, maintenance)"
    assert audit.verify(store).ok

    # the running API at once: the station moved into Hangzhou, so the Hangzhou viewer sees it and its alarm
    assert [s["id"] for s in hz.call("GET", "/api/registry/stations")[1]] == ["ST-XH", "ST-BJ", "ST-NB"]
    assert [a["station"] for a in hz.call("GET", "/api/alarms")[1]] == ["ST-NB"]


def test_permits_are_set_and_removed_with_their_station(api, store, tmp_path):
    admin = bearer(api, "admin")
    permit = {"id": "P-XH", "holder": "西湖某厂", "permitted_m3": 80000, "year_start": "07-01",
              "meters": ["ST-XH"], "plan": {"annual": 60000}}
    xh = admin.call("GET", "/api/registry/stations/ST-XH")[1]
    status, answer, _ = admin.call("PUT", "/api/registry/stations/ST-XH", {**xh, "permit": permit})
    assert status == 200, answer
    assert answer["permit"]["plan"]["annual"] == 60000 and answer["permit"]["year_start"] == "07-01"
    assert [p["id"] for p in on_disk(tmp_path)["permits"]] == ["P-NB", "P-XH"]
    assert last_audit(store)[0].summary == "update station ST-XH (no change); permit P-XH"

    status, answer, _ = admin.call("PUT", "/api/registry/stations/ST-XH", {**xh, "permit": {**permit, "plan": {"annual": 90000}}})
    assert status == 422 and any("station" not in p and "annual plan 90000 m3 is above the permitted" in p for p in answer["detail"])

    status, answer, _ = admin.call("PUT", "/api/registry/stations/ST-XH", {**xh, "permit": None})
    assert status == 200 and answer["permit"] is None
    assert [p["id"] for p in on_disk(tmp_path)["permits"]] == ["P-NB"]


def test_a_new_station_is_added_and_a_station_deleted_with_its_permit(api, store, tmp_path):
    admin = bearer(api, "admin")
    status, answer, _ = admin.call("PUT", "/api/registry/stations/ST-NEW", {
        "region": "zj-hz-xh", "kind": "intake", "interval_seconds": 30, "commissioned": "2026-10-10T08:00+08:00"})
    assert status == 200 and answer["interval_ms"] == 30_000 and answer["commissioned"] == "2026-10-10T08:00:00+08:00"
    assert last_audit(store)[0].summary == "add station ST-NEW"

    status, answer, _ = admin.call("DELETE", "/api/registry/stations/ST-NB")
    assert status == 200 and answer == {"deleted": "ST-NB"}
    data = on_disk(tmp_path)
    assert [s["id"] for s in data["stations"]] == ["ST-XH", "ST-BJ", "ST-NEW"] and "permits" not in data
    assert admin.call("GET", "/api/registry/stations/ST-NB")[0] == 404
    assert admin.call("DELETE", "/api/registry/stations/ST-NB")[0] == 404


@pytest.mark.parametrize("change, problem", [
    ({"interval_minutes": 0}, "station ST-XH: interval_minutes: Input should be greater than 0, got 0 (use a number > 0)"),
    ({"region": "zj-hz"}, "station ST-XH: region: 'zj-hz' is a city or province (use a county id)"),
    ({"colour": "red"}, "station ST-XH: colour: unknown key (remove it or check its spelling)"),
    ({"interval_seconds": 30}, "station ST-XH: give exactly one of interval_minutes and interval_seconds (got both)"),
    ({"points": ["flow"]}, None),  # fine for the station, but the permit counts its total: refused below
    ({"maintenance": [{"start": "2026-10-12T08:00", "end": "2026-10-12T20:00+08:00"}]},
     "station ST-XH: maintenance.0: give start and end both with a UTC offset or both without"),
])
def test_a_bad_station_is_refused_like_the_file_and_nothing_changes(api, store, tmp_path, change, problem):
    admin = bearer(api, "admin")
    xh = admin.call("GET", "/api/registry/stations/ST-XH")[1]
    if problem is None:  # the permit names ST-XH's total, which the station no longer reports
        change |= {"permit": {"id": "P-XH", "holder": "h", "permitted_m3": 1, "meters": ["ST-XH"]}}
        problem = "permits.1.meters.0.point: station ST-XH does not report 'total' (its points: flow)"
    status, answer, _ = admin.call("PUT", "/api/registry/stations/ST-XH", {**xh, **change})
    assert status == 422 and any(problem in p for p in answer["detail"]), answer
    assert (tmp_path / "registry.yaml").read_text(encoding="utf-8") == REGISTRY
    assert not (tmp_path / "registry.yaml.bak").exists()
    assert admin.call("GET", "/api/registry/stations/ST-XH")[1] == xh
    assert last_audit(store)[0].status == 422


@pytest.mark.parametrize("role", ["operator", "crew", "viewer"])
def test_only_admins_write_or_list_gateways(api, store, tmp_path, role):
    client = bearer(api, role)
    xh = client.call("GET", "/api/registry/stations/ST-XH")[1]
    for method, path, body in (("PUT", "/api/registry/stations/ST-XH", {**xh, "interval_minutes": 10}),
                               ("DELETE", "/api/registry/stations/ST-XH", None), ("GET", "/api/registry/gateways", None)):
        status, answer, _ = client.call(method, path, body)
        assert status == 403 and f"the {role} role may not do this (needs admin)" in answer["detail"], (method, answer)
    assert (tmp_path / "registry.yaml").read_text(encoding="utf-8") == REGISTRY
    refusals = [e for e in last_audit(store, 10) if e.path.startswith("/api/registry")]
    assert [(e.method, e.status, e.actor) for e in refusals] == [("DELETE", 403, role), ("PUT", 403, role)]


def test_a_region_scoped_admin_writes_only_within_their_regions(api, tmp_path):
    hz = bearer(api, "hz-admin")
    nb = bearer(api, "admin").call("GET", "/api/registry/stations/ST-NB")[1]
    assert hz.call("GET", "/api/registry/stations/ST-NB")[0] == 404
    status, answer, _ = hz.call("PUT", "/api/registry/stations/ST-NB", {**nb, "interval_minutes": 10})
    assert status == 403 and answer["detail"] == "station 'ST-NB' is outside your regions"
    assert hz.call("DELETE", "/api/registry/stations/ST-NB")[0] == 403
    xh = hz.call("GET", "/api/registry/stations/ST-XH")[1]
    status, answer, _ = hz.call("PUT", "/api/registry/stations/ST-XH", {**xh, "region": "zj-nb-hs"})
    assert status == 403 and answer["detail"] == "region 'zj-nb-hs' is outside your regions"
    status, answer, _ = hz.call("PUT", "/api/registry/stations/ST-NEW", {**xh, "id": "ST-NEW", "region": "zj-nb-hs"})
    assert status == 403
    permit = {"id": "P-NB", "holder": "x", "permitted_m3": 1000, "meters": ["ST-XH"]}  # would take P-NB from Ningbo
    status, answer, _ = hz.call("PUT", "/api/registry/stations/ST-XH", {**xh, "permit": permit})
    assert status == 403 and answer["detail"] == "permit meter 'ST-NB' is outside your regions"
    assert (tmp_path / "registry.yaml").read_text(encoding="utf-8") == REGISTRY
    status, answer, _ = hz.call("PUT", "/api/registry/stations/ST-XH", {**xh, "interval_minutes": 10})
    assert status == 200 and answer["interval_minutes"] == 10
    assert [g["id"] for g in hz.call("GET", "/api/registry/gateways")[1]] == ["gw-hz"]


def test_a_cookie_session_needs_its_csrf_header(api, store, tmp_path):
    client = Client(api)
    assert client.login("admin")[0] == 200
    xh = client.call("GET", "/api/registry/stations/ST-XH")[1]
    status, answer, _ = client.call("PUT", "/api/registry/stations/ST-XH", {**xh, "interval_minutes": 10})
    assert status == 403 and "X-CSRF-Token" in answer["detail"]
    assert client.call("DELETE", "/api/registry/stations/ST-XH", headers={"X-CSRF-Token": "forged"})[0] == 403
    assert (tmp_path / "registry.yaml").read_text(encoding="utf-8") == REGISTRY
    assert [(e.method, e.status) for e in last_audit(store, 2)] == [("DELETE", 403), ("PUT", 403)]
    status, answer, _ = client.call("PUT", "/api/registry/stations/ST-XH", {**xh, "interval_minutes": 10},
                                    headers={"X-CSRF-Token": client.csrf})
    assert status == 200 and answer["interval_minutes"] == 10


def test_gateways_are_listed_with_key_states_and_no_secrets(api, tmp_path):
    status, answer, _ = bearer(api, "admin").call("GET", "/api/registry/gateways")
    assert status == 200
    assert answer[0] == {"id": "gw-hz", "stations": ["ST-XH", "ST-BJ"], "keys": [
        {"key_id": "k3", "state": "current", "valid_until": None},
        {"key_id": "k2", "state": "previous", "valid_until": "2999-01-01T00:00:00+08:00"},
        {"key_id": "k1", "state": "expired", "valid_until": "2020-01-01T00:00:00+08:00"},
        {"key_id": "k0", "state": "revoked", "valid_until": None}],
        "payload_keys": [{"key_id": "sm4-2", "state": "current", "valid_until": None},
                         {"key_id": "sm4-1", "state": "retired", "valid_until": None}]}
    assert answer[1]["keys"] == [{"key_id": "n1", "state": "current", "valid_until": None}]
    assert str(tmp_path) not in str(answer) and "pem" not in str(answer)


def test_without_a_registry_file_reads_and_writes_say_so(store, hashes):
    app = create_app(store, ApiConfig(users=[UserEntry(username="admin", password_hash=hashes["argon2"], role="admin")]))
    base, server, thread = serve(app)
    try:
        admin = bearer(base, "admin")
        status, answer, _ = admin.call("GET", "/api/registry")
        assert status == 409 and "set registry_file" in answer["detail"]
        assert admin.call("PUT", "/api/registry/stations/X", {"region": "r"})[0] == 409
        assert admin.call("GET", "/api/registry/gateways")[1] == []
    finally:
        server.should_exit = True
        thread.join(10)

"""Issue 21, item 9 and the region scoping of "Low": users of two regions (杭州 zj-hz and 宁波 zj-nb)
against a running API (uvicorn on loopback, a real store of each back-end, the users, registry and
gateways files as an operator writes them).

- A region admin read other regions' audit rows and the whole notification outbox; a region
  viewer got the whole fleet's counts from /api/summary. Now each sees their regions' only.
- Region users never saw their gateways' security alarms (refused_envelope, chain_gap,
  buffer_full, raised on the gateway's id): now a gateway's alarms reach the users of the regions
  its stations lie in, and only them; a gateway registered through the API is placed at once.
"""

from __future__ import annotations

import json
import os
import time

import pytest
import yaml

from watertel.cloud.api.app import create_app
from watertel.cloud.api.auth import hash_password
from watertel.cloud.config import ApiConfig
from watertel.envelope import Envelope
from watertel.keys import write_key_pair
from watertel.readings import Reading

from tests.support.api import PASSWORD, Client, bearer, serve, write_files
from tests.support.stores import BACK_ENDS, store_on

T = int(time.time() * 1000)


def envelope(store, gateway: str, seq: int, *readings: Reading) -> None:
    store.accept_many([Envelope(gateway, "k1", seq, b"\0" * 32, T, readings, os.urandom(32))], T)


def fill(store) -> dict[str, int]:
    """Readings, refusals, station and gateway alarms and their notifications in both regions;
    the alarm ids by (subject, type)."""
    envelope(store, "gw-hz", 1, Reading("ST-XH", "flow", T - 60_000, 1.0, "m3/h"), Reading("ST-XH", "flow", T, 2.0, "m3/h"))
    envelope(store, "gw-nb", 1, *(Reading("ST-NB", "total", T - i * 60_000, float(i), "m3") for i in range(5)))
    store.quarantine("watertel/gw-nb/up", b"x" * 10, "bad_signature", "seq 2")
    store.quarantine("watertel/gw-nb/up", b"x" * 10, "bad_signature", "seq 3")
    store.quarantine("watertel/gw-hz/up", b"x" * 10, "too_large", "")
    for subject, kind in [("ST-XH", "leak"), ("ST-NB", "leak"), ("gw-hz", "refused_envelope"), ("gw-nb", "chain_gap"),
                          ("gw-nb", "buffer_full")]:
        assert store.raise_alarm(subject, "*" if subject.startswith("gw") else "flow", kind, "red", kind, T)
    assert store.route_history(lambda h, a: [("webhook", f"hook-{a['station']}", json.dumps({"alarm": a["id"]}))], T) == 5
    return {(a["station"], a["type"]): a["id"] for a in store.alarms()}


@pytest.fixture(params=BACK_ENDS)
def api(request, tmp_path):
    """(base URL, alarm ids, tmp_path, store) of a running API over a filled store."""
    write_files(tmp_path, hash_password(PASSWORD))
    users = yaml.safe_load((tmp_path / "users.yaml").read_text())["users"]
    users += [{**users[0], "username": "nb-admin", "role": "admin", "regions": ["zj-nb"]},
              {**users[0], "username": "nb-viewer", "role": "viewer", "regions": ["zj-nb-hs"]}]
    (tmp_path / "users.yaml").write_text(yaml.safe_dump({"users": users}))
    store = store_on(request, tmp_path / "w.db")
    ids = fill(store)
    app = create_app(store, ApiConfig(users_file=tmp_path / "users.yaml"), registry_file=tmp_path / "registry.yaml",
                     gateways_file=tmp_path / "gateways.yaml")
    base, server, thread = serve(app)
    yield base, ids, tmp_path, store
    server.should_exit = True
    thread.join(10)
    store.close()


def get(client: Client, path: str):
    status, body, _ = client.call("GET", path)
    assert status == 200, (path, status, body)
    return body


def test_a_region_admin_reads_only_their_regions_users_audit_rows(api):
    base, *_ = api
    for name in ("admin", "hz-viewer", "nb-viewer", "nb-admin"):
        Client(base).login(name)
    Client(base).login("nobody", "wrong")  # an unknown name: whose region? nobody's
    hz = bearer(base, "hz-admin")
    actors = {row["actor"] for row in get(hz, "/api/audit?limit=1000")}
    assert actors == {"hz-admin", "hz-viewer"}
    assert {row["actor"] for row in get(bearer(base, "admin"), "/api/audit?limit=1000")} >= {
        "admin", "hz-viewer", "nb-viewer", "nb-admin", "nobody", "hz-admin"}
    assert {row["actor"] for row in get(bearer(base, "nb-admin"), "/api/audit?limit=1000")} == {"nb-admin", "nb-viewer"}
    assert get(hz, "/api/audit/verify")["ok"] is True  # the chain's health: no row of anyone's


def test_a_region_admin_sees_their_regions_notifications_only(api):
    base, *_ = api
    hz = {n["address"] for n in get(bearer(base, "hz-admin"), "/api/notifications")}
    assert hz == {"hook-ST-XH", "hook-gw-hz"}
    nb = {n["address"] for n in get(bearer(base, "nb-admin"), "/api/notifications")}
    assert nb == {"hook-ST-NB", "hook-gw-nb"}
    assert len(get(bearer(base, "admin"), "/api/notifications")) == 5


def test_a_region_viewer_gets_their_regions_counts_from_the_summary(api):
    base, *_ = api
    hz = get(bearer(base, "hz-viewer"), "/api/summary")  # 西湖 (zj-hz-xh): ST-XH, and gw-hz reports for it
    assert (hz["envelopes"], hz["readings"], hz["refused"], hz["alarms"]) == (
        1, 2, {"too_large": 1}, {"leak": 1, "refused_envelope": 1})
    nb = get(bearer(base, "nb-viewer"), "/api/summary")
    assert (nb["envelopes"], nb["readings"], nb["refused"], nb["alarms"]) == (
        1, 5, {"bad_signature": 2}, {"leak": 1, "chain_gap": 1, "buffer_full": 1})
    everyone = get(bearer(base, "viewer"), "/api/summary")
    assert (everyone["envelopes"], everyone["readings"], sum(everyone["alarms"].values())) == (2, 7, 5)


def test_region_users_see_their_gateways_security_alarms_and_not_the_others(api):
    base, ids, tmp_path, store = api
    hz, nb = bearer(base, "hz-viewer"), bearer(base, "nb-viewer")
    assert {(a["station"], a["type"]) for a in get(hz, "/api/alarms")} == {("ST-XH", "leak"), ("gw-hz", "refused_envelope")}
    assert {(a["station"], a["type"]) for a in get(nb, "/api/alarms")} == {
        ("ST-NB", "leak"), ("gw-nb", "chain_gap"), ("gw-nb", "buffer_full")}
    assert get(nb, f"/api/alarms/{ids['gw-nb', 'chain_gap']}")["type"] == "chain_gap"
    assert hz.call("GET", f"/api/alarms/{ids['gw-nb', 'chain_gap']}")[0] == 404  # another region's gateway
    assert nb.call("GET", f"/api/alarms/{ids['gw-hz', 'refused_envelope']}/history")[0] == 404
    assert {a["station"] for a in get(hz, "/api/alarms?type=refused_envelope&region=zj-hz")} == {"gw-hz"}

    write_key_pair(tmp_path / "new-keys", "n2")  # a gateway registered now: placed by its stations at once
    admin = bearer(base, "admin")
    status, body, _ = admin.call("POST", "/api/admin/gateways", {
        "id": "gw-nb2", "stations": ["ST-NB"], "key_id": "n2", "public_key_pem": (tmp_path / "new-keys" / "n2.pub.pem").read_text()})
    assert status == 201, body
    assert store.raise_alarm("gw-nb2", "*", "refused_envelope", "red", "bad_signature: seq 1", T)
    assert [a["type"] for a in get(nb, "/api/alarms?station=gw-nb2")] == ["refused_envelope"]
    assert get(hz, "/api/alarms?station=gw-nb2") == []
